// Internal helpers shared by the autograd op files (not part of the public API).
#pragma once
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"

namespace janus::kernels::ag::detail {

[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw Error(std::string("ag::") + op + ": " + what);
}
inline void check(bool ok, const char* op, const std::string& what) {
  if (!ok) fail(op, what);
}

// A defined float Var (f32 / f64) with a contiguous value.
inline const Tensor& val(const Var& v, const char* op, const char* name) {
  check(v.defined(), op, std::string(name) + " is undefined");
  const Tensor& t = v.value();
  check(t.dtype() == DType::F32 || t.dtype() == DType::F64, op,
        std::string(name) + " must be f32 or f64, got " + dtype_name(t.dtype()));
  check(t.is_contiguous(), op, std::string(name) + " must be contiguous");
  return t;
}
inline void same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  check(a.dtype() == b.dtype(), op,
        std::string("dtype mismatch: ") + dtype_name(a.dtype()) + " vs " + dtype_name(b.dtype()));
}
inline void same_shape(const Tensor& a, const Tensor& b, const char* op) {
  check(a.shape() == b.shape(), op, "shape mismatch: " + shape_str(a.shape()) + " vs " + shape_str(b.shape()));
}

// True when the op must record its backward (grad mode on and an input requires a gradient).
inline bool recording(std::initializer_list<const Var*> vs) {
  if (!grad_enabled()) return false;
  for (const Var* v : vs)
    if (v->defined() && v->requires_grad()) return true;
  return false;
}

// Calls f(T{}) with T = float or double by the dtype.
template <typename F>
decltype(auto) by_dtype(DType t, F&& f) {
  if (t == DType::F64) return f(double{});
  return f(float{});
}

// C[M, N] = op(A) · op(B) + beta · C, row-major (op = transpose when ta / tb), on the thread pool
// with single-threaded BLAS calls (ops_gemm.cpp). Called from inside a parallel_for it runs serially.
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
          float beta, float* C, int64_t ldc);
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B, int64_t ldb,
          double beta, double* C, int64_t ldc);

// Contiguous copy of t with dims d0 and d1 swapped (f32 / f64; ops_shape.cpp).
Tensor transposed_copy(const Tensor& t, int d0, int d1);

// Product of all dims but the last (1 for a scalar); stays correct when the last dim is 0.
inline int64_t rows_of(const Tensor& t) {
  int64_t r = 1;
  for (int i = 0; i + 1 < t.dim(); ++i) r *= t.shape()[size_t(i)];
  return r;
}

}  // namespace janus::kernels::ag::detail
