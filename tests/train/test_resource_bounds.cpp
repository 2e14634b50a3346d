// Resource bounds of the library: a mini-batch larger than the data is clamped, thread counts
// beyond the hardware are capped (both reported in TrainingBegan), a run whose buffers cannot fit
// in memory is refused before anything is allocated, naming the bytes it needs, and range errors
// read like a person wrote them.
//
// The runs that would exhaust memory if a bound failed run in a forked child whose address space
// may grow by only 1 GB (RLIMIT_AS): a regression fails there, cleanly, instead of swapping the
// machine, and the child reports what happened through a pipe.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <new>
#include <thread>

#include "base/machine.h"
#include "base/thread_pool.h"
#include "coreml/small_models.h"
#include "edgetrain/error.h"
#include "edgetrain/inference.h"
#include "edgetrain/train.h"
#include "nn/network.h"
#include "test_paths.h"
#include "train/memory_test_util.h"

namespace edgetrain {
namespace {

constexpr double kBudget = 1e9;  // bytes a child may map beyond what it maps at the start

const Dataset& mnist_train() {
  static const Dataset data = read_idx(test_paths::mnist("train-images-idx3-ubyte.gz"),
                                       test_paths::mnist("train-labels-idx1-ubyte.gz"));
  return data;
}
Dataset first(size_t n) {
  Dataset data = mnist_train();
  data.truncate(n);
  return data;
}

int hardware() { return int(std::max(1u, std::thread::hardware_concurrency())); }

// What a child reports: how `body` ended and the text it returned or the error's message.
struct ChildOutcome {
  enum Ending { kReturned, kError, kOutOfMemory, kOther, kCrashed } ending = kCrashed;
  std::string text;
};
const char* ending_name(ChildOutcome::Ending ending) {
  static constexpr const char* kNames[] = {"returned", "threw Error", "ran out of memory",
                                           "threw something else", "crashed"};
  return kNames[ending];
}

// Runs `body` in a forked child whose address space may grow by kBudget bytes at most.
ChildOutcome run_with_memory_budget(const std::function<std::string()>& body) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::ifstream statm("/proc/self/statm");
    double mapped_pages = 0;
    statm >> mapped_pages;
    const rlim_t limit = rlim_t(mapped_pages * double(sysconf(_SC_PAGESIZE)) + kBudget);
    const rlimit address_space{limit, limit};
    ChildOutcome::Ending ending = ChildOutcome::kOther;
    std::string text = "setrlimit failed";
    if (setrlimit(RLIMIT_AS, &address_space) == 0) {
      try {
        text = body();
        ending = ChildOutcome::kReturned;
      } catch (const Error& e) {
        ending = ChildOutcome::kError;
        text = e.what();
      } catch (const std::bad_alloc&) {
        ending = ChildOutcome::kOutOfMemory;
        text = "std::bad_alloc";
      } catch (const std::exception& e) {
        text = e.what();
      }
    }
    const std::string message = char('0' + ending) + text;
    ssize_t written = write(fds[1], message.data(), message.size());
    (void)written;
    _exit(0);  // no atexit handlers, no leak report
  }
  close(fds[1]);
  std::string message;
  char buffer[4096];
  for (ssize_t got; (got = read(fds[0], buffer, sizeof buffer)) > 0;) message.append(buffer, got);
  close(fds[0]);
  waitpid(pid, nullptr, 0);
  ChildOutcome outcome;
  if (!message.empty()) {
    outcome.ending = ChildOutcome::Ending(message[0] - '0');
    outcome.text = message.substr(1);
  }
  return outcome;
}

// Samples of any size that take no memory: zero features, label 0.
struct BlankData : BatchProvider {
  size_t samples, size;
  BlankData(size_t samples, size_t size) : samples(samples), size(size) {}
  size_t count() const override { return samples; }
  size_t feature_size() const override { return size; }
  void copy_features(size_t, float* dst) const override { std::fill(dst, dst + size, 0.0f); }
  int32_t label(size_t) const override { return 0; }
};

TEST(ResourceBounds, WorkspaceBytesAreWhatMakeWorkspaceAllocates) {
  const Model lenet_model = lenet(), small = small_model(), scaled = small_model(true);
  const Model wide = wide_model(3, 9);
  for (const Model* model : {&lenet_model, &small, &scaled, &wide}) {
    for (bool fuse : {true, false}) {
      for (bool with_gradients : {true, false}) {
        const Network network(*model, {.fuse = fuse, .train = with_gradients});
        const Network::WorkspaceBytes counted = network.workspace_bytes(with_gradients);
        for (int capacity : {1, 2, 7}) {
          EXPECT_EQ(counted.fixed + size_t(capacity) * counted.per_sample,
                    network.make_workspace(capacity).allocated_bytes())
              << model->metadata.short_description << " fuse " << fuse << " gradients "
              << with_gradients << " capacity " << capacity;
        }
      }
    }
  }
}

TEST(ResourceBounds, BatchLargerThanTheDataIsClampedAndTrainsTheSame) {
  const Dataset data = first(100);
  // Unclamped, the two workspaces of 50,000 samples would not fit in the child's budget.
  const Network::WorkspaceBytes lenet_bytes = Network(lenet()).workspace_bytes();
  ASSERT_GT(double(lenet_bytes.per_sample) * 50000, kBudget);

  Model whole_data = lenet({.batch_size = 100, .epochs = 2});
  UpdateTask(whole_data, data, {.seed = 3, .threads = 2}).run();
  const ChildOutcome outcome = run_with_memory_budget([&] {
    Model model = lenet({.batch_size = 100000, .epochs = 2});
    UpdateTask task(model, data, {.seed = 3, .threads = 2});
    TrainingBegan began;
    task.handlers.training_began = [&](UpdateTask&, const TrainingBegan& b) { began = b; };
    task.run();
    return "batch " + std::to_string(began.settings.batch_size) + " requested " +
           std::to_string(began.settings.requested_batch_size) + " batches " +
           std::to_string(began.batches_per_epoch) + " memory " + byte_text(began.memory_bytes) +
           (model.parameters == whole_data.parameters ? " identical" : " different");
  });
  ASSERT_EQ(outcome.ending, ChildOutcome::kReturned) << ending_name(outcome.ending) << ": "
                                                     << outcome.text;
  EXPECT_EQ(outcome.text.find("batch 100 requested 100000 batches 1 memory "), 0u) << outcome.text;
  EXPECT_NE(outcome.text.find(" identical"), std::string::npos) << outcome.text;

  // resolve_update clamps only when it knows the data.
  const Model model = lenet({.batch_size = 100000});
  EXPECT_EQ(resolve_update(model, {}).batch_size, 100000);
  EXPECT_EQ(resolve_update(model, {}, 60000).batch_size, 60000);
  EXPECT_EQ(resolve_update(model, {}, 60000).requested_batch_size, 100000);
}

TEST(ResourceBounds, ThreadsBeyondTheHardwareAreCappedAndTrainTheSame) {
  const Dataset data = first(200);
  Model at_hardware = lenet({.batch_size = 50, .epochs = 1});
  UpdateTask(at_hardware, data, {.seed = 5, .threads = hardware()}).run();
  const Evaluation evaluated = evaluate(at_hardware, data, hardware());
  // A thousand threads would reserve 8 GB of stacks: beyond the child's budget.
  const ChildOutcome outcome = run_with_memory_budget([&] {
    Model model = lenet({.batch_size = 50, .epochs = 1});
    UpdateTask task(model, data, {.seed = 5, .threads = 1000});
    int threads = 0, requested = 0;
    task.handlers.training_began = [&](UpdateTask&, const TrainingBegan& b) {
      threads = b.settings.threads;
      requested = b.settings.requested_threads;
    };
    task.run();
    const Evaluation capped = evaluate(model, data, 1000);
    return "threads " + std::to_string(threads) + " requested " + std::to_string(requested) +
           (model.parameters == at_hardware.parameters ? " identical" : " different") +
           (capped.loss == evaluated.loss ? " same-loss" : " other-loss");
  });
  ASSERT_EQ(outcome.ending, ChildOutcome::kReturned) << ending_name(outcome.ending) << ": "
                                                     << outcome.text;
  EXPECT_EQ(outcome.text, "threads " + std::to_string(hardware()) +
                              " requested 1000 identical same-loss");
  EXPECT_EQ(effective_threads(0), hardware());
  EXPECT_EQ(effective_threads(1), 1);
  EXPECT_EQ(effective_threads(hardware() + 1), hardware());
}

TEST(ResourceBounds, AThreadPoolThatCannotStartItsThreadsSaysSo) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's runtime dies when it cannot map a new thread's shadow";
#endif
  // 100,000 threads' stacks do not fit in the child's 1 GB: the pool stops those it started and
  // throws, instead of leaving them waiting forever.
  const ChildOutcome outcome = run_with_memory_budget([] {
    ThreadPool pool(100000);
    return std::string("started");
  });
  ASSERT_EQ(outcome.ending, ChildOutcome::kError)
      << ending_name(outcome.ending) << ": " << outcome.text;
  EXPECT_NE(outcome.text.find("cannot start thread "), std::string::npos) << outcome.text;
  EXPECT_NE(outcome.text.find(" of 100000: "), std::string::npos) << outcome.text;
}

// A refusal of `what` whose limit is described by `where`, with both figures in decimal units.
void expect_refusal(const std::string& message, const std::string& what, const std::string& where) {
  const Refusal refusal = parse_refusal(message);
  EXPECT_EQ(refusal.what.find(what), 0u) << message;
  for (const std::string& figure : {refusal.needed, refusal.available}) {
    EXPECT_TRUE(figure.find_first_not_of("0123456789.") != std::string::npos &&
                figure.find_first_of("0123456789") == 0)
        << "figure '" << figure << "' in: " << message;
  }
  EXPECT_EQ(refusal.where.find(where), 0u) << message;
}

TEST(ResourceBounds, RunsThatCannotFitAreRefusedBeforeAllocating) {
  // 16 planes of 4096x4096 (the most a blob may hold): 1.07 GB a sample for the convolution's
  // output, as much again for its gradient. A mini-batch of 2^20 asks for 2.3 PB: more than any
  // machine has, so this runs without a limit too, and nothing may be allocated before the refusal.
  Model wide = wide_model(16, 4096);
  const BlankData blank(size_t(1) << 20, size_t(4096) * 4096);
  try {
    UpdateTask(wide, blank, {.batch_size = 1 << 20, .threads = 1}).run();
    FAIL() << "training needing 2.3 PB was not refused";
  } catch (const Error& e) {
    // (The image and the pooled planes add 0.07 GB a sample.)
    const Refusal refusal = parse_refusal(e.what());
    EXPECT_EQ(refusal.what,
              "training with mini-batches of 1048576 on 1 thread (1048576 samples "
              "per thread, 2.21 GB each)")
        << e.what();
    EXPECT_EQ(refusal.needed, "2.32 PB") << e.what();
    EXPECT_EQ(refusal.where, "in physical memory") << e.what();
    EXPECT_EQ(refusal.hint, "use a smaller mini-batch size or fewer threads") << e.what();
  }

  // In the child, 1 GB is all there is: evaluation (64 samples a thread) and even one prediction
  // (1.07 GB and the convolution's 0.6 GB of scratch) are refused, naming the limit.
  for (const char* what : {"training", "evaluating", "predicting"}) {
    const ChildOutcome outcome = run_with_memory_budget([&]() -> std::string {
      if (what[0] == 't') UpdateTask(wide, blank, {.batch_size = 2, .threads = 1}).run();
      if (what[0] == 'e') evaluate(wide, blank, 1);
      if (what[0] == 'p') Predictor predictor(wide);
      return "no refusal";
    });
    ASSERT_EQ(outcome.ending, ChildOutcome::kError) << what << " " << ending_name(outcome.ending)
                                                    << ": " << outcome.text;
    expect_refusal(outcome.text, what, "under the address-space limit of ");
    EXPECT_NE(outcome.text.find("(RLIMIT_AS, ulimit -v)"), std::string::npos) << outcome.text;
  }
}

TEST(ResourceBounds, RangeErrorsReadLikeAPersonWroteThem) {
  const Model model = lenet();
  auto error_of = [](const Model& m, const UpdateConfig& config) -> std::string {
    try {
      resolve_update(m, config);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error_of(model, {.epochs = 0}), "epochs must be at least 1, got 0");
  EXPECT_EQ(error_of(model, {.batch_size = 0}), "the mini-batch size must be at least 1, got 0");
  EXPECT_EQ(error_of(model, {.learning_rate = -1}),
            "the learning rate must be a positive number, got -1");
  EXPECT_EQ(error_of(model, {.learning_rate = std::numeric_limits<double>::quiet_NaN()}),
            "the learning rate must be a positive number, got nan");
  EXPECT_EQ(error_of(model, {.learning_rate = 5}),
            "learning rate 5 is outside the model's allowed range [0, 0.3]");
  EXPECT_EQ(error_of(model, {.beta1 = 1}), "Adam's beta1 must be at least 0 and less than 1, got 1");

  // Open ends of a range read as words, not as the type's largest value.
  Model open = small_model();
  open.update->epochs.range = std::array<int64_t, 2>{5, std::numeric_limits<int64_t>::max()};
  std::get<Adam>(open.update->optimizer).learning_rate.range =
      std::array<double, 2>{0.01, std::numeric_limits<double>::max()};
  EXPECT_EQ(error_of(open, {.epochs = 2}),
            "epochs 2 is outside the model's allowed range [5, no upper limit]");
  EXPECT_EQ(error_of(open, {.learning_rate = 0.001}),
            "learning rate 0.001 is outside the model's allowed range [0.01, no upper limit]");
  open.update->epochs.range = std::array<int64_t, 2>{std::numeric_limits<int64_t>::min(), 3};
  EXPECT_EQ(error_of(open, {.epochs = 4}),
            "epochs 4 is outside the model's allowed range [no lower limit, 3]");

  EXPECT_EQ(byte_text(512), "512 bytes");
  EXPECT_EQ(byte_text(41.2e6), "41.2 MB");
  EXPECT_EQ(byte_text(8.8e12), "8.8 TB");
  EXPECT_EQ(byte_text(999.7e6), "1 GB");
}

}  // namespace
}  // namespace edgetrain
