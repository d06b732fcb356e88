// One query row of softmax attention, shared by the causal (attention.cpp) and bidirectional
// (attention_full.cpp) CPU kernels: o[Dv] = Σ_j softmax_j(scale · q·k_j) · v_j over the n keys
// k_j = k + j·ks and values v_j = v + j·vs. Softmax in float32 with max subtraction, the sum in
// double; p (≥ n floats) holds the scores.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/simd.h"

namespace janus::kernels::cpu {

inline void attend_row(float* o, const float* q, const float* k, int64_t ks, const float* v, int64_t vs, int64_t n,
                       int64_t D, int64_t Dv, float scale, float* p) {
  float m = -INFINITY;
  for (int64_t j = 0; j < n; ++j) {
    p[j] = dot_f32(q, k + j * ks, D) * scale;
    m = std::max(m, p[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    p[j] = std::exp(p[j] - m);
    sum += p[j];
  }
  const float inv = float(1.0 / sum);
  std::fill(o, o + Dv, 0.0f);
  for (int64_t j = 0; j < n; ++j) axpy_f32(o, p[j] * inv, v + j * vs, Dv);
}

}  // namespace janus::kernels::cpu
