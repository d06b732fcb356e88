#include "kernels/autograd/ops_extra_trainllm.h"

#include "kernels/autograd/op_util.h"

namespace janus::kernels::ag::extra {
using namespace detail;

Var reciprocal(const Var& x) {
  const Tensor& xv = val(x, "reciprocal", "x");
  Tensor y = Tensor::empty(xv.shape(), xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = xv.data<T>();
    T* d = y.data<T>();
    for (int64_t i = 0; i < xv.numel(); ++i) d[i] = T(1) / s[i];
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, "reciprocal");
  Node* xn = grad_sink(x);
  auto bw = [xn, y](const Tensor& g) {
    Tensor dx = Tensor::empty(y.shape(), y.dtype());
    by_dtype(y.dtype(), [&](auto z) {
      using T = decltype(z);
      const T *yy = y.data<T>(), *gg = g.data<T>();
      T* d = dx.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) d[i] = -gg[i] * yy[i] * yy[i];
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, "reciprocal");
}

}  // namespace janus::kernels::ag::extra
