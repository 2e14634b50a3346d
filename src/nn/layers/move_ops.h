// The ops of the layers that only move values. Both keep nothing for backward, which adds each
// output's gradient into the input element it came from.
#pragma once

#include <cstring>
#include <utility>

#include "nn/op.h"
#include "ops/layout.h"

namespace edgetrain {

// The input's bytes under a new shape (channel-first reshape, reshapeStatic, flattenTo2D, squeeze,
// expandDims): the planner gives the output its input's buffer and drops the step; run as a step
// (when the input is read elsewhere too) it copies.
class KeepBytesOp : public Op {
 public:
  explicit KeepBytesOp(int64_t count) : count_(size_t(count)) {}
  void forward(const OpArgs& a) const override {
    std::memcpy(a.out[0], a.in[0], size_t(a.n) * count_ * sizeof(float));
  }
  void backward(const OpArgs& a) const override {
    if (!a.din[0]) return;
    for (size_t i = 0; i < size_t(a.n) * count_; ++i) a.din[0][i] += a.dout[0][i];
  }
  bool backward_reads_output() const override { return false; }
  bool copies_input() const override { return true; }

 private:
  size_t count_;  // values per sample
};

// A separable gather (ops/layout.h) for permute, padding and constantPad, border elements set to a
// constant.
class GatherOp : public Op {
 public:
  GatherOp(ops::AxisGather gather, float border_value, bool identity)
      : gather_(std::move(gather)), border_value_(border_value), identity_(identity) {}
  void forward(const OpArgs& a) const override {
    ops::gather_forward(a.out[0], a.in[0], a.n, gather_, border_value_);
  }
  void backward(const OpArgs& a) const override {
    if (a.din[0]) ops::gather_backward(a.din[0], a.dout[0], a.n, gather_);
  }
  bool backward_reads_output() const override { return false; }
  // An identity permutation, or padding of nothing, keeps the bytes.
  bool copies_input() const override { return identity_; }

 private:
  ops::AxisGather gather_;
  float border_value_;
  bool identity_;
};

}  // namespace edgetrain
