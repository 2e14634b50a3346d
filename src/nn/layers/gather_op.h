// The op of the layers that only move values (permute, padding, constantPad): a separable gather
// (ops/layout.h), border elements set to a constant. Backward adds each output's gradient into the
// input element it read; keeps nothing.
#pragma once

#include "nn/op.h"
#include "ops/layout.h"

namespace edgetrain {

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
