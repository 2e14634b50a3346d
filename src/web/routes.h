// The API's routes, registered on the server by concern. Each handler answers JSON; errors are
// thrown (HttpError, edgetrain::Error) and answered by the server's exception handler.
#pragma once

#include <httplib.h>

#include "web/server.h"

namespace edgetrain::web {

// /api/predict, /api/predict/drawing, /api/model (download, upload), /api/model/info, /save.
void add_model_routes(httplib::Server& http, ServerState& state);
// /api/train/start, /stop, /status, /events and /api/personalise.
void add_training_routes(httplib::Server& http, ServerState& state);
// /api/samples: list, add, image, delete.
void add_sample_routes(httplib::Server& http, ServerState& state);

}  // namespace edgetrain::web
