// GEMM ops: linear (with bf16 / FP8 operand emulation) and matmul, forward and backward.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/autograd/op_util.h"
#include "kernels/thread_pool.h"

namespace janus::kernels::ag {
using namespace detail;

namespace {

template <typename T>
void blas(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb, T beta,
          T* C, int64_t ldc) {
  const auto a = ta ? CblasTrans : CblasNoTrans, b = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, a, b, int(M), int(N), int(K), 1.0f, A, int(lda), B, int(ldb), beta, C, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, a, b, int(M), int(N), int(K), 1.0, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

// Splits C into row (or column) blocks over the thread pool, one single-threaded BLAS call each
// (as kernels::linear: OpenBLAS's own threads would oversubscribe the pool's cores). The blocks
// are fixed by the shape alone, never by the pool size: OpenBLAS's rounding of an element depends
// on where its row/column falls inside the call (edge tiles take other kernels), so splitting by
// thread count made results differ between JANUS_THREADS settings and machines (no bit-exact
// resume elsewhere). Up to kBlocks blocks of >= kMinFlops each, lengths a multiple of 16.
template <typename T>
void gemm_impl(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B, int64_t ldb,
               T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : C[i * ldc + j] * beta;
    return;
  }
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
  constexpr int64_t kMinFlops = int64_t(1) << 21;  // per block
  constexpr int64_t kBlocks = 16;
  if (M * N * K < 2 * kMinFlops) {
    blas(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const bool by_rows = M >= N;
  const int64_t D = by_rows ? M : N, other = by_rows ? N : M;
  const int64_t min_len = std::max<int64_t>(8, kMinFlops / (other * K));
  const int64_t len = std::max(min_len, ((D + kBlocks - 1) / kBlocks + 15) / 16 * 16);
  const int64_t blocks = (D + len - 1) / len;
  parallel_for(blocks, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t d0 = b * len, n = std::min(D, d0 + len) - d0;
      if (by_rows)
        blas(ta, tb, n, N, K, ta ? A + d0 : A + d0 * lda, lda, B, ldb, beta, C + d0 * ldc, ldc);
      else
        blas(ta, tb, M, n, K, A, lda, tb ? B + d0 * ldb : B + d0, ldb, beta, C + d0, ldc);
    }
  });
}

}  // namespace

void detail::gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}
void detail::gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B,
                  int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_impl(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

namespace {
// ---- operand rounding for GemmPrecision (see ops.h) ----------------------------------------
constexpr int64_t kTile = 128;

// Values of t rounded through bf16, in t's dtype.
Tensor round_bf16(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  const int64_t n = t.numel();
  by_dtype(t.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = t.data<T>();
    T* d = out.data<T>();
    for (int64_t i = 0; i < n; ++i) d[i] = T(bf16_to_f32(f32_to_bf16(float(s[i]))));
  });
  return out;
}

// [R, C] activation-style: 1×128 tiles along each row (kernels::fp8_quantize_rows), dequantised.
Tensor fp8_rows(const Tensor& t2d) {
  const Tensor f = t2d.to(DType::F32).contiguous();
  const int64_t R = f.size(0), C = f.size(1);
  Tensor q = Tensor::empty({R, C}, DType::F8E4M3);
  Tensor s = Tensor::empty({R, (C + kTile - 1) / kTile}, DType::F32);
  fp8_quantize_rows(q, s, f);
  Tensor out = Tensor::empty({R, C}, t2d.dtype());
  const int64_t CB = s.size(1);
  by_dtype(t2d.dtype(), [&](auto z) {
    using T = decltype(z);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c)
        out.data<T>()[r * C + c] =
            T(fp8e4m3_to_f32(q.data<uint8_t>()[r * C + c]) * s.data<float>()[r * CB + c / kTile]);
  });
  return out;
}
// [R, C] with 128×1 tiles (128 consecutive rows of one column), dequantised.
Tensor fp8_cols(const Tensor& t2d) { return transposed_copy(fp8_rows(transposed_copy(t2d, 0, 1)), 0, 1); }
// [N, K] weight: 128×128 blocks (kernels::fp8_quantize_blocks), dequantised.
Tensor fp8_blocks(const Tensor& w) {
  const Tensor f = w.to(DType::F32).contiguous();
  const int64_t N = f.size(0), K = f.size(1);
  Tensor q = Tensor::empty({N, K}, DType::F8E4M3);
  Tensor s = Tensor::empty({(N + kTile - 1) / kTile, (K + kTile - 1) / kTile}, DType::F32);
  fp8_quantize_blocks(q, s, f);
  return fp8_dequantize(q, s).to(w.dtype());
}

template <typename T>
void add_bias(T* y, const T* b, int64_t M, int64_t N) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) y[m * N + n] += b[n];
}

}  // namespace

Var linear(const Var& x, const Var& w, const Var& b, GemmPrecision p) {
  const char* op = "linear";
  const Tensor& xv = val(x, op, "x");
  const Tensor& wv = val(w, op, "w");
  same_dtype(xv, wv, op);
  check(wv.dim() == 2, op, "w must be [N, K], got " + shape_str(wv.shape()));
  check(xv.dim() >= 1 && xv.size(-1) == wv.size(1), op,
        "x " + shape_str(xv.shape()) + " does not match w " + shape_str(wv.shape()));
  const int64_t K = wv.size(1), N = wv.size(0), M = rows_of(xv);
  if (b.defined()) {
    const Tensor& bv = val(b, op, "b");
    same_dtype(xv, bv, op);
    check(bv.dim() == 1 && bv.size(0) == N, op, "b must be [" + std::to_string(N) + "], got " + shape_str(bv.shape()));
  }
  // Forward operands as the precision asks.
  const Tensor x2 = xv.view({M, K});
  Tensor xa = x2, wa = wv;
  if (p == GemmPrecision::kBf16) {
    xa = round_bf16(x2);
    wa = round_bf16(wv);
  } else if (p == GemmPrecision::kFp8) {
    xa = fp8_rows(x2);
    wa = fp8_blocks(wv);
  }
  Shape ys = xv.shape();
  ys.back() = N;
  Tensor y = Tensor::empty(ys, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    gemm(false, true, M, N, K, xa.data<T>(), K, wa.data<T>(), K, T(0), y.data<T>(), N);
    if (b.defined()) add_bias(y.data<T>(), b.value().data<T>(), M, N);
  });
  if (!recording({&x, &w, &b})) return Var::from_op(y, {}, nullptr, op);
  Node *xn = grad_sink(x), *wn = grad_sink(w), *bn = grad_sink(b);
  // Saved: the forward's weight operand (reused by dgrad: the 128×128 blocks of wᵀ are those of
  // w) and the unrounded x (wgrad rounds it along M).
  auto bw = [xn, wn, bn, x2, wa, p, M, N, K](const Tensor& gy_full) {
    const Tensor gy = gy_full.view({M, N});
    by_dtype(gy.dtype(), [&](auto z) {
      using T = decltype(z);
      if (xn) {  // dx[M, K] = gy[M, N] · w[N, K]; reduction over N
        Tensor ga = gy;
        if (p == GemmPrecision::kBf16) ga = round_bf16(gy);
        if (p == GemmPrecision::kFp8) ga = fp8_rows(gy);
        Tensor dx = Tensor::empty(xn->value.shape(), gy.dtype());
        gemm(false, false, M, K, N, ga.data<T>(), N, wa.data<T>(), K, T(0), dx.data<T>(), K);
        accumulate_grad_adopt(xn, dx);
      }
      if (wn) {  // dw[N, K] = gyᵀ[N, M] · x[M, K]; reduction over M
        Tensor ga = gy, xa2 = x2;
        if (p == GemmPrecision::kBf16) {
          ga = round_bf16(gy);
          xa2 = round_bf16(x2);
        } else if (p == GemmPrecision::kFp8) {
          ga = fp8_cols(gy);
          xa2 = fp8_cols(x2);
        }
        Tensor dw = Tensor::empty({N, K}, gy.dtype());
        gemm(true, false, N, K, M, ga.data<T>(), N, xa2.data<T>(), K, T(0), dw.data<T>(), K);
        accumulate_grad_adopt(wn, dw);
      }
      if (bn) {
        Tensor db = Tensor::zeros({N}, gy.dtype());
        const T* g = gy.data<T>();
        T* d = db.data<T>();
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) d[n] += g[m * N + n];
        accumulate_grad_adopt(bn, db);
      }
    });
  };
  std::vector<Var> ins{x, w};
  if (b.defined()) ins.push_back(b);
  return Var::from_op(y, std::move(ins), bw, op);
}

Var matmul(const Var& a, const Var& b) {
  const char* op = "matmul";
  const Tensor& av = val(a, op, "a");
  const Tensor& bv = val(b, op, "b");
  same_dtype(av, bv, op);
  const bool batched = av.dim() == 3;
  check((av.dim() == 2 && bv.dim() == 2) || (av.dim() == 3 && bv.dim() == 3), op,
        "a and b must both be 2-D or both 3-D, got " + shape_str(av.shape()) + " and " + shape_str(bv.shape()));
  const int64_t B = batched ? av.size(0) : 1, M = av.size(-2), K = av.size(-1), N = bv.size(-1);
  check(bv.size(-2) == K && (!batched || bv.size(0) == B), op,
        "a " + shape_str(av.shape()) + " and b " + shape_str(bv.shape()) + " do not chain");
  Tensor c = Tensor::empty(batched ? Shape{B, M, N} : Shape{M, N}, av.dtype());
  by_dtype(av.dtype(), [&](auto z) {
    using T = decltype(z);
    for (int64_t i = 0; i < B; ++i)
      gemm(false, false, M, N, K, av.data<T>() + i * M * K, K, bv.data<T>() + i * K * N, N, T(0),
           c.data<T>() + i * M * N, N);
  });
  if (!recording({&a, &b})) return Var::from_op(c, {}, nullptr, op);
  Node *an = grad_sink(a), *bn = grad_sink(b);
  auto bw = [an, bn, av, bv, B, M, N, K](const Tensor& g) {
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      if (an) {  // da = g · bᵀ
        Tensor da = Tensor::empty(av.shape(), g.dtype());
        for (int64_t i = 0; i < B; ++i)
          gemm(false, true, M, K, N, g.data<T>() + i * M * N, N, bv.data<T>() + i * K * N, N, T(0),
               da.data<T>() + i * M * K, K);
        accumulate_grad_adopt(an, da);
      }
      if (bn) {  // db = aᵀ · g
        Tensor db = Tensor::empty(bv.shape(), g.dtype());
        for (int64_t i = 0; i < B; ++i)
          gemm(true, false, K, N, M, av.data<T>() + i * M * K, K, g.data<T>() + i * M * N, N, T(0),
               db.data<T>() + i * K * N, N);
        accumulate_grad_adopt(bn, db);
      }
    });
  };
  return Var::from_op(c, {a, b}, bw, op);
}

}  // namespace janus::kernels::ag
