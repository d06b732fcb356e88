// GEMV micro-kernels for linear() with few activation rows (decode): y[m, n] = Σ_k x[m, k]·W[n, k].
//
// Memory-bound, so the design follows the memory system:
// - Each thread streams its weight rows strictly in address order, one row at a time. Reading
//   several rows side by side (to reuse x loads across rows) looks cheaper but, with rows of a
//   few KiB, interleaves streams within one 4 KiB page and the hardware prefetcher stops
//   following them: 50-82% of the streaming-read floor against 77-97% for one row at a time
//   (bench_linear --only rows; bench/RESULTS.md, "Linear kernels (CPU)").
// - Every weight vector is decoded once and used for up to kGemvRows rows of x.
// - x stays f32 (never rounded to the weight dtype). It is packed once per call into the lane
//   order of the weight decoder (linear_simd.h) and zero-padded to whole steps, so the inner loop
//   is load-decode-FMA only; x re-loads hit L1.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/linear_simd.h"

namespace janus::kernels::cpu::linear_simd {

constexpr int kGemvRows = 4;  // x rows per pass over a weight row

template <class D>
inline int64_t padded_k(int64_t K) {
  return (K + kStep<D> - 1) / kStep<D> * kStep<D>;
}

// xp[m·kpad + j] = x[m·ldx + k(j)], k(j) in the decoder's lane order; zero for k ≥ K.
template <class D>
void pack_x(const float* x, int64_t ldx, int64_t M, int64_t K, float* xp) {
  constexpr int kB = Weights<D>::kBlock;
  const int64_t kpad = padded_k<D>(K);
  int idx[kB];
  for (int j = 0; j < kB; ++j) idx[j] = Weights<D>::x_index(j);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k0 = 0; k0 < kpad; k0 += kB)
      for (int j = 0; j < kB; ++j) {
        const int64_t k = k0 + idx[j];
        xp[m * kpad + k0 + j] = k < K ? x[m * ldx + k] : 0.0f;
      }
}

// Software prefetch distance along the weight stream (into L1). The hardware prefetcher alone
// left the GEMV at ~65-85% of the streaming-read floor; 4 KiB ahead brought it to ~85-100%
// (median of interleaved runs; 1, 2 KiB and L2 hints at 4-8 KiB were no better). Prefetches
// never fault, so running past the end of W is harmless.
constexpr int kPrefetchBytes = 4096;
static_assert(kStepBytes == 128, "one prefetch per 64-byte line of a step");

// acc[m][·] += decoded w[0, kStep) · x_m[0, kStep) (x packed, row stride kpad). Consecutive
// vectors rotate over A accumulators so that M·A FMA chains are in flight.
template <class D, int M, int A, bool kPrefetch = true>
inline void accumulate_step(const typename D::Storage* w, const float* xk, int64_t kpad, VecF (&acc)[M][A]) {
  constexpr int kRegs = kStepRegs<D>, kBRegs = Weights<D>::kBlock / kLanes;
#if defined(__GNUC__)
  if constexpr (kPrefetch) {
    __builtin_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes);
    __builtin_prefetch(reinterpret_cast<const char*>(w) + kPrefetchBytes + 64);
  }
#endif
  for (int b = 0; b < kRegs; b += kBRegs) {
    VecF wv[kBRegs];
    Weights<D>::block(w + b * kLanes, wv);
    for (int i = 0; i < kBRegs; ++i)
      for (int m = 0; m < M; ++m)
        acc[m][(b + i) % A] = vfma(wv[i], vload(xk + m * kpad + (b + i) * kLanes), acc[m][(b + i) % A]);
  }
}

// out[m] = Σ_k w[k] · x_m[k] / kUnscale for one weight row and M ≤ kGemvRows packed x rows.
template <class D, int M>
inline void dot_row(const typename D::Storage* w, int64_t K, const float* xp, int64_t kpad, float* out) {
  using S = typename D::Storage;
  // Independent FMA chains: with too few the loop is FMA-latency bound (fp8 with A = 2 ran at
  // half the in-cache rate of A = 8). M·A ≤ 8 accumulators, at most one per vector of a step.
  constexpr int A = std::min(kStepRegs<D>, M == 1 ? 8 : M == 2 ? 4 : 2);
  VecF acc[M][A];
  for (auto& a : acc)
    for (auto& c : a) c = vzero();
  const int64_t full = K / kStep<D> * kStep<D>;
  for (int64_t k = 0; k < full; k += kStep<D>) accumulate_step<D, M, A>(w + k, xp + k, kpad, acc);
  if (full < K) {  // ragged last step: zero-padded copy of the row's tail
    S tail[kStep<D>];
    std::memset(tail, 0, sizeof tail);
    std::memcpy(tail, w + full, size_t(K - full) * sizeof(S));
    accumulate_step<D, M, A, false>(tail, xp + full, kpad, acc);
  }
  for (int m = 0; m < M; ++m) {
    VecF s = acc[m][0];
    for (int a = 1; a < A; ++a) s = vadd(s, acc[m][a]);
    out[m] = vsum(s);
  }
}

// y[m·ldy + n] = Σ_k W[n, k]·x_m[k] (+ bias[n]) for rows n in [n0, n1) of W (row stride ldw)
// and all M rows of packed x (xp, from pack_x; for fp8 already multiplied by the block scales
// and kUnscale). Each weight row is streamed from memory once and re-read from L1 for every
// further kGemvRows rows of x.
template <class D>
void gemv_rows(const typename D::Storage* w, int64_t ldw, int64_t n0, int64_t n1, int64_t K, const float* xp, int64_t M,
               const float* bias, float* y, int64_t ldy) {
  const int64_t kpad = padded_k<D>(K);
  float out[kGemvRows];
  for (int64_t n = n0; n < n1; ++n) {
    const typename D::Storage* row = w + n * ldw;
    for (int64_t m0 = 0; m0 < M; m0 += kGemvRows) {
      const int mc = int(std::min<int64_t>(kGemvRows, M - m0));
      const float* xm = xp + m0 * kpad;
      switch (mc) {
        case 1: dot_row<D, 1>(row, K, xm, kpad, out); break;
        case 2: dot_row<D, 2>(row, K, xm, kpad, out); break;
        case 3: dot_row<D, 3>(row, K, xm, kpad, out); break;
        default: dot_row<D, 4>(row, K, xm, kpad, out); break;
      }
      const float b = bias ? bias[n] : 0.0f;
      for (int m = 0; m < mc; ++m) y[(m0 + m) * ldy + n] = out[m] + b;
    }
  }
}

}  // namespace janus::kernels::cpu::linear_simd
