// L2 normalisation and local response normalisation (normalize.h). Plain loops, sums in double
// where a whole block adds up.
#include "ops/normalize.h"

#include <algorithm>
#include <cmath>

namespace edgetrain::ops {

void l2_normalize_forward(float* out, const float* in, int64_t rows, int64_t size, float epsilon) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * size;
    float* y = out + r * size;
    double squares = 0.0;
    for (int64_t i = 0; i < size; ++i) squares += double(x[i]) * x[i];
    const float inverse = float(1.0 / std::sqrt(squares + epsilon));
    for (int64_t i = 0; i < size; ++i) y[i] = x[i] * inverse;
  }
}

// y = x / n with n = sqrt(Σx² + ε): dx = dy / n − x · Σ(dy · x) / n³.
void l2_normalize_backward(float* dinput, const float* dout, const float* in, int64_t rows,
                           int64_t size, float epsilon) {
  if (!dinput) return;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * size;
    const float* dy = dout + r * size;
    float* dx = dinput + r * size;
    double squares = 0.0, dot = 0.0;
    for (int64_t i = 0; i < size; ++i) {
      squares += double(x[i]) * x[i];
      dot += double(dy[i]) * x[i];
    }
    const double norm = std::sqrt(squares + epsilon);
    const float inverse = float(1.0 / norm), along = float(dot / (norm * norm * norm));
    for (int64_t i = 0; i < size; ++i) dx[i] += dy[i] * inverse - x[i] * along;
  }
}

namespace {

// prefix ((channels + 1), plane) = Σ_{j<c} value(j, p) in double, from channel 0 up, so a window's
// sum costs one subtraction whatever its size.
template <typename Value>
void channel_prefix(double* prefix, const LrnShape& s, Value&& value) {
  std::fill_n(prefix, s.plane, 0.0);
  for (int c = 0; c < s.channels; ++c) {
    const double* before = prefix + c * s.plane;
    double* after = prefix + (c + 1) * s.plane;
    for (int64_t p = 0; p < s.plane; ++p) after[p] = before[p] + value(c * s.plane + p);
  }
}

// Σ over the window of channel c, from the prefix sums.
double window_sum(const double* prefix, const LrnShape& s, int c, int64_t p) {
  const int half = (s.size - 1) / 2;
  const int low = std::max(0, c - half), high = std::min(s.channels - 1, c + half);
  return prefix[(high + 1) * s.plane + p] - prefix[low * s.plane + p];
}

// Scratch: the prefix sums (doubles, at the start: the scratch is 16-byte aligned), then scale.
double* prefix_of(float* scratch) {
  return reinterpret_cast<double*>(scratch);
}
float* scale_of(float* scratch, const LrnShape& s) {
  return scratch + 2 * (s.channels + 1) * s.plane;
}

// scale (channels, plane) = k + alpha / size · Σ x[j]² over each channel's window, for one row.
void lrn_scale(float* scale, double* prefix, const float* x, const LrnShape& s) {
  channel_prefix(prefix, s, [&](int64_t i) { return double(x[i]) * x[i]; });
  const double factor = double(s.alpha) / s.size;
  for (int c = 0; c < s.channels; ++c) {
    for (int64_t p = 0; p < s.plane; ++p) {
      scale[c * s.plane + p] = float(s.k + factor * window_sum(prefix, s, c, p));
    }
  }
}

}  // namespace

size_t lrn_scratch_floats(const LrnShape& s) {
  return 2 * size_t(s.channels + 1) * size_t(s.plane) + size_t(s.channels) * size_t(s.plane);
}

void lrn_forward(float* out, const float* in, const LrnShape& s, float* scratch) {
  const int64_t block = s.channels * s.plane;
  double* prefix = prefix_of(scratch);
  float* scale = scale_of(scratch, s);
  for (int64_t r = 0; r < s.rows; ++r) {
    const float* x = in + r * block;
    float* y = out + r * block;
    lrn_scale(scale, prefix, x, s);
    for (int64_t i = 0; i < block; ++i) y[i] = x[i] * std::pow(scale[i], -s.beta);
  }
}

// With scale_c as above, y_c = x_c · scale_c^−β, so
// dx_j = dy_j · scale_j^−β − (2αβ / size) · x_j · Σ_{c: j in window(c)} dy_c · x_c ·
// scale_c^(−β−1); the windows are symmetric, so j is in c's window exactly when c is in j's.
void lrn_backward(float* dinput, const float* dout, const float* in, const LrnShape& s,
                  float* scratch) {
  if (!dinput) return;
  const int64_t block = s.channels * s.plane;
  const double factor = 2.0 * double(s.alpha) * s.beta / s.size;
  double* prefix = prefix_of(scratch);
  float* scale = scale_of(scratch, s);
  for (int64_t r = 0; r < s.rows; ++r) {
    const float* x = in + r * block;
    const float* dy = dout + r * block;
    float* dx = dinput + r * block;
    lrn_scale(scale, prefix, x, s);
    channel_prefix(prefix, s, [&](int64_t i) {
      return double(dy[i]) * x[i] * std::pow(double(scale[i]), -double(s.beta) - 1.0);
    });
    for (int j = 0; j < s.channels; ++j) {
      for (int64_t p = 0; p < s.plane; ++p) {
        const int64_t i = j * s.plane + p;
        dx[i] += float(dy[i] * std::pow(double(scale[i]), -double(s.beta)) -
                       factor * x[i] * window_sum(prefix, s, j, p));
      }
    }
  }
}

}  // namespace edgetrain::ops
