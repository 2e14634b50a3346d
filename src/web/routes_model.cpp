// Predictions and the model itself: info, download, upload, save.
#include <filesystem>

#include "edgetrain/coreml.h"
#include "edgetrain/error.h"
#include "edgetrain/io.h"
#include "web/http_util.h"
#include "web/inputs.h"
#include "web/routes.h"

namespace edgetrain::web {
namespace {

// A file name for the download: the model file's, else "edgetrain-model.mlmodel".
std::string download_name(const ServerState& state) {
  const std::filesystem::path file(state.model_file);
  const std::string stem = file.stem().string();
  const bool plain = !stem.empty() && stem.find_first_of("\"\\\r\n;") == std::string::npos;
  return (plain ? stem : std::string("edgetrain-model")) + ".mlmodel";
}

// An uploaded .mlmodel, or its JSON text form (what `edgetrain convert` writes).
Model parse_upload(const std::string& body, const std::string& name) {
  try {
    const size_t start = body.find_first_not_of(" \t\r\n");
    if (start != std::string::npos && body[start] == '{') {
      return parse_mlmodel(json_to_mlmodel(body, name), name);
    }
    return parse_mlmodel(body, name);
  } catch (const Error& e) {
    throw HttpError(400, std::string("the uploaded model cannot be used: ") + e.what());
  }
}

nlohmann::json info_json(ServerState& state) {
  nlohmann::json info = model_info(*state.models.current());
  info["model_file"] = state.model_file;
  info["model_file_exists"] = std::filesystem::exists(state.model_file);
  info["dataset"] = state.data.name();
  info["samples_dir"] = state.samples.folder();
  info["training"] = state.trainer.running();
  return info;
}

}  // namespace

void add_model_routes(httplib::Server& http, ServerState& state) {
  http.Post("/api/predict",
            with_body(kMaxRequestBytes, [&state](const httplib::Request& req,
                                                 httplib::Response& res, const std::string& body) {
              const std::shared_ptr<const ModelSnapshot> model = state.models.current();
              const std::vector<float> input = model_input(req, body, *model);
              send_json(res, prediction_json(*model, model->predict(input)));
            }));

  http.Post("/api/predict/drawing",
            with_body(kMaxRequestBytes, [&state](const httplib::Request& req,
                                                 httplib::Response& res, const std::string& body) {
              const std::shared_ptr<const ModelSnapshot> model = state.models.current();
              const std::vector<float> input = drawing_input(req, body, *model);
              nlohmann::json answer = prediction_json(*model, model->predict(input));
              answer["input"] = input;  // the 28x28 image the model saw
              send_json(res, answer);
            }));

  http.Get("/api/model/info", [&state](const httplib::Request&, httplib::Response& res) {
    send_json(res, info_json(state));
  });

  http.Get("/api/model", [&state](const httplib::Request&, httplib::Response& res) {
    const std::shared_ptr<const ModelSnapshot> model = state.models.current();
    res.set_header("Content-Disposition", "attachment; filename=\"" + download_name(state) + "\"");
    res.set_header("X-Model-Version", std::to_string(model->version()));
    res.set_content(serialize_mlmodel(model->model()), "application/octet-stream");
  });

  http.Post("/api/model",
            with_body(kMaxModelBytes, [&state](const httplib::Request& req, httplib::Response& res,
                                               const std::string& body) {
              std::string name = req.get_param_value("name");
              if (name.empty() || name.size() > 200) name = "uploaded model";
              Model model = parse_upload(body, name);
              state.trainer.while_idle([&] {
                try {
                  state.models.publish(model, name);
                } catch (const Error& e) {
                  throw HttpError(400, std::string("the uploaded model cannot run: ") + e.what());
                }
              });
              state.events.publish(
                  "model", {{"version", state.models.current()->version()}, {"description", name}});
              send_json(res, info_json(state));
            }));

  http.Post("/api/model/save",
            with_body(kMaxRequestBytes, [&state](const httplib::Request&, httplib::Response& res,
                                                 const std::string&) {
              const std::shared_ptr<const ModelSnapshot> model = state.models.current();
              std::lock_guard<std::mutex> lock(state.save_mutex);
              const std::filesystem::path file(state.model_file);
              std::error_code error;
              if (file.has_parent_path())
                std::filesystem::create_directories(file.parent_path(), error);
              save_model(model->model(),
                         state.model_file);  // atomic: temporary file, fsync, rename
              send_json(res, {{"path", state.model_file}, {"version", model->version()}});
            }));
}

}  // namespace edgetrain::web
