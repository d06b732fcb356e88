// Losses: cross_entropy (mean over non-ignored rows, log-sum-exp with max subtraction).
#include <cmath>

#include "kernels/autograd/op_util.h"
#include "kernels/thread_pool.h"

namespace janus::kernels::ag {
using namespace detail;

Var cross_entropy(const Var& logits, const std::vector<int64_t>& targets, int64_t ignore_index) {
  const char* op = "cross_entropy";
  const Tensor& xv = val(logits, op, "logits");
  check(xv.dim() == 2, op, "logits must be [N, V], got " + shape_str(xv.shape()));
  const int64_t N = xv.size(0), V = xv.size(1);
  check(int64_t(targets.size()) == N, op,
        std::to_string(targets.size()) + " targets for " + std::to_string(N) + " rows of logits");
  int64_t n_valid = 0;
  for (int64_t r = 0; r < N; ++r) {
    const int64_t t = targets[size_t(r)];
    if (t == ignore_index) continue;
    check(t >= 0 && t < V, op,
          "target[" + std::to_string(r) + "] = " + std::to_string(t) + " outside [0, " + std::to_string(V) + ")");
    ++n_valid;
  }
  // Per-row log-sum-exp (saved for the backward, which recomputes the softmax from it).
  Tensor lse = Tensor::empty({N}, xv.dtype());
  Tensor y = Tensor::empty({1}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    parallel_for(N, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        if (targets[size_t(r)] == ignore_index) continue;
        const T* x = xv.data<T>() + r * V;
        T mx = -INFINITY;
        for (int64_t i = 0; i < V; ++i) mx = std::max(mx, x[i]);
        T s = 0;
        for (int64_t i = 0; i < V; ++i) s += std::exp(x[i] - mx);
        lse.data<T>()[r] = mx + std::log(s);
      }
    });
    double total = 0;
    for (int64_t r = 0; r < N; ++r) {
      const int64_t t = targets[size_t(r)];
      if (t != ignore_index) total += double(lse.data<T>()[r]) - double(xv.data<T>()[r * V + t]);
    }
    y.data<T>()[0] = T(n_valid ? total / double(n_valid) : 0.0);
  });
  if (!recording({&logits})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(logits);
  auto bw = [xn, xv, lse, targets, ignore_index, n_valid, N, V](const Tensor& g) {
    Tensor dx = Tensor::zeros({N, V}, xv.dtype());
    if (n_valid) {
      by_dtype(xv.dtype(), [&](auto z) {
        using T = decltype(z);
        const T w = g.data<T>()[0] / T(n_valid);
        parallel_for(N, [&](int64_t b, int64_t e) {
          for (int64_t r = b; r < e; ++r) {
            const int64_t t = targets[size_t(r)];
            if (t == ignore_index) continue;
            const T* x = xv.data<T>() + r * V;
            T* d = dx.data<T>() + r * V;
            const T l = lse.data<T>()[r];
            for (int64_t i = 0; i < V; ++i) d[i] = w * std::exp(x[i] - l);
            d[t] -= w;
          }
        });
      });
    }
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {logits}, bw, op);
}

}  // namespace janus::kernels::ag
