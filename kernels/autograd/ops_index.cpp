// Indexing ops: embedding, gather_rows, scatter_add_rows, take_along_last.
#include <cstring>

#include "kernels/autograd/op_util.h"

namespace janus::kernels::ag {
using namespace detail;

namespace {
void check_ids(const std::vector<int64_t>& ids, int64_t n, const char* op, const char* what) {
  for (size_t i = 0; i < ids.size(); ++i)
    check(ids[i] >= 0 && ids[i] < n, op,
          std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) + " outside [0, " +
              std::to_string(n) + ")");
}

// out[r] = x[rows[r]] for x [R, D] (gather), shared by embedding and gather_rows.
Var gather(const Var& x, const std::vector<int64_t>& rows, const char* op) {
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() == 2, op, "x must be [R, D], got " + shape_str(xv.shape()));
  const int64_t R = xv.size(0), D = xv.size(1), n = int64_t(rows.size());
  check_ids(rows, R, op, "ids");
  Tensor y = Tensor::empty({n, D}, xv.dtype());
  const size_t row_bytes = size_t(D) * dtype_size(xv.dtype());
  for (int64_t i = 0; i < n; ++i)
    std::memcpy(static_cast<char*>(y.raw()) + size_t(i) * row_bytes,
                static_cast<const char*>(xv.raw()) + size_t(rows[size_t(i)]) * row_bytes, row_bytes);
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, rows, R, D](const Tensor& g) {
    Tensor dx = Tensor::zeros({R, D}, g.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      for (size_t i = 0; i < rows.size(); ++i) {
        T* d = dx.data<T>() + rows[i] * D;
        const T* s = g.data<T>() + int64_t(i) * D;
        for (int64_t j = 0; j < D; ++j) d[j] += s[j];
      }
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}
}  // namespace

Var embedding(const Var& table, const std::vector<int64_t>& ids) { return gather(table, ids, "embedding"); }
Var gather_rows(const Var& x, const std::vector<int64_t>& rows) { return gather(x, rows, "gather_rows"); }

Var scatter_add_rows(const Var& x, const std::vector<int64_t>& rows, int64_t n_rows) {
  const char* op = "scatter_add_rows";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() == 2 && xv.size(0) == int64_t(rows.size()), op,
        "x must be [" + std::to_string(rows.size()) + ", D] (one row per index), got " + shape_str(xv.shape()));
  check(n_rows >= 0, op, "n_rows must be >= 0");
  check_ids(rows, n_rows, op, "rows");
  const int64_t D = xv.size(1);
  Tensor y = Tensor::zeros({n_rows, D}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    for (size_t i = 0; i < rows.size(); ++i) {
      T* d = y.data<T>() + rows[i] * D;
      const T* s = xv.data<T>() + int64_t(i) * D;
      for (int64_t j = 0; j < D; ++j) d[j] += s[j];
    }
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, rows, D](const Tensor& g) {
    const int64_t n = int64_t(rows.size());
    Tensor dx = Tensor::empty({n, D}, g.dtype());
    const size_t row_bytes = size_t(D) * dtype_size(g.dtype());
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(static_cast<char*>(dx.raw()) + size_t(i) * row_bytes,
                  static_cast<const char*>(g.raw()) + size_t(rows[size_t(i)]) * row_bytes, row_bytes);
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}

Var take_along_last(const Var& x, const std::vector<int64_t>& idx, int64_t k) {
  const char* op = "take_along_last";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() == 2, op, "x must be [T, E], got " + shape_str(xv.shape()));
  const int64_t T_ = xv.size(0), E = xv.size(1);
  check(k >= 0 && int64_t(idx.size()) == T_ * k, op,
        "idx must hold T·k = " + std::to_string(T_ * k) + " entries, got " + std::to_string(idx.size()));
  check_ids(idx, E, op, "idx");
  Tensor y = Tensor::empty({T_, k}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    for (int64_t t = 0; t < T_; ++t)
      for (int64_t j = 0; j < k; ++j) y.data<T>()[t * k + j] = xv.data<T>()[t * E + idx[size_t(t * k + j)]];
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, idx, T_, E, k](const Tensor& g) {
    Tensor dx = Tensor::zeros({T_, E}, g.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      for (int64_t t = 0; t < T_; ++t)
        for (int64_t j = 0; j < k; ++j) dx.data<T>()[t * E + idx[size_t(t * k + j)]] += g.data<T>()[t * k + j];
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}

}  // namespace janus::kernels::ag
