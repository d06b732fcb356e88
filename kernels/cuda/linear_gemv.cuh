// GEMV for linear() with few activation rows and narrow weights (internal to kernels/cuda/).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/dtype.h"

namespace janus::kernels::cuda {

struct GemvArgs {
  const void* w = nullptr;  // [N, K] bf16 / f16 / fp8 e4m3, row stride ldw elements
  int64_t ldw = 0;
  DType wdt = DType::BF16;
  const float* scale = nullptr;  // fp8: scale_inv, row stride scale_ld
  int64_t scale_ld = 0;
  const float* x = nullptr;  // [M, K], row stride ldx
  int64_t ldx = 0;
  const void* bias = nullptr;  // [N] (stride bias_stride) or null
  DType bias_dt = DType::F32;
  int64_t bias_stride = 1;
  float* y = nullptr;  // [M, N], row stride ldy
  int64_t ldy = 0;
  int M = 0;  // ≤ kGemvMaxRows
  int64_t N = 0, K = 0;
};

// y = x·Wᵀ (+ bias) for M ≤ kGemvMaxRows; enqueued on the thread's stream. Throws on launch errors.
void launch_gemv(const GemvArgs& a, const char* op);

}  // namespace janus::kernels::cuda
