// PNG images as a model input: `edgetrain predict model.mlmodel digit.png`.
#pragma once

#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain::cli {

// Reads a PNG (any kind: libpng converts it, alpha composed onto black) as the model's first input
// and returns its features laid out (C, H, W) and scaled to [0, 1] (pixel / 255) — the layout
// Predictor takes; the network applies an image input's own scaler. An image sized exactly as the
// input is used as it is: gray images feed one-channel inputs, RGB images three-channel ones (in
// BGR order for a BGR image input); a multiArray input of shape [n] takes a gray image of n pixels.
// With `digit` (predict --digit), a one-channel square input (MNIST's 28x28) takes a gray image of
// any size made MNIST-like by mnist_style_digit (edgetrain/image.h): the input a drawing becomes in
// `edgetrain serve`. Throws Error naming the file, its size and what the model takes.
std::vector<float> read_png_input(const std::string& path, const Model& model, bool digit = false);
// The same from a PNG file's bytes (`source_name` names it in errors): `edgetrain serve`'s route.
std::vector<float> png_input(const std::string& png, const std::string& source_name,
                             const Model& model, bool digit = false);

}  // namespace edgetrain::cli
