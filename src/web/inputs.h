// Model inputs from request bodies: 784 pixel values as JSON, a drawing of any size (as JSON or a
// PNG) made MNIST-like by mnist_style_digit, or a PNG by `edgetrain predict`'s own rule. Bad input
// throws HttpError 400 naming the field and the value.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "web/model_host.h"

namespace edgetrain::web {

// body[key]: an array of exactly `expected` numbers in [0, 1].
std::vector<float> pixels_from_json(const nlohmann::json& body, const char* key, size_t expected);
// {"width": W, "height": H, "pixels": [W*H numbers in [0, 1], row-major]} made MNIST-like for the
// model (ink bright, or dark on a bright background: see mnist_style_digit).
std::vector<float> drawing_from_json(const nlohmann::json& drawing, const ModelSnapshot& model);

// POST /api/predict: {"pixels": [...]} (the model's input as it is), or a PNG: used as it is when
// sized as the input, made MNIST-like with ?digit=1 (predict --digit).
std::vector<float> model_input(const httplib::Request& req, const std::string& body,
                               const ModelSnapshot& model);
// POST /api/predict/drawing: a drawing as JSON (drawing_from_json) or a PNG of any size, made
// MNIST-like exactly as `edgetrain predict --digit` makes a PNG.
std::vector<float> drawing_input(const httplib::Request& req, const std::string& body,
                                 const ModelSnapshot& model);

// {"label": ..., "class_index": k, "probabilities": [...], "model_version": v}
nlohmann::json prediction_json(const ModelSnapshot& model, const Prediction& prediction);

}  // namespace edgetrain::web
