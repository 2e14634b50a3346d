// Element-wise unary functions and clip (unary.h). Plain loops over the value and its derivative,
// each a switch the compiler hoists out of the loop.
#include "ops/unary.h"

#include <cmath>

namespace edgetrain::ops {
namespace {

float value(const UnaryFunction& f, float x) {
  switch (f.operation) {
    case UnaryOperation::kSqrt:
      return std::sqrt(x);
    case UnaryOperation::kRsqrt:
      return 1.0f / std::sqrt(x + f.epsilon);
    case UnaryOperation::kInverse:
      return 1.0f / (x + f.epsilon);
    case UnaryOperation::kPower:
      return std::pow(x, f.alpha);
    case UnaryOperation::kExp:
      return std::exp(x);
    case UnaryOperation::kLog:
      return std::log(x);
    case UnaryOperation::kAbs:
      return std::fabs(x);
    case UnaryOperation::kThreshold:
      return std::fmax(f.alpha, x);
  }
  return 0.0f;
}

// d f(x) / dx
float slope(const UnaryFunction& f, float x) {
  switch (f.operation) {
    case UnaryOperation::kSqrt:
      return 0.5f / std::sqrt(x);
    case UnaryOperation::kRsqrt: {
      const float r = 1.0f / std::sqrt(x + f.epsilon);
      return -0.5f * r * r * r;
    }
    case UnaryOperation::kInverse: {
      const float r = 1.0f / (x + f.epsilon);
      return -r * r;
    }
    case UnaryOperation::kPower:
      return f.alpha * std::pow(x, f.alpha - 1.0f);
    case UnaryOperation::kExp:
      return std::exp(x);
    case UnaryOperation::kLog:
      return 1.0f / x;
    case UnaryOperation::kAbs:
      return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f;
    case UnaryOperation::kThreshold:
      return x > f.alpha ? 1.0f : 0.0f;
  }
  return 0.0f;
}

}  // namespace

void unary_forward(float* out, const float* in, size_t n, const UnaryFunction& function) {
  for (size_t i = 0; i < n; ++i) out[i] = value(function, function.scale * in[i] + function.shift);
}

void unary_backward(float* dinput, const float* dout, const float* in, size_t n,
                    const UnaryFunction& function) {
  if (!dinput) return;
  for (size_t i = 0; i < n; ++i) {
    dinput[i] +=
        dout[i] * function.scale * slope(function, function.scale * in[i] + function.shift);
  }
}

void clip_forward(float* out, const float* in, size_t n, float low, float high) {
  for (size_t i = 0; i < n; ++i) out[i] = std::fmin(std::fmax(in[i], low), high);
}

void clip_backward(float* dinput, const float* dout, const float* in, size_t n, float low,
                   float high) {
  if (!dinput) return;
  for (size_t i = 0; i < n; ++i) {
    if (in[i] > low && in[i] < high) dinput[i] += dout[i];
  }
}

}  // namespace edgetrain::ops
