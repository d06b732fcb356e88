// GEMV micro-kernels for linear() with few activation rows (decode): y[m, n] = Σ_k x[m, k]·W[n, k].
//
// Memory-bound: every weight row is streamed once for up to kGemvRows rows of x. Four weight
// rows are read side by side, 128 bytes of each per visit (kStepBytes), so each x vector feeds
// four FMAs; with a single x row, two accumulators per weight row keep eight FMA chains in
// flight. x stays f32 (never rounded to the weight dtype): it is packed once per call into the
// lane order of the weight decoder (linear_simd.h) and zero-padded to whole steps, so the inner
// loop is load-decode-FMA only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/linear_simd.h"

namespace janus::kernels::cpu::linear_simd {

constexpr int kGemvRows = 4;  // x rows per pass over a group of weight rows

template <class D> inline int64_t padded_k(int64_t K) { return (K + kStep<D> - 1) / kStep<D> * kStep<D>; }

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

// acc[r][m] += decoded w[r·ldw + (0, kStep)] · x_m[0, kStep) (x packed, row stride kpad).
// Per decoder block: decode RC rows (≤ 8 vectors live), then load each x vector once and feed
// it to those RC rows.
template <class D, int M, int R, int A>
inline void accumulate_step(const typename D::Storage* w, int64_t ldw, const float* xk, int64_t kpad,
                            VecF (&acc)[R][M][A]) {
  constexpr int kRegs = kStepRegs<D>, kBRegs = Weights<D>::kBlock / kLanes;
  constexpr int RC = std::max(1, std::min(R, 8 / kBRegs));
  for (int b = 0; b < kRegs; b += kBRegs)
    for (int r0 = 0; r0 < R; r0 += RC) {
      VecF wv[RC][kBRegs];
      for (int r = 0; r < RC; ++r) Weights<D>::block(w + (r0 + r) * ldw + b * kLanes, wv[r]);
      for (int i = 0; i < kBRegs; ++i)
        for (int m = 0; m < M; ++m) {
          const float* xa = xk + m * kpad + (b + i) * kLanes;
#if defined(__GNUC__)
          // Hide the address so GCC does not merge the loads of successive row chunks into
          // long-lived registers (it then spills the accumulators).
          if constexpr (RC < R) __asm__("" : "+r"(xa));
#endif
          VecF xv = vload(xa);
          in_register(xv);
          for (int r = 0; r < RC; ++r)
            acc[r0 + r][m][(b + i) % A] = vfma(wv[r][i], xv, acc[r0 + r][m][(b + i) % A]);
        }
    }
}

// out[r·M + m] = Σ_k w[r·ldw + k] · x_m[k] / kUnscale for R weight rows and M packed x rows.
template <class D, int M, int R>
inline void dot_rows(const typename D::Storage* w, int64_t ldw, int64_t K, const float* xp,
                     int64_t kpad, float* out) {
  using S = typename D::Storage;
  constexpr int A = M == 1 ? 2 : 1;
  VecF acc[R][M][A];
  for (auto& a : acc)
    for (auto& b : a)
      for (auto& c : b) c = vzero();
  const int64_t full = K / kStep<D> * kStep<D>;
  for (int64_t k = 0; k < full; k += kStep<D>) accumulate_step<D, M, R, A>(w + k, ldw, xp + k, kpad, acc);
  if (full < K) {  // ragged last step: zero-padded copy of each row's tail
    S tail[R][kStep<D>];
    std::memset(tail, 0, sizeof tail);
    for (int r = 0; r < R; ++r) std::memcpy(tail[r], w + r * ldw + full, size_t(K - full) * sizeof(S));
    accumulate_step<D, M, R, A>(&tail[0][0], kStep<D>, xp + full, kpad, acc);
  }
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < M; ++m) {
      VecF s = acc[r][m][0];
      for (int a = 1; a < A; ++a) s = vadd(s, acc[r][m][a]);
      out[r * M + m] = vsum(s);
    }
}

template <class D, int R>
inline void dot_rows_m(int M, const typename D::Storage* w, int64_t ldw, int64_t K, const float* xp,
                       int64_t kpad, float* out) {
  switch (M) {
    case 1: dot_rows<D, 1, R>(w, ldw, K, xp, kpad, out); break;
    case 2: dot_rows<D, 2, R>(w, ldw, K, xp, kpad, out); break;
    case 3: dot_rows<D, 3, R>(w, ldw, K, xp, kpad, out); break;
    default: dot_rows<D, 4, R>(w, ldw, K, xp, kpad, out); break;
  }
}

// y[m·ldy + n] = Σ_k W[n, k]·x_m[k] (+ bias[n]) for rows n in [n0, n1) of W (row stride ldw)
// and all M rows of packed x (xp, from pack_x; for fp8 already multiplied by the block scales
// and kUnscale). Each group of four weight rows is streamed from memory once and re-read from
// L1 for every further kGemvRows rows of x.
template <class D>
void gemv_rows(const typename D::Storage* w, int64_t ldw, int64_t n0, int64_t n1, int64_t K,
               const float* xp, int64_t M, const float* bias, float* y, int64_t ldy) {
  const int64_t kpad = padded_k<D>(K);
  float out[4 * kGemvRows];
  for (int64_t n = n0; n < n1;) {
    const int R = n1 - n >= 4 ? 4 : 1;
    for (int64_t m0 = 0; m0 < M; m0 += kGemvRows) {
      const int mc = int(std::min<int64_t>(kGemvRows, M - m0));
      const float* xm = xp + m0 * kpad;
      if (R == 4) dot_rows_m<D, 4>(mc, w + n * ldw, ldw, K, xm, kpad, out);
      else dot_rows_m<D, 1>(mc, w + n * ldw, ldw, K, xm, kpad, out);
      for (int r = 0; r < R; ++r)
        for (int m = 0; m < mc; ++m) {
          float v = out[r * mc + m];
          if (bias) v += bias[n + r];
          y[(m0 + m) * ldy + n + r] = v;
        }
    }
    n += R;
  }
}

}  // namespace janus::kernels::cpu::linear_simd
