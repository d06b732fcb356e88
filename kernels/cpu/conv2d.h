// Tuning knob of the CPU conv2d() (kernels/cpu/conv2d.cpp) for benchmarks and tests; not part of
// the op contract in ops.h. Thread-safe (atomic); changes apply to later calls.
#pragma once
#include <cstdint>

namespace janus::kernels::cpu {

// Upper bound on the im2col buffer of one conv2d() call; an image whose col is larger is done in
// chunks of output pixels (at least 256 pixels per chunk, whatever the budget).
constexpr int64_t kConv2dColBytes = int64_t(64) << 20;
int64_t conv2d_col_bytes();
void set_conv2d_col_bytes(int64_t bytes);

}  // namespace janus::kernels::cpu
