// `edgetrain serve`: starts the web app and serves until Ctrl-C or SIGTERM, then stops cleanly.
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cli/commands.h"
#include "web/server.h"

namespace edgetrain::cli {

int run_serve(const ServeOptions& options) {
  // SIGINT and SIGTERM are taken by sigwait below: blocked before any thread starts, so no other
  // thread is interrupted by them (threads inherit the mask).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  web::ServerOptions server_options;
  server_options.host = options.host;
  server_options.port = options.port;
  server_options.token = options.token;
  server_options.model = options.model;
  server_options.data = options.data;
  server_options.samples_dir = options.samples_dir;
  server_options.train_limit = options.limit;
  server_options.test_limit = options.test_limit;
  server_options.trainer.threads = options.threads;
  web::Server server(server_options);
  server.start();

  const web::ServerState& state = server.state();
  std::printf("edgetrain serve: serving on %s\n", server.url().c_str());
  std::string model = state.models.current()->description();
  if (options.model.empty() && !std::filesystem::exists(state.model_file)) {
    model += " (no " + state.model_file +
             ": train it on the page and save it there, or run "
             "`edgetrain train --output " +
             state.model_file + "`)";
  }
  std::printf("model: %s\n", model.c_str());
  std::printf("data: %s (read when training starts); samples in %s\n", state.data.name().c_str(),
              state.samples.folder().c_str());
  if (!state.options.token.empty()) {
    std::printf("token: %s (every API call needs it: ?token= or Authorization: Bearer)\n",
                state.options.token.c_str());
  }
  std::printf("Ctrl-C stops it\n");
  std::fflush(stdout);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  std::printf("edgetrain serve: %s: stopping\n", strsignal(signal));
  std::fflush(stdout);
  server.stop();
  std::printf("edgetrain serve: stopped\n");
  return 0;
}

}  // namespace edgetrain::cli
