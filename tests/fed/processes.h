// Child processes for the federated tests: the CLI's fed-server and fed-clients and Python peers,
// each with its output collected line by line, so a test can act when a process says something
// ("received FitIns", "round 2/3:") instead of after a sleep.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_paths.h"

namespace edgetrain::test_fed {

// Waits are bounded only as a safety net: a broken build must fail, not hang CI.
inline constexpr std::chrono::seconds kSafetyNet{300};

// Whether `line` holds `pattern`, where each '*' in the pattern stands for any run of characters.
inline bool matches(const std::string& line, const std::string& pattern) {
  size_t at = 0, start = 0;
  while (true) {
    const size_t star = pattern.find('*', start);
    const std::string part =
        pattern.substr(start, star == std::string::npos ? std::string::npos : star - start);
    const size_t found = line.find(part, at);
    if (found == std::string::npos) return false;
    if (star == std::string::npos) return true;
    at = found + part.size();
    start = star + 1;
  }
}

// The whole number right after `prefix` in `line`; -1 when there is none.
inline long number_after(const std::string& line, const std::string& prefix) {
  const size_t at = line.find(prefix);
  if (at == std::string::npos) return -1;
  const size_t begin = at + prefix.size();
  size_t end = begin;
  while (end < line.size() && line[end] >= '0' && line[end] <= '9') ++end;
  return end > begin ? std::stol(line.substr(begin, end - begin)) : -1;
}

class Process {
 public:
  // Starts `arguments` (argv[0] a path) with stdout and stderr merged into one pipe.
  explicit Process(std::vector<std::string> arguments, std::string name,
                   std::vector<std::string> environment = {})
      : name_(std::move(name)) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      for (std::string& variable : environment) putenv(variable.data());
      std::vector<char*> argv;
      for (std::string& argument : arguments) argv.push_back(argument.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] { read_lines(fd); });
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (reader_.joinable()) reader_.join();
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The first line (after `from`, counting lines) matching `pattern` (see matches()); fails the
  // test and returns "" when the process ends first (or the safety net runs out).
  std::string wait_for(const std::string& pattern, size_t from = 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    const auto found = [&](std::string* match) {
      for (size_t i = from; i < lines_.size(); ++i) {
        if (matches(lines_[i], pattern)) {
          if (match) *match = lines_[i];
          return true;
        }
      }
      return false;
    };
    std::string match;
    const bool ok = changed_.wait_for(lock, kSafetyNet, [&] { return found(&match) || closed_; });
    if (!ok || !found(&match)) {
      ADD_FAILURE() << name_ << " never printed /" << pattern << "/; its output:\n"
                    << text_locked();
      return "";
    }
    return match;
  }
  size_t line_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_.size();
  }
  bool printed(const std::string& pattern) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& line : lines_) {
      if (matches(line, pattern)) return true;
    }
    return false;
  }
  std::string output() {
    std::lock_guard<std::mutex> lock(mutex_);
    return text_locked();
  }
  void kill(int signal = SIGKILL) { ::kill(pid_, signal); }
  // The exit code, or -signal. Waits (the safety net kills a process that outlives it).
  int wait() {
    if (exited_) return status_;
    int status = 0;
    const auto limit = std::chrono::steady_clock::now() + kSafetyNet;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > limit) {
        ADD_FAILURE() << name_ << " did not exit; killing it. Its output:\n" << output();
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    exited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    if (reader_.joinable()) reader_.join();
    return status_;
  }

 private:
  void read_lines(int fd) {
    std::string pending;
    char buffer[4096];
    while (true) {
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n <= 0) break;
      std::lock_guard<std::mutex> lock(mutex_);
      pending.append(buffer, size_t(n));
      for (size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
        lines_.push_back(pending.substr(0, newline));
        pending.erase(0, newline + 1);
      }
      changed_.notify_all();
    }
    close(fd);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!pending.empty()) lines_.push_back(pending);
    closed_ = true;
    changed_.notify_all();
  }
  std::string text_locked() const {
    std::string text;
    for (const std::string& line : lines_) text += "  | " + line + "\n";
    return text;
  }

  std::string name_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  bool closed_ = false;
};

// A scratch folder per test.
class FedFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    folder = std::filesystem::temp_directory_path() /
             ("edgetrain-fed-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "." +
              info->name());
    std::filesystem::remove_all(folder);
    std::filesystem::create_directories(folder);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(folder);
  }
  std::string path(const std::string& name) const { return (folder / name).string(); }
  std::filesystem::path folder;
};

}  // namespace edgetrain::test_fed
