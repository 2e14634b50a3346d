// A small, platform-independent random generator (splitmix64). std::uniform_*_distribution differ
// between standard libraries; this gives the same numbers everywhere, so a seed means one run.
#pragma once

#include <cstdint>
#include <vector>

namespace edgetrain {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 bits: exact as a float.
  float uniform() { return float(next() >> 40) * (1.0f / 16777216.0f); }
  // Uniform integer in [0, bound), without modulo bias (Lemire's method).
  uint64_t below(uint64_t bound) {
    __uint128_t product = __uint128_t(next()) * bound;
    uint64_t low = uint64_t(product);
    if (low < bound) {
      uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        product = __uint128_t(next()) * bound;
        low = uint64_t(product);
      }
    }
    return uint64_t(product >> 64);
  }
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

// Fisher-Yates shuffle of `order` driven by `rng`.
template <typename T>
void shuffle(std::vector<T>& order, Rng& rng) {
  for (size_t i = order.size(); i > 1; --i) {
    size_t j = size_t(rng.below(i));
    std::swap(order[i - 1], order[j]);
  }
}

}  // namespace edgetrain
