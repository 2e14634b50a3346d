#include "web/inputs.h"

#include <cmath>

#include "cli/png_input.h"
#include "edgetrain/error.h"
#include "edgetrain/image.h"
#include "web/http_util.h"

namespace edgetrain::web {
namespace {

// Drawings larger than this many pixels a side are refused before anything is allocated.
constexpr int64_t kMaxDrawingSide = 4096;

void require_drawable(const ModelSnapshot& model) {
  if (model.digit_field_size() == 0) {
    throw HttpError(400,
                    "the model's input is not one square gray image, so drawings cannot "
                    "feed it; send its input values as {\"pixels\": [...]}");
  }
}

}  // namespace

std::vector<float> pixels_from_json(const nlohmann::json& body, const char* key, size_t expected) {
  const auto found = body.find(key);
  if (found == body.end() || !found->is_array()) {
    throw HttpError(400, std::string("'") + key + "' must be an array of " +
                             std::to_string(expected) + " numbers in [0, 1]");
  }
  if (found->size() != expected) {
    throw HttpError(400, std::string("'") + key + "' holds " + std::to_string(found->size()) +
                             " values; the model takes " + std::to_string(expected));
  }
  std::vector<float> pixels(expected);
  for (size_t i = 0; i < expected; ++i) {
    const nlohmann::json& value = (*found)[i];
    const double number = value.is_number() ? value.get<double>() : NAN;
    if (!(number >= 0.0 && number <= 1.0)) {
      throw HttpError(400, std::string("'") + key + "'[" + std::to_string(i) + "] is " +
                               value.dump().substr(0, 32) + ", not a number in [0, 1]");
    }
    pixels[i] = float(number);
  }
  return pixels;
}

std::vector<float> drawing_from_json(const nlohmann::json& drawing, const ModelSnapshot& model) {
  require_drawable(model);
  if (!drawing.is_object())
    throw HttpError(400, "a drawing is {\"width\", \"height\", \"pixels\"}");
  int64_t side[2] = {0, 0};
  const char* names[2] = {"width", "height"};
  for (int i = 0; i < 2; ++i) {
    const auto found = drawing.find(names[i]);
    if (found == drawing.end() || !found->is_number_integer() || found->get<int64_t>() < 1 ||
        found->get<int64_t>() > kMaxDrawingSide) {
      throw HttpError(400, std::string("the drawing's '") + names[i] +
                               "' must be a whole number from 1 to " +
                               std::to_string(kMaxDrawingSide));
    }
    side[i] = found->get<int64_t>();
  }
  GrayImage image{int(side[0]), int(side[1]),
                  pixels_from_json(drawing, "pixels", size_t(side[0] * side[1]))};
  return mnist_style_digit(image, model.digit_field_size()).pixels;
}

std::vector<float> model_input(const httplib::Request& req, const std::string& body,
                               const ModelSnapshot& model) {
  if (is_png(req, body)) {
    const bool digit = req.get_param_value("digit") == "1";
    return cli::png_input(body, "the PNG image", model.model(), digit);
  }
  return pixels_from_json(parse_json_object(body), "pixels", model.input_size());
}

std::vector<float> drawing_input(const httplib::Request& req, const std::string& body,
                                 const ModelSnapshot& model) {
  require_drawable(model);
  if (is_png(req, body)) return cli::png_input(body, "the drawing", model.model(), true);
  return drawing_from_json(parse_json_object(body), model);
}

nlohmann::json prediction_json(const ModelSnapshot& model, const Prediction& prediction) {
  return {{"label", class_label_json(model.model(), size_t(prediction.label))},
          {"class_index", prediction.label},
          {"probabilities", prediction.probabilities},
          {"model_version", model.version()}};
}

}  // namespace edgetrain::web
