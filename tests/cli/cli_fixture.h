// Running the `edgetrain` binary in a scratch folder and capturing its exit code and output.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_paths.h"

namespace edgetrain {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code = -1;
  std::string out, err;
  nlohmann::json last_json() const {
    std::istringstream lines(out);
    std::string line, last;
    while (std::getline(lines, line)) {
      if (!line.empty()) last = line;
    }
    return nlohmann::json::parse(last);
  }
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    folder = fs::temp_directory_path() /
             ("edgetrain-cli-" + std::to_string(::getpid()) + "-" + test_name());
    fs::create_directories(folder);
  }
  void TearDown() override { fs::remove_all(folder); }
  std::string path(const std::string& name) const { return (folder / name).string(); }

  // Runs the CLI in `folder` with a clean EDGETRAIN_DATA unless `environment` sets one.
  CliRun run(const std::string& arguments, const std::string& environment = "") const {
    const std::string out = path("stdout.txt"), err = path("stderr.txt");
    const std::string command = "cd '" + folder.string() + "' && env -u EDGETRAIN_DATA " +
                                environment + " '" + test_paths::cli() + "' " + arguments + " >'" +
                                out + "' 2>'" + err + "' </dev/null";
    const int status = std::system(command.c_str());
    CliRun result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = slurp(out);
    result.err = slurp(err);
    return result;
  }
  static std::string slurp(const std::string& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(path(name), std::ios::binary) << content;
    return path(name);
  }
  // Each test its own folder, so tests may run in parallel (ctest -j).
  static std::string test_name() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return info ? std::string(info->test_suite_name()) + "." + info->name() : "test";
  }
  fs::path folder;
};

}  // namespace edgetrain
