// The .npy codec against NumPy: our bytes are numpy.save's bytes, numpy.load reads ours, we read
// what numpy writes (format 1.0, 2.0, 3.0), and refuse every dtype and layout but '<f4' in C order
// and every malformed header, with a reason.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "base/atomic_file.h"
#include "edgetrain/error.h"
#include "edgetrain/fed.h"
#include "fed/processes.h"

namespace edgetrain {
namespace {

using fed::Tensor;

const std::vector<std::pair<std::string, std::vector<int64_t>>> kCases = {
    {"conv-weight", {32, 1, 5, 5}},
    {"bias", {32}},
    {"dense-weight", {10, 200}},
    {"scalar", {}},
    {"empty", {0}},
    {"empty-middle", {3, 0, 2}},
    {"five-dims", {1, 2, 1, 3, 1}},
    {"long-first-axis", {12345, 2}}};

// The same values npy_reference.py computes: float32((i % 97) * 0.37 - 11.5).
Tensor reference_tensor(const std::vector<int64_t>& shape) {
  Tensor tensor{shape, std::vector<float>(fed::element_count(shape))};
  for (size_t i = 0; i < tensor.values.size(); ++i) {
    tensor.values[i] = float(double(i % 97) * 0.37 - 11.5);
  }
  return tensor;
}

Tensor special_tensor() {
  const float inf = std::numeric_limits<float>::infinity();
  return {{7},
          {0.0f, -0.0f, 1e-45f, 3.4028235e38f, -inf, inf, std::numeric_limits<float>::quiet_NaN()}};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  // Empty vectors' data() may be null, which memcmp must not get even for 0 bytes.
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::string python() {
  return "/usr/bin/python3";
}
std::string script() {
  return test_paths::source("tests/fed/npy_reference.py");
}

class Npy : public test_fed::FedFolder {};

TEST_F(Npy, OurBytesAreNumpySaveBytesAndWeReadThemBack) {
  test_fed::Process writer({python(), script(), "write", folder.string()},
                           "npy_reference.py write");
  ASSERT_EQ(writer.wait(), 0) << writer.output();
  auto cases = kCases;
  cases.push_back({"special", {7}});
  for (const auto& [name, shape] : cases) {
    const Tensor tensor = name == "special" ? special_tensor() : reference_tensor(shape);
    const std::string numpy_bytes = read_whole_file(path(name + ".npy"));
    const std::string ours = fed::encode_npy(tensor);
    EXPECT_EQ(ours, numpy_bytes) << name << ": our .npy differs from numpy.save's";
    EXPECT_EQ(fed::npy_size(shape), numpy_bytes.size()) << name;
    const Tensor decoded = fed::decode_npy(numpy_bytes);
    EXPECT_EQ(decoded.shape, shape) << name;
    EXPECT_TRUE(same_bits(decoded.values, tensor.values)) << name;
  }
}

TEST_F(Npy, NumpyLoadsWhatWeWrite) {
  auto cases = kCases;
  cases.push_back({"special", {7}});
  for (const auto& [name, shape] : cases) {
    const Tensor tensor = name == "special" ? special_tensor() : reference_tensor(shape);
    write_file_atomically(path("cpp-" + name + ".npy"), fed::encode_npy(tensor));
  }
  test_fed::Process checker({python(), script(), "check", folder.string()},
                            "npy_reference.py check");
  EXPECT_EQ(checker.wait(), 0) << checker.output();
  EXPECT_EQ(checker.output().find("MISMATCH"), std::string::npos) << checker.output();
}

TEST_F(Npy, OtherFormatVersionsAreReadAndOtherDtypesRefused) {
  test_fed::Process writer({python(), script(), "write", folder.string()},
                           "npy_reference.py write");
  ASSERT_EQ(writer.wait(), 0) << writer.output();
  for (const char* version : {"version-2", "version-3"}) {
    const Tensor decoded = fed::decode_npy(read_whole_file(path(std::string(version) + ".npy")));
    EXPECT_EQ(decoded.shape, (std::vector<int64_t>{4, 3})) << version;
    EXPECT_TRUE(same_bits(decoded.values, reference_tensor({4, 3}).values)) << version;
  }
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"refuse-float64", "'<f8' refused"},
      {"refuse-int32", "'<i4' refused"},
      {"refuse-big-endian", "'>f4' refused"},
      {"refuse-float16", "'<f2' refused"},
      {"refuse-fortran", "Fortran order"},
      {"refuse-object", "'|O' refused"},
      {"refuse-structured", "expected a quoted string"}};
  for (const auto& [name, reason] : refused) {
    try {
      fed::decode_npy(read_whole_file(path(name + ".npy")));
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << name << ": " << e.what();
    }
  }
}

// Bytes that are not a well-formed float32 .npy: each refused with the reason named.
TEST(NpyMalformed, RefusedWithAReason) {
  const std::string good = fed::encode_npy(reference_tensor({2, 3}));
  const size_t header_end = good.size() - 24;  // 6 floats of data at the end
  auto with_header = [&](const std::string& dict) {
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
    std::string header = dict;
    header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    bytes += char(header.size() & 0xff);
    bytes += char(header.size() >> 8);
    return bytes + header + good.substr(header_end);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "do not start"},
      {"\x93NUMPX" + good.substr(6), "do not start"},
      {std::string("\x93NUMPY\x02\x00\x10\x00", 10), "truncated"},
      {std::string("\x93NUMPY\x01\x00\xff\xff", 10) + "{", "does not fit"},
      {std::string("\x93NUMPY\x04\x00", 8) + good.substr(8), "version 4.0"},
      {good.substr(0, good.size() - 1), "data bytes follow"},
      {good + "x", "data bytes follow"},
      {with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }"),
       "data bytes follow"},
      {with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }"), "non-negative"},
      {with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"),
       "more than 18 digits"},
      {with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (461168601842738790, "
                   "461168601842738790), }"),
       "too large"},
      {with_header("{'descr': '<f4', 'shape': (2, 3), }"), "needs 'descr'"},
      {with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1, }"),
       "unexpected or repeated key 'extra'"},
      {with_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}"),
       "repeated key 'descr'"},
      {with_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }"), "True or False"},
      {with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } trailing"),
       "after the closing"},
      {with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }"),
       "expected ',' or ')'"},
      {with_header("{'descr: '<f4', 'fortran_order': False, 'shape': (2, 3), }"), "expected ':'"},
  };
  for (const auto& [bytes, reason] : cases) {
    try {
      fed::decode_npy(bytes);
      ADD_FAILURE() << "accepted: " << bytes.substr(0, 80);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos)
          << "expected '" << reason << "', got: " << e.what();
    }
  }
  // The hand-made header itself is fine with the right shape.
  EXPECT_EQ(
      fed::decode_npy(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
          .shape,
      (std::vector<int64_t>{2, 3}));
}

}  // namespace
}  // namespace edgetrain
