// Environment faults when writing results: a full disk (a file-size limit), a folder that does not
// exist, a target that cannot be written. Each gets a clear error, and the previous file survives.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli_fixture.h"
#include "edgetrain/error.h"
#include "edgetrain/io.h"
#include "base/atomic_file.h"

namespace edgetrain {
namespace {

namespace fs = std::filesystem;

class EnvironmentFaults : public Cli {};

TEST_F(EnvironmentFaults, DiskFullKeepsThePreviousModel) {
  const std::string model_path = path("model.mlmodel");
  save_model(lenet({.seed = 1}), model_path);
  const std::string before = read_whole_file(model_path);
  // In a child: a 64 KiB file-size limit makes the 2.3 MB write fail (EFBIG), as a full disk would.
  const pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {64 << 10, 64 << 10};
    setrlimit(RLIMIT_FSIZE, &limit);
    try {
      save_model(lenet({.seed = 2}), model_path);
    } catch (const Error& e) {
      const std::string message = e.what();
      _exit(message.find("model.mlmodel") != std::string::npos &&
                    message.find("cannot write") != std::string::npos
                ? 0
                : 2);
    }
    _exit(1);  // no error: the limit was not hit
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: no error raised, 2: the message did not name the file";
  EXPECT_EQ(read_whole_file(model_path), before) << "the previous model must be untouched";
  for (const auto& entry : fs::directory_iterator(folder)) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST_F(EnvironmentFaults, UnwritableTargetsAreReportedBeforeTraining) {
  fs::create_directories(path("a-folder"));
  std::ofstream(path("a-file")) << "x";
  EXPECT_THROW(check_writable(path("a-folder")), Error);
  EXPECT_THROW(check_writable(path("a-file/model.mlmodel")), Error);  // a file where a folder is
  EXPECT_THROW(check_writable("/proc/edgetrain-model.mlmodel"), Error);
  EXPECT_NO_THROW(check_writable(path("fine.mlmodel")));
  EXPECT_FALSE(fs::exists(path("fine.mlmodel"))) << "the check leaves nothing behind";

  // The CLI stops before loading data or training: no dataset is even needed to see the error.
  const CliRun missing = run("train --dataset nowhere --output no/such/folder/model.mlmodel");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  const CliRun proc = run("train --dataset nowhere --checkpoint /proc/run.ckpt");
  EXPECT_EQ(proc.exit_code, 1);
  EXPECT_NE(proc.err.find("/proc/run.ckpt: cannot write"), std::string::npos) << proc.err;
}

}  // namespace
}  // namespace edgetrain
