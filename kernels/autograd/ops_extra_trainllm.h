// Differentiable ops the trainable text backbones (llm/trainable*.cpp) need that autograd/ops.h
// does not declare (yet). Same conventions as ops.h: F32 or F64 contiguous Vars, eager forward,
// backward recorded beside it. Gradient-checked in tests/train_llm/test_train_parity.cpp.
#pragma once
#include "kernels/autograd/ops.h"

namespace janus::kernels::ag::extra {

// y = 1 / x elementwise (MoE top-k renormalisation: w / (Σw + 1e-20)). dy/dx = -y².
// No check for x == 0 (inf, as torch).
Var reciprocal(const Var& x);

}  // namespace janus::kernels::ag::extra
