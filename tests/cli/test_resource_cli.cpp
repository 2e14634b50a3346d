// Resource bounds from the command line: a mini-batch larger than the data is clamped and a
// thread count beyond the hardware capped, each with a note and with the same weights as asking
// for the clamped value; a run that cannot fit in memory is refused before allocating, naming the
// bytes; every range error reads like a person wrote it.
//
// The runs that would exhaust memory if a bound failed run under `prlimit --as` (1 GB of address
// space), so a regression fails cleanly instead of swapping the machine. Sanitized builds reserve
// terabytes of address space at start and cannot run under such a limit: there they run without
// it, and only the refusal of a request larger than any machine's memory is checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "cli/cli_fixture.h"
#include "edgetrain/io.h"
#include "edgetrain/model.h"
#include "test_paths.h"
#include "train/memory_test_util.h"

namespace edgetrain {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The command prefix that caps the CLI's address space (empty in sanitized builds).
std::string address_space_limit(const std::string& bytes) {
  return kSanitized ? "" : "/usr/bin/prlimit --as=" + bytes;
}

int hardware() { return int(std::max(1u, std::thread::hardware_concurrency())); }

class ResourceCli : public Cli {
 protected:
  std::string mnist_args() const { return "--dataset '" + test_paths::mnist_dir() + "' "; }
  std::vector<float> weights(const std::string& file) const {
    return load_model(path(file)).parameters;
  }
};

TEST_F(ResourceCli, BatchLargerThanTheDataIsClampedWithANote) {
  const std::string common = "train " + mnist_args() + "--limit 100 --epochs 2 --seed 3 --json ";
  // Unclamped, two workspaces of 50,000 LeNet samples (66 kB each) would need 6.6 GB.
  CliRun big = run(common + "--batch-size 100000 --output big.mlmodel", address_space_limit("1000000000"));
  ASSERT_EQ(big.exit_code, 0) << big.err;
  EXPECT_NE(big.err.find("edgetrain: note: a mini-batch of 100000 is more than the 100 training "
                         "images; using mini-batches of 100"),
            std::string::npos)
      << big.err;
  EXPECT_EQ(big.last_json()["batch_size"], 100);
  CliRun exact = run(common + "--batch-size 100 --output exact.mlmodel");
  ASSERT_EQ(exact.exit_code, 0) << exact.err;
  EXPECT_EQ(exact.err.find("note:"), std::string::npos) << exact.err;
  EXPECT_EQ(weights("big.mlmodel"), weights("exact.mlmodel"));
}

TEST_F(ResourceCli, ThreadsBeyondTheHardwareAreCappedWithANote) {
  const std::string common =
      "train " + mnist_args() + "--limit 200 --epochs 1 --batch-size 50 --seed 4 --json ";
  // A thousand threads would reserve 8 GB of stacks and a thousand workspaces.
  CliRun many = run(common + "--threads 1000 --output many.mlmodel", address_space_limit("1000000000"));
  ASSERT_EQ(many.exit_code, 0) << many.err;
  EXPECT_NE(many.err.find("edgetrain: note: --threads 1000 is more than the " +
                          std::to_string(hardware()) + " threads this machine runs at once; using " +
                          std::to_string(hardware())),
            std::string::npos)
      << many.err;
  EXPECT_EQ(many.last_json()["threads"], hardware());
  CliRun exact =
      run(common + "--threads " + std::to_string(hardware()) + " --output exact.mlmodel");
  ASSERT_EQ(exact.exit_code, 0) << exact.err;
  EXPECT_EQ(weights("many.mlmodel"), weights("exact.mlmodel"));
  EXPECT_DOUBLE_EQ(many.last_json()["test_loss"].get<double>(),
                   exact.last_json()["test_loss"].get<double>());

  CliRun evaluate = run("evaluate many.mlmodel " + mnist_args() + "--threads 1000 --json",
                        address_space_limit("1000000000"));
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  EXPECT_NE(evaluate.err.find("note: --threads 1000 is more than"), std::string::npos)
      << evaluate.err;
  EXPECT_DOUBLE_EQ(evaluate.last_json()["test_loss"].get<double>(),
                   exact.last_json()["test_loss"].get<double>());
}

// The CLI's refusal, in parts (tests/train/memory_test_util.h), and no allocation failure.
Refusal expect_refusal(const CliRun& result) {
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.err.find("out of memory"), std::string::npos) << result.err;
  const std::string prefix = "edgetrain: error: ";
  EXPECT_EQ(result.err.find(prefix), 0u) << result.err;
  Refusal refusal = parse_refusal(result.err.substr(std::min(prefix.size(), result.err.size())));
  EXPECT_EQ(refusal.hint, "use a smaller mini-batch size or fewer threads\n") << result.err;
  return refusal;
}

// The longest run of digits in `text`.
size_t longest_number(const std::string& text) {
  size_t longest = 0, run = 0;
  for (char c : text) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

TEST_F(ResourceCli, RequestsBeyondAnyMachineAreRefusedBeforeAllocating) {
  // A convolution to 131072 planes of 28x28: 823 MB a sample with its gradient. Mini-batches of
  // all 60,000 images on one thread need 49 TB, more than any machine has: this runs in sanitized
  // builds too, without an address-space limit.
  const Model wide = wide_model(131072, 28);
  save_model(wide, path("wide.mlmodel"));
  CliRun huge = run("train --model wide.mlmodel " + mnist_args() + "--batch-size 60000 --threads 1",
                    address_space_limit("1000000000"));
  const Refusal refused = expect_refusal(huge);
  EXPECT_EQ(refused.what,
            "training with mini-batches of 60000 on 1 thread (60000 samples per thread, 823 MB "
            "each)");
  EXPECT_EQ(refused.needed, "49.4 TB");
  EXPECT_EQ(refused.where.find(kSanitized ? "in physical memory" : "under the address-space "), 0u);
}

TEST_F(ResourceCli, RunsBeyondTheAddressSpaceLimitAreRefusedBeforeAllocating) {
  if (kSanitized) GTEST_SKIP() << "sanitized builds cannot run under an address-space limit";
  // The LeNet with all 60,000 images in one mini-batch needs 4 GB; 700 MB of address space is
  // not enough.
  CliRun lenet = run("train " + mnist_args() + "--batch-size 60000 --threads 2",
                     address_space_limit("700000000"));
  const Refusal lenet_refused = expect_refusal(lenet);
  EXPECT_EQ(lenet_refused.needed, "3.99 GB");
  EXPECT_EQ(lenet_refused.where.find("under the address-space limit of 700 MB (RLIMIT_AS"), 0u)
      << lenet.err;
}

TEST_F(ResourceCli, RangeErrorsReadLikeAPersonWroteThem) {
  Model open_epochs = lenet();
  open_epochs.update->epochs = {10, std::array<int64_t, 2>{5, INT64_MAX}};
  save_model(open_epochs, path("open.mlmodel"));
  const std::string data = mnist_args() + "--limit 10 ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --epochs 0", "--epochs: must be at least 1, got 0"},
      {"train --epochs 1.5", "--epochs: must be a whole number, got 1.5"},
      {"train --epochs 99999999999999999999",
       "--epochs: must be at most 9223372036854775807, got 99999999999999999999"},
      {"train --batch-size 0", "--batch-size: must be at least 1, got 0"},
      {"train --learning-rate 0", "--learning-rate: must be a positive number, got 0"},
      {"train --learning-rate nan", "--learning-rate: must be a positive number, got nan"},
      {"train " + data + "--learning-rate 5",
       "edgetrain: error: --learning-rate 5 is outside the model's allowed range [0, 0.3]"},
      {"train --threads -1", "--threads: must be at least 0, got -1"},
      {"train " + data + "--model open.mlmodel --epochs 2",
       "open.mlmodel: epochs 2 is outside the model's allowed range [5, no upper limit]"},
      {"evaluate open.mlmodel --threads -2", "--threads: must be at least 0, got -2"},
      {"predict open.mlmodel x.png --top 0", "--top: must be at least 1, got 0"},
      {"make-updatable open.mlmodel -o out.mlmodel --layers conv1 --momentum 1",
       "--momentum: must be at least 0 and less than 1, got 1"},
      {"make-updatable open.mlmodel -o out.mlmodel --layers conv1 --epochs 0",
       "--epochs: must be at least 1, got 0"},
  };
  for (const auto& [arguments, message] : cases) {
    const CliRun result = run(arguments);
    EXPECT_EQ(result.exit_code, 1) << arguments << "\n" << result.err;
    EXPECT_NE(result.err.find(message), std::string::npos) << arguments << "\n" << result.err;
    // No 300-digit limits of a double: the longest number a message may hold is an int64.
    EXPECT_LE(longest_number(result.err), 20u) << result.err;
  }
}

}  // namespace
}  // namespace edgetrain
