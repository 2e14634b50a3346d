// PNG images as a model input: `edgetrain predict model.mlmodel digit.png`.
#pragma once

#include <string>
#include <vector>

#include "edgetrain/model.h"

namespace edgetrain::cli {

// Reads an 8-bit PNG (gray or RGB; other PNG kinds are converted by libpng, alpha composed onto
// black) sized exactly as the model's first input, and returns its features laid out (C, H, W) and
// scaled to [0, 1] (pixel / 255) — the layout Predictor takes; the network applies an image input's
// own scaler. Gray images feed one-channel inputs, RGB images three-channel ones (in BGR order for
// a BGR image input); a multiArray input of shape [n] takes a gray image of n pixels. Throws Error
// naming the file, its size and what the model takes.
std::vector<float> read_png_input(const std::string& path, const Model& model);

}  // namespace edgetrain::cli
