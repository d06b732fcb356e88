// Tuning knobs of the CPU linear() (kernels/cpu/linear.cpp) for benchmarks and tests; not part of
// the op contract in ops.h. Thread-safe (atomic); changes apply to later calls.
#pragma once
#include <cstdint>

namespace janus::kernels::cpu {

// linear() takes the GEMV path for M ≤ this many x rows, the tiled-sgemm path above it.
// Default kLinearGemvMaxRows (chosen with `bench_linear --sweep`).
constexpr int64_t kLinearGemvMaxRows = 8;
int64_t linear_gemv_max_rows();
void set_linear_gemv_max_rows(int64_t m);

}  // namespace janus::kernels::cpu
