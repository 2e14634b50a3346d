// Personal samples: list, add (a drawing, made MNIST-like, or the model's input as it is), the
// image of one, delete.
#include "edgetrain/error.h"
#include "web/http_util.h"
#include "web/inputs.h"
#include "web/routes.h"

namespace edgetrain::web {
namespace {

// Labels in URLs of samples already stored: any folder name the store lists.
constexpr int kMaxStoredLabel = 10000;

nlohmann::json sample_json(const Sample& sample) {
  return {{"label", sample.label},
          {"name", sample.name},
          {"url", "/api/samples/" + std::to_string(sample.label) + "/" + sample.name}};
}

// "/api/samples/<label>/<name>" → the sample, or HttpError 400 for anything else (a path with
// more parts, "..", an encoded slash, a name with a dot).
Sample sample_of_path(const std::string& rest) {
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) throw HttpError(400, "a sample is /api/samples/<label>/<name>");
  try {
    Sample sample{SampleStore::parse_label(rest.substr(0, slash), kMaxStoredLabel),
                  rest.substr(slash + 1)};
    SampleStore::check_name(sample.name);
    return sample;
  } catch (const Error& e) {
    throw HttpError(400, e.what());
  }
}

int label_of(const std::string& text, const ModelSnapshot& model) {
  try {
    return SampleStore::parse_label(text, int(model.output_size()));
  } catch (const Error& e) {
    throw HttpError(400, e.what());
  }
}

}  // namespace

void add_sample_routes(httplib::Server& http, ServerState& state) {
  http.Get("/api/samples", [&state](const httplib::Request&, httplib::Response& res) {
    nlohmann::json list = nlohmann::json::array();
    for (const Sample& sample : state.samples.list()) list.push_back(sample_json(sample));
    send_json(res, {{"folder", state.samples.folder()}, {"samples", list}});
  });

  // A PNG body (?label=L, optional &name=N) is a drawing; a JSON body is {"label": L, "name"?: N}
  // with "drawing": {"width", "height", "pixels"} or "pixels": [the model's input as it is].
  http.Post("/api/samples",
            with_body(kMaxRequestBytes, [&state](const httplib::Request& req,
                                                 httplib::Response& res, const std::string& body) {
              const std::shared_ptr<const ModelSnapshot> model = state.models.current();
              const int field = model->digit_field_size();
              if (field == 0) {
                throw HttpError(400,
                                "samples are images: the model's input is not one square "
                                "gray image");
              }
              std::string label_text, name;
              std::vector<float> input;
              if (is_png(req, body)) {
                label_text = req.get_param_value("label");
                name = req.get_param_value("name");
                input = drawing_input(req, body, *model);
              } else {
                const nlohmann::json request = parse_json_object(body);
                const nlohmann::json label = request.value("label", nlohmann::json());
                label_text = label.is_number_unsigned() ? std::to_string(label.get<uint64_t>())
                             : label.is_string()        ? label.get<std::string>()
                                                        : label.dump();
                if (request.contains("name")) {
                  if (!request["name"].is_string()) throw HttpError(400, "'name' must be text");
                  name = request["name"].get<std::string>();
                }
                input = request.contains("drawing")
                            ? drawing_from_json(request["drawing"], *model)
                            : pixels_from_json(request, "pixels", model->input_size());
              }
              const int label = label_of(label_text, *model);
              if (!name.empty()) {
                try {
                  SampleStore::check_name(name);
                } catch (const Error& e) {
                  throw HttpError(400, e.what());
                }
              }
              const Sample sample = state.samples.add(label, int(model->output_size()),
                                                      GrayImage{field, field, input}, name);
              nlohmann::json answer = sample_json(sample);
              answer["input"] = input;
              send_json(res, answer, 201);
            }));

  http.Get("/api/samples/(.*)", [&state](const httplib::Request& req, httplib::Response& res) {
    const Sample sample = sample_of_path(req.matches[1]);
    res.set_header("Cache-Control", "no-cache");
    res.set_content(state.samples.png(sample.label, sample.name), "image/png");
  });

  http.Delete("/api/samples/(.*)",
              with_body(kMaxRequestBytes, [&state](const httplib::Request& req,
                                                   httplib::Response& res, const std::string&) {
                const Sample sample = sample_of_path(req.matches[1]);
                if (!state.samples.remove(sample.label, sample.name)) {
                  throw HttpError(404,
                                  "no sample " + std::to_string(sample.label) + "/" + sample.name);
                }
                send_json(res, {{"deleted", sample_json(sample)}});
              }));
}

}  // namespace edgetrain::web
