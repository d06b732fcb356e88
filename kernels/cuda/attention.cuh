// The causal GQA attention kernel behind attention() and mla_attention_absorbed() (internal to
// kernels/cuda/). Pointers are device memory; strides in floats; last dims contiguous.
#pragma once
#include <cstdint>

namespace janus::kernels::cuda {

constexpr int64_t kAttentionMaxDv = 512;

struct AttentionArgs {
  const float* q = nullptr;  // [T, Hq, D]
  int64_t qs0 = 0, qs1 = 0;
  const float* k = nullptr;  // [S, Hkv, D]
  int64_t ks0 = 0, ks1 = 0;
  const float* v = nullptr;  // [S, Hkv, Dv]
  int64_t vs0 = 0, vs1 = 0;
  float* o = nullptr;  // [T, Hq, Dv]
  int64_t os0 = 0, os1 = 0;
  int64_t T = 0, Hq = 0, Hkv = 0, D = 0, Dv = 0, q_pos0 = 0;
  float scale = 1.0f;
};

// Enqueues the kernel (shapes already checked; Dv ≤ kAttentionMaxDv). Throws on launch errors.
void launch_attention(const AttentionArgs& a, const char* op);

}  // namespace janus::kernels::cuda
