// GEMV micro-kernels for linear() with few activation rows (decode): y[m, n] = Σ_k x[m, k]·W[n, k].
//
// Memory-bound: every weight row is streamed once for up to kGemvRows rows of x. Four weight
// rows are read side by side so each x vector load feeds four FMAs; with a single x row, two
// accumulators per weight row keep eight FMA chains in flight. x stays f32 (never rounded to
// the weight dtype): it is packed once per call into the lane order of the weight loader (see
// linear_simd.h), zero-padded to a whole step, so the inner loop is load-convert-FMA only.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/linear_simd.h"

namespace janus::kernels::cpu::linear_simd {

constexpr int kGemvRows = 4;  // x rows per pass over a weight row group

inline int64_t padded_k(int64_t K) { return (K + kStep - 1) / kStep * kStep; }

// xp[m·kpad + j] = x[m·ldx + k(j)] with k(j) in D's lane order; zero for k ≥ K.
template <class D>
void pack_x(const float* x, int64_t ldx, int64_t M, int64_t K, float* xp) {
  const int64_t kpad = padded_k(K);
  int idx[kStep];
  for (int j = 0; j < kStep; ++j) idx[j] = Weights<D>::x_index(j);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k0 = 0; k0 < kpad; k0 += kStep)
      for (int j = 0; j < kStep; ++j) {
        int64_t k = k0 + idx[j];
        xp[m * kpad + k0 + j] = k < K ? x[m * ldx + k] : 0.0f;
      }
}

inline int64_t g_prefetch = 0;  // EXPERIMENT
inline int g_pf_hint = 3;  // EXPERIMENT

template <class D, int M, int R, int A>
inline void accumulate_step(const typename D::Storage* const* rows, const float* xk, int64_t kpad,
                            VecF (&acc)[R][M][A]) {
  VecF xv[M][kRegs];
  for (int m = 0; m < M; ++m)
    for (int i = 0; i < kRegs; ++i) {
      xv[m][i] = vload(xk + m * kpad + i * kLanes);
#if defined(JANUS_LINEAR_AVX512) || defined(JANUS_LINEAR_AVX2)
      // Keep x in a register: left alone, GCC folds the load into every FMA, which re-reads x
      // once per weight row and makes the loop load-port bound.
      __asm__("" : "+v"(xv[m][i]));
#endif
    }
  if (g_prefetch)
    for (int r = 0; r < R; ++r) {
      const char* a = reinterpret_cast<const char*>(rows[r]) + g_prefetch;
      if (g_pf_hint == 3) __builtin_prefetch(a, 0, 3);
      else if (g_pf_hint == 2) __builtin_prefetch(a, 0, 2);
      else if (g_pf_hint == 1) __builtin_prefetch(a, 0, 1);
      else __builtin_prefetch(a, 0, 0);
    }
  for (int r = 0; r < R; ++r) {
    VecF wv[kRegs];
    Weights<D>::step(rows[r], wv);
    for (int m = 0; m < M; ++m)
      for (int i = 0; i < kRegs; ++i) acc[r][m][i % A] = vfma(wv[i], xv[m][i], acc[r][m][i % A]);
  }
}

// out[r·M + m] = Σ_k w[r·ldw + k] · x_m[k] for R weight rows and M packed x rows (xp, kpad).
template <class D, int M, int R>
inline void dot_rows(const typename D::Storage* w, int64_t ldw, int64_t K, const float* xp,
                     int64_t kpad, float* out) {
  using S = typename D::Storage;
  constexpr int A = (M == 1 && kRegs >= 2) ? 2 : 1;
  VecF acc[R][M][A];
  for (auto& a : acc)
    for (auto& b : a)
      for (auto& c : b) c = vzero();
  const int64_t full = K / kStep * kStep;
  const S* rows[R];
  for (int64_t k = 0; k < full; k += kStep) {
    for (int r = 0; r < R; ++r) rows[r] = w + r * ldw + k;
    accumulate_step<D, M, R, A>(rows, xp + k, kpad, acc);
  }
  if (full < K) {  // ragged last step: zero-padded copy of each row's tail
    S tail[R][kStep];
    std::memset(tail, 0, sizeof tail);
    for (int r = 0; r < R; ++r) {
      std::memcpy(tail[r], w + r * ldw + full, size_t(K - full) * sizeof(S));
      rows[r] = tail[r];
    }
    accumulate_step<D, M, R, A>(rows, xp + full, kpad, acc);
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

// y[m·ldy + n] = Σ_k W[n, k]·x_m[k] (+ bias[n]) for rows n in [n0, n1) of W (row stride
// ldw) and all M rows of packed x (xp, from pack_x). Each group of four weight rows is
// streamed from memory once and re-read from L1 for every further kGemvRows rows of x.
template <class D>
void gemv_rows(const typename D::Storage* w, int64_t ldw, int64_t n0, int64_t n1, int64_t K,
               const float* xp, int64_t M, const float* bias, float* y, int64_t ldy) {
  const int64_t kpad = padded_k(K);
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
