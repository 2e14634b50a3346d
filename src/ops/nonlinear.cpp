// Core ML's activations beyond the four LeNet-style ones in activation.cpp: leaky and thresholded
// ReLU, scaled tanh, hard sigmoid, ELU, softsign, softplus, and the per-channel PReLU and
// parametric softplus. Plain loops; each backward reads the forward input (and adds).
#include <cassert>
#include <cmath>

#include "ops/nonlinear.h"

namespace edgetrain::ops {
namespace {

float sigmoid(float x) {
  const float e = std::exp(-std::fabs(x));  // never overflows
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

float softplus(float x) { return std::max(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }

float value(ActivationType type, float x, float alpha, float beta) {
  switch (type) {
    case ActivationType::kLeakyReLU: return x >= 0.0f ? x : alpha * x;
    case ActivationType::kThresholdedReLU: return x > alpha ? x : 0.0f;
    case ActivationType::kScaledTanh: return alpha * std::tanh(beta * x);
    case ActivationType::kSigmoidHard: return std::min(std::max(alpha * x + beta, 0.0f), 1.0f);
    case ActivationType::kELU: return x >= 0.0f ? x : alpha * std::expm1(x);
    case ActivationType::kSoftsign: return x / (1.0f + std::fabs(x));
    case ActivationType::kSoftplus: return softplus(x);
    default: assert(false && "not an element-wise nonlinearity of this file"); return 0.0f;
  }
}

// d value / dx
float slope(ActivationType type, float x, float alpha, float beta) {
  switch (type) {
    case ActivationType::kLeakyReLU: return x >= 0.0f ? 1.0f : alpha;
    case ActivationType::kThresholdedReLU: return x > alpha ? 1.0f : 0.0f;
    case ActivationType::kScaledTanh: {
      const float t = std::tanh(beta * x);
      return alpha * beta * (1.0f - t * t);
    }
    case ActivationType::kSigmoidHard: {
      const float y = alpha * x + beta;
      return y > 0.0f && y < 1.0f ? alpha : 0.0f;
    }
    case ActivationType::kELU: return x >= 0.0f ? 1.0f : alpha * std::exp(x);
    case ActivationType::kSoftsign: {
      const float d = 1.0f + std::fabs(x);
      return 1.0f / (d * d);
    }
    case ActivationType::kSoftplus: return sigmoid(x);
    default: assert(false && "not an element-wise nonlinearity of this file"); return 0.0f;
  }
}

}  // namespace

void nonlinear_forward(float* out, const float* in, size_t n, ActivationType type, float alpha,
                       float beta) {
  for (size_t i = 0; i < n; ++i) out[i] = value(type, in[i], alpha, beta);
}

void nonlinear_backward(float* dinput, const float* dout, const float* in, size_t n,
                        ActivationType type, float alpha, float beta) {
  if (!dinput) return;
  for (size_t i = 0; i < n; ++i) dinput[i] += dout[i] * slope(type, in[i], alpha, beta);
}

void channel_nonlinear_forward(float* out, const float* in, int rows, int channels, int plane,
                               ActivationType type, const float* alpha, const float* beta) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const size_t base = (size_t(r) * channels + c) * size_t(plane);
      const float a = alpha[c];
      if (type == ActivationType::kPReLU) {
        for (int p = 0; p < plane; ++p) {
          const float x = in[base + p];
          out[base + p] = x >= 0.0f ? x : a * x;
        }
      } else {
        assert(type == ActivationType::kParametricSoftplus);
        const float b = beta[c];
        for (int p = 0; p < plane; ++p) out[base + p] = a * softplus(b * in[base + p]);
      }
    }
  }
}

void channel_nonlinear_backward(float* dinput, float* dalpha, float* dbeta, const float* dout,
                                const float* in, int rows, int channels, int plane,
                                ActivationType type, const float* alpha, const float* beta) {
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < channels; ++c) {
      const size_t base = (size_t(r) * channels + c) * size_t(plane);
      const float a = alpha[c];
      double da = 0, db = 0;  // summed over the plane in double: the order is fixed
      for (int p = 0; p < plane; ++p) {
        const float x = in[base + p], g = dout[base + p];
        if (type == ActivationType::kPReLU) {
          if (dinput) dinput[base + p] += x >= 0.0f ? g : a * g;
          if (x < 0.0f) da += double(g) * x;
        } else {
          const float b = beta[c];
          const float s = sigmoid(b * x);
          if (dinput) dinput[base + p] += g * a * b * s;
          da += double(g) * softplus(b * x);
          db += double(g) * a * x * s;
        }
      }
      if (dalpha) dalpha[c] += float(da);
      if (dbeta) dbeta[c] += float(db);
    }
  }
}

}  // namespace edgetrain::ops
