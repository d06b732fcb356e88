// Shape ops: reshape, transpose, slice, concat, forward and backward.
#include <algorithm>
#include <cstring>

#include "kernels/autograd/op_util.h"

namespace janus::kernels::ag {
using namespace detail;

namespace {
int norm_dim(int d, int n, const char* op) {
  const int r = d < 0 ? d + n : d;
  check(r >= 0 && r < n, op, "dim " + std::to_string(d) + " out of range for " + std::to_string(n) + " dims");
  return r;
}
// A contiguous tensor seen as [outer, shape[dim], inner].
struct Split {
  int64_t outer = 1, len = 1, inner = 1;
};
Split split_at(const Shape& s, int dim) {
  Split r;
  for (int i = 0; i < dim; ++i) r.outer *= s[size_t(i)];
  r.len = s[size_t(dim)];
  for (size_t i = size_t(dim) + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}
// Copies, for every outer index, `len` slabs of `inner` elements from src (dim size src_len, at
// src_off) to dst (dim size dst_len, at dst_off). add = true accumulates (same dtype T).
template <typename T>
void copy_slabs(T* dst, int64_t dst_len, int64_t dst_off, const T* src, int64_t src_len, int64_t src_off, int64_t outer,
                int64_t len, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(dst + (o * dst_len + dst_off) * inner, src + (o * src_len + src_off) * inner,
                size_t(len * inner) * sizeof(T));
}
// A contiguous copy of a strided view (same dtype), innermost dim in a tight loop.
template <typename T>
void strided_copy(const Tensor& src, T* dst) {
  const int n = src.dim();
  if (n == 0) {
    dst[0] = src.data<T>()[0];
    return;
  }
  const Shape &shape = src.shape(), &st = src.strides();
  const int64_t inner = shape[size_t(n - 1)], is = st[size_t(n - 1)], outer = src.numel() / std::max<int64_t>(1, inner);
  std::vector<int64_t> idx(size_t(n), 0);
  const T* base = src.data<T>();
  for (int64_t o = 0; o < outer; ++o) {
    int64_t off = 0;
    for (int d = 0; d < n - 1; ++d) off += idx[size_t(d)] * st[size_t(d)];
    for (int64_t i = 0; i < inner; ++i) dst[o * inner + i] = base[off + i * is];
    for (int d = n - 2; d >= 0; --d) {
      if (++idx[size_t(d)] < shape[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
}
}  // namespace

Tensor detail::transposed_copy(const Tensor& t, int d0, int d1) {
  const Tensor v = t.transpose(d0, d1);
  Tensor out = Tensor::empty(v.shape(), t.dtype());
  by_dtype(t.dtype(), [&](auto z) { strided_copy(v, out.data<decltype(z)>()); });
  return out;
}

Var reshape(const Var& x, const Shape& shape) {
  const char* op = "reshape";
  const Tensor& xv = val(x, op, "x");
  Tensor y;
  try {
    y = xv.view(shape);
  } catch (const Error& e) {
    fail(op, e.what());
  }
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, s = xv.shape()](const Tensor& g) { accumulate_grad(xn, g.view(s)); };
  return Var::from_op(y, {x}, bw, op);
}

Var transpose(const Var& x, int d0, int d1) {
  const char* op = "transpose";
  const Tensor& xv = val(x, op, "x");
  d0 = norm_dim(d0, xv.dim(), op);
  d1 = norm_dim(d1, xv.dim(), op);
  Tensor y = transposed_copy(xv, d0, d1);
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, d0, d1](const Tensor& g) { accumulate_grad_adopt(xn, transposed_copy(g, d0, d1)); };
  return Var::from_op(y, {x}, bw, op);
}

Var slice(const Var& x, int dim, int64_t begin, int64_t end) {
  const char* op = "slice";
  const Tensor& xv = val(x, op, "x");
  dim = norm_dim(dim, xv.dim(), op);
  const int64_t n = xv.size(dim);
  check(begin >= 0 && begin <= end && end <= n, op,
        "range [" + std::to_string(begin) + ", " + std::to_string(end) + ") of dim " + std::to_string(dim) + " of " +
            shape_str(xv.shape()));
  Shape ys = xv.shape();
  ys[size_t(dim)] = end - begin;
  const Split s = split_at(xv.shape(), dim);
  Tensor y = Tensor::empty(ys, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    copy_slabs(y.data<T>(), end - begin, 0, xv.data<T>(), n, begin, s.outer, end - begin, s.inner);
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, s, begin, end, shape = xv.shape()](const Tensor& g) {
    Tensor dx = Tensor::zeros(shape, g.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      copy_slabs(dx.data<T>(), s.len, begin, g.data<T>(), end - begin, 0, s.outer, end - begin, s.inner);
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}

Var concat(const std::vector<Var>& xs, int dim) {
  const char* op = "concat";
  check(!xs.empty(), op, "no inputs");
  const Tensor& x0 = val(xs[0], op, "xs[0]");
  dim = norm_dim(dim, x0.dim(), op);
  Shape ys = x0.shape();
  ys[size_t(dim)] = 0;
  std::vector<int64_t> lens, offs;
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string name = "xs[" + std::to_string(i) + "]";
    const Tensor& v = val(xs[i], op, name.c_str());
    check(v.dtype() == x0.dtype(), op,
          name + " is " + dtype_name(v.dtype()) + ", xs[0] is " + dtype_name(x0.dtype()) + " (dtype mismatch)");
    bool ok = v.dim() == x0.dim();
    for (int d = 0; ok && d < v.dim(); ++d) ok = d == dim || v.size(d) == x0.size(d);
    check(ok, op,
          "input " + std::to_string(i) + " " + shape_str(v.shape()) + " does not match " + shape_str(x0.shape()) +
              " outside dim " + std::to_string(dim));
    offs.push_back(ys[size_t(dim)]);
    lens.push_back(v.size(dim));
    ys[size_t(dim)] += v.size(dim);
  }
  const Split s = split_at(ys, dim);
  Tensor y = Tensor::empty(ys, x0.dtype());
  by_dtype(x0.dtype(), [&](auto z) {
    using T = decltype(z);
    for (size_t i = 0; i < xs.size(); ++i)
      copy_slabs(y.data<T>(), s.len, offs[i], xs[i].value().data<T>(), lens[i], 0, s.outer, lens[i], s.inner);
  });
  bool rec = false;
  for (const Var& v : xs) rec = rec || recording({&v});
  if (!rec) return Var::from_op(y, {}, nullptr, op);
  std::vector<Node*> sinks;
  std::vector<Shape> shapes;
  for (const Var& v : xs) {
    sinks.push_back(grad_sink(v));
    shapes.push_back(v.shape());
  }
  auto bw = [sinks, shapes, lens, offs, s](const Tensor& g) {
    for (size_t i = 0; i < sinks.size(); ++i) {
      if (!sinks[i]) continue;
      Tensor dx = Tensor::empty(shapes[i], g.dtype());
      by_dtype(g.dtype(), [&](auto z) {
        using T = decltype(z);
        copy_slabs(dx.data<T>(), lens[i], 0, g.data<T>(), s.len, offs[i], s.outer, lens[i], s.inner);
      });
      accumulate_grad_adopt(sinks[i], dx);
    }
  };
  return Var::from_op(y, xs, bw, op);
}

}  // namespace janus::kernels::ag
