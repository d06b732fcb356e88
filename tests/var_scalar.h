// Test helper shared by the test executables: a one-element Var (a loss, a reduced sum) as a
// double, so tests compare losses as numbers.
#pragma once
#include "kernels/autograd/var.h"

namespace janus::test {

inline double scalar(const kernels::ag::Var& v) { return v.value().to_f32_vector().at(0); }

}  // namespace janus::test
