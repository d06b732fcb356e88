// Normalisation ops over the last dim: rms_norm, layer_norm, l2_normalize.
#include <cmath>

#include "kernels/autograd/op_util.h"
#include "kernels/thread_pool.h"

namespace janus::kernels::ag {
using namespace detail;

namespace {
void check_vec(const Var& w, const Tensor& x, const char* op, const char* name) {
  if (!w.defined()) return;
  const Tensor& wv = val(w, op, name);
  same_dtype(x, wv, op);
  check(wv.dim() == 1 && wv.size(0) == x.size(-1), op,
        std::string(name) + " must be [" + std::to_string(x.size(-1)) + "], got " + shape_str(wv.shape()));
}

// Σ over rows of a[r, d] · b[r, d] into out[d] (per-channel weight gradients).
template <typename T>
Tensor column_dot(const T* a, const T* b, int64_t R, int64_t D, DType dt) {
  Tensor out = Tensor::zeros({D}, dt);
  T* o = out.data<T>();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t d = 0; d < D; ++d) o[d] += a[r * D + d] * b[r * D + d];
  return out;
}
}  // namespace

// y = x̂ · w, x̂ = x · r, r = 1 / sqrt(mean(x²) + eps).
// dx = r · (g·w − x̂ · mean(g·w·x̂)); dw = Σ_rows g · x̂.
Var rms_norm(const Var& x, const Var& w, double eps) {
  const char* op = "rms_norm";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() >= 1, op, "x must have at least one dim");
  check_vec(w, xv, op, "w");
  const int64_t D = xv.size(-1), R = rows_of(xv);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype()), rs = Tensor::empty({R}, xv.dtype());
  const Tensor wv = w.defined() ? w.value() : Tensor();
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* wp = wv.defined() ? wv.data<T>() : nullptr;
    parallel_for(R, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* s = xv.data<T>() + r * D;
        T* d = y.data<T>() + r * D;
        T ss = 0;
        for (int64_t i = 0; i < D; ++i) ss += s[i] * s[i];
        const T rr = T(1) / std::sqrt(ss / T(D) + T(eps));
        rs.data<T>()[r] = rr;
        if (wp)
          for (int64_t i = 0; i < D; ++i) d[i] = s[i] * rr * wp[i];
        else
          for (int64_t i = 0; i < D; ++i) d[i] = s[i] * rr;
      }
    });
  });
  if (!recording({&x, &w})) return Var::from_op(y, {}, nullptr, op);
  Node *xn = grad_sink(x), *wn = grad_sink(w);
  auto bw = [xn, wn, xv, wv, rs, R, D](const Tensor& g) {
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      const T *gg = g.data<T>(), *xs = xv.data<T>(), *r = rs.data<T>();
      if (xn) {
        Tensor dx = Tensor::empty(xv.shape(), g.dtype());
        parallel_for(R, [&](int64_t b, int64_t e) {
          std::vector<T> gw(static_cast<size_t>(D));  // g·w of one row
          for (int64_t i = b; i < e; ++i) {
            const T *gr = gg + i * D, *xr = xs + i * D;
            for (int64_t d = 0; d < D; ++d) gw[size_t(d)] = wv.defined() ? gr[d] * wv.data<T>()[d] : gr[d];
            T dot = 0;  // Σ g·w·x (then · r for x̂)
            for (int64_t d = 0; d < D; ++d) dot += gw[size_t(d)] * xr[d];
            const T ri = r[i], m = dot * ri / T(D), c = ri * ri * m;
            T* o = dx.data<T>() + i * D;
            for (int64_t d = 0; d < D; ++d) o[d] = ri * gw[size_t(d)] - xr[d] * c;
          }
        });
        accumulate_grad_adopt(xn, dx);
      }
      if (wn) {
        Tensor xhat = Tensor::empty(xv.shape(), g.dtype());
        for (int64_t i = 0; i < R; ++i)
          for (int64_t d = 0; d < D; ++d) xhat.data<T>()[i * D + d] = xs[i * D + d] * r[i];
        accumulate_grad_adopt(wn, column_dot(gg, xhat.data<T>(), R, D, g.dtype()));
      }
    });
  };
  std::vector<Var> ins{x};
  if (w.defined()) ins.push_back(w);
  return Var::from_op(y, std::move(ins), bw, op);
}

// y = x̂ · w + b, x̂ = (x − μ) · r, r = 1 / sqrt(var + eps) (biased variance).
// dx = r · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂)) with ĝ = g · w; dw = Σ g · x̂; db = Σ g.
Var layer_norm(const Var& x, const Var& w, const Var& b, double eps) {
  const char* op = "layer_norm";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() >= 1, op, "x must have at least one dim");
  check_vec(w, xv, op, "w");
  check_vec(b, xv, op, "b");
  const int64_t D = xv.size(-1), R = rows_of(xv);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype()), xhat = Tensor::empty(xv.shape(), xv.dtype()),
         rs = Tensor::empty({R}, xv.dtype());
  const Tensor wv = w.defined() ? w.value() : Tensor(), bv = b.defined() ? b.value() : Tensor();
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    parallel_for(R, [&](int64_t b0, int64_t e0) {
      for (int64_t r = b0; r < e0; ++r) {
        const T* s = xv.data<T>() + r * D;
        T mu = 0, var = 0;
        for (int64_t i = 0; i < D; ++i) mu += s[i];
        mu /= T(D);
        for (int64_t i = 0; i < D; ++i) var += (s[i] - mu) * (s[i] - mu);
        const T rr = T(1) / std::sqrt(var / T(D) + T(eps));
        rs.data<T>()[r] = rr;
        T *h = xhat.data<T>() + r * D, *d = y.data<T>() + r * D;
        for (int64_t i = 0; i < D; ++i) {
          h[i] = (s[i] - mu) * rr;
          d[i] = h[i] * (wv.defined() ? wv.data<T>()[i] : T(1)) + (bv.defined() ? bv.data<T>()[i] : T(0));
        }
      }
    });
  });
  if (!recording({&x, &w, &b})) return Var::from_op(y, {}, nullptr, op);
  Node *xn = grad_sink(x), *wn = grad_sink(w), *bn = grad_sink(b);
  auto bw = [xn, wn, bn, xhat, wv, rs, R, D](const Tensor& g) {
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      const T *gg = g.data<T>(), *h = xhat.data<T>();
      if (xn) {
        Tensor dx = Tensor::empty(xhat.shape(), g.dtype());
        parallel_for(R, [&](int64_t b0, int64_t e0) {
          for (int64_t i = b0; i < e0; ++i) {
            const T *gr = gg + i * D, *hr = h + i * D;
            T s1 = 0, s2 = 0;
            for (int64_t d = 0; d < D; ++d) {
              const T gh = gr[d] * (wv.defined() ? wv.data<T>()[d] : T(1));
              s1 += gh;
              s2 += gh * hr[d];
            }
            s1 /= T(D);
            s2 /= T(D);
            const T r = rs.data<T>()[i];
            T* o = dx.data<T>() + i * D;
            for (int64_t d = 0; d < D; ++d)
              o[d] = r * (gr[d] * (wv.defined() ? wv.data<T>()[d] : T(1)) - s1 - hr[d] * s2);
          }
        });
        accumulate_grad_adopt(xn, dx);
      }
      if (wn) accumulate_grad_adopt(wn, column_dot(gg, h, R, D, g.dtype()));
      if (bn) {
        Tensor db = Tensor::zeros({D}, g.dtype());
        for (int64_t i = 0; i < R; ++i)
          for (int64_t d = 0; d < D; ++d) db.data<T>()[d] += gg[i * D + d];
        accumulate_grad_adopt(bn, db);
      }
    });
  };
  std::vector<Var> ins{x};
  if (w.defined()) ins.push_back(w);
  if (b.defined()) ins.push_back(b);
  return Var::from_op(y, std::move(ins), bw, op);
}

// y = x / max(‖x‖, eps) (torch.nn.functional.normalize). For ‖x‖ > eps:
// dx = (g − y · (g·y)) / ‖x‖; otherwise dx = g / eps.
Var l2_normalize(const Var& x, double eps) {
  const char* op = "l2_normalize";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() >= 1, op, "x must have at least one dim");
  const int64_t D = xv.size(-1), R = rows_of(xv);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype()), ns = Tensor::empty({R}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    for (int64_t r = 0; r < R; ++r) {
      const T* s = xv.data<T>() + r * D;
      T ss = 0;
      for (int64_t i = 0; i < D; ++i) ss += s[i] * s[i];
      const T n = std::sqrt(ss);
      ns.data<T>()[r] = n;
      const T den = std::max(n, T(eps));
      for (int64_t i = 0; i < D; ++i) y.data<T>()[r * D + i] = s[i] / den;
    }
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, y, ns, eps, R, D](const Tensor& g) {
    Tensor dx = Tensor::empty(y.shape(), g.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      for (int64_t r = 0; r < R; ++r) {
        const T *gr = g.data<T>() + r * D, *yr = y.data<T>() + r * D;
        const T n = ns.data<T>()[r];
        T* o = dx.data<T>() + r * D;
        if (n > T(eps)) {
          T dot = 0;
          for (int64_t i = 0; i < D; ++i) dot += gr[i] * yr[i];
          for (int64_t i = 0; i < D; ++i) o[i] = (gr[i] - yr[i] * dot) / n;
        } else {
          for (int64_t i = 0; i < D; ++i) o[i] = gr[i] / T(eps);
        }
      }
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}

}  // namespace janus::kernels::ag
