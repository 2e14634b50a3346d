// The page's files (web/static/ and the chart library npm installs), embedded into the binary at
// build time by cmake/embed_assets.cmake, so the server needs neither the source tree nor the
// internet at run time.
#pragma once

#include <string_view>
#include <vector>

namespace edgetrain::web {

struct Asset {
  std::string_view path;          // "/index.html", "/vendor/uPlot.iife.min.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view bytes;
};

// Generated into the build folder (web_assets.cpp).
const std::vector<Asset>& embedded_assets();
// nullptr when there is no such file; "/" is "/index.html".
const Asset* find_asset(std::string_view path);

}  // namespace edgetrain::web
