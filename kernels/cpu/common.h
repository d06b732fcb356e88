// Shared checks for CPU kernels.
#pragma once
#include <string>

#include "kernels/dispatch.h"  // JANUS_CUDA_DISPATCH, the first line of every public op
#include "kernels/ops.h"

namespace janus::kernels::cpu {

[[noreturn]] inline void fail(const char* op, const std::string& what) { throw Error(std::string(op) + ": " + what); }
inline void check(bool ok, const char* op, const std::string& what) {
  if (!ok) fail(op, what);
}
// f32, last dim contiguous, at most 2 logical dims after flattening leading ones.
inline void check_rows_f32(const Tensor& t, const char* op, const char* name) {
  check(t.defined(), op, std::string(name) + " is undefined");
  check(t.dtype() == DType::F32, op, std::string(name) + " must be f32, got " + dtype_name(t.dtype()));
  check(t.dim() >= 1 && t.strides().back() == 1, op, std::string(name) + " must have a contiguous last dim");
}
// Number of rows (product of leading dims) and row stride; requires leading dims to be
// collapsible into one strided dimension.
inline int64_t row_count(const Tensor& t) {
  int64_t rows = 1;
  for (int i = 0; i + 1 < t.dim(); ++i) rows *= t.shape()[size_t(i)];
  return rows;  // also right when the last dim is 0
}
inline int64_t row_stride(const Tensor& t, const char* op) {
  if (t.dim() < 2) return t.size(-1);
  // leading dims must be contiguous relative to each other
  for (int i = t.dim() - 2; i > 0; --i)
    check(t.shape()[i] == 1 || t.strides()[i - 1] == t.strides()[i] * t.shape()[i] || t.shape()[i - 1] == 1, op,
          "leading dims of " + shape_str(t.shape()) + " are not collapsible");
  return t.strides()[t.dim() - 2];
}
// Reads element i of a float-typed vector (f32/bf16/f16).
inline float load_float(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F32: return t.data<float>()[i];
    case DType::BF16: return bf16_to_f32(t.data<uint16_t>()[i]);
    case DType::F16: return f16_to_f32(t.data<uint16_t>()[i]);
    default: fail("load_float", std::string("unsupported dtype ") + dtype_name(t.dtype()));
  }
}
// Copies a small float vector (norm weights, biases) to f32.
inline std::vector<float> to_f32(const Tensor& t) {
  std::vector<float> v(size_t(t.numel()));
  Tensor c = t.contiguous();
  for (int64_t i = 0; i < t.numel(); ++i) v[size_t(i)] = load_float(c, i);
  return v;
}

}  // namespace janus::kernels::cpu
