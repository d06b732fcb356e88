// Elementwise ops, activations and reductions, forward and backward.
#include <cmath>

#include "kernels/autograd/op_util.h"
#include "kernels/thread_pool.h"

namespace janus::kernels::ag {
using namespace detail;

namespace {
constexpr int64_t kGrain = 1 << 14;

// out[i] = f(i) over n elements on the thread pool.
template <typename F>
void each(int64_t n, F f) {
  parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) f(i);
      },
      kGrain);
}

// y = f(x); dx = g · df(x, y).
template <typename Fwd, typename Bwd>
Var unary(const Var& x, const char* op, Fwd fwd, Bwd dfdx) {
  const Tensor& xv = val(x, op, "x");
  Tensor y = Tensor::empty(xv.shape(), xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    const T* s = xv.data<T>();
    T* d = y.data<T>();
    each(xv.numel(), [&](int64_t i) { d[i] = T(fwd(s[i])); });
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, xv, y, dfdx](const Tensor& g) {
    Tensor dx = Tensor::empty(xv.shape(), xv.dtype());
    by_dtype(xv.dtype(), [&](auto z) {
      using T = decltype(z);
      const T *s = xv.data<T>(), *yy = y.data<T>(), *gg = g.data<T>();
      T* d = dx.data<T>();
      each(xv.numel(), [&](int64_t i) { d[i] = T(gg[i] * dfdx(s[i], yy[i])); });
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}

// Elementwise a ∘ b of one shape; backward: da = g · da_f(a, b), db = g · db_f(a, b).
template <typename Fwd, typename Da, typename Db>
Var binary(const Var& a, const Var& b, const char* op, Fwd fwd, Da da_f, Db db_f) {
  const Tensor& av = val(a, op, "a");
  const Tensor& bv = val(b, op, "b");
  same_dtype(av, bv, op);
  same_shape(av, bv, op);
  Tensor y = Tensor::empty(av.shape(), av.dtype());
  by_dtype(av.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *pa = av.data<T>(), *pb = bv.data<T>();
    T* d = y.data<T>();
    each(av.numel(), [&](int64_t i) { d[i] = fwd(pa[i], pb[i]); });
  });
  if (!recording({&a, &b})) return Var::from_op(y, {}, nullptr, op);
  Node *an = grad_sink(a), *bn = grad_sink(b);
  auto bw = [an, bn, av, bv, da_f, db_f](const Tensor& g) {
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      const T *pa = av.data<T>(), *pb = bv.data<T>(), *gg = g.data<T>();
      if (an) {
        Tensor t = Tensor::empty(av.shape(), av.dtype());
        T* d = t.data<T>();
        each(av.numel(), [&](int64_t i) { d[i] = gg[i] * da_f(pa[i], pb[i]); });
        accumulate_grad_adopt(an, t);
      }
      if (bn) {
        Tensor t = Tensor::empty(bv.shape(), bv.dtype());
        T* d = t.data<T>();
        each(bv.numel(), [&](int64_t i) { d[i] = gg[i] * db_f(pa[i], pb[i]); });
        accumulate_grad_adopt(bn, t);
      }
    });
  };
  return Var::from_op(y, {a, b}, bw, op);
}

template <typename T>
T sigmoid_of(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kInvSqrt2 = 0.7071067811865476;
constexpr double kInvSqrt2Pi = 0.3989422804014327;
}  // namespace

Var add(const Var& a, const Var& b) {
  return binary(
      a, b, "add", [](auto x, auto y) { return x + y; }, [](auto, auto) { return 1; }, [](auto, auto) { return 1; });
}
Var sub(const Var& a, const Var& b) {
  return binary(
      a, b, "sub", [](auto x, auto y) { return x - y; }, [](auto, auto) { return 1; }, [](auto, auto) { return -1; });
}
Var mul(const Var& a, const Var& b) {
  return binary(
      a, b, "mul", [](auto x, auto y) { return x * y; }, [](auto, auto y) { return y; },
      [](auto x, auto) { return x; });
}
Var scale(const Var& a, double s) {
  return unary(
      a, "scale", [s](auto x) { return x * decltype(x)(s); }, [s](auto x, auto) { return decltype(x)(s); });
}
Var add_scalar(const Var& a, double s) {
  return unary(
      a, "add_scalar", [s](auto x) { return x + decltype(x)(s); }, [](auto x, auto) { return decltype(x)(1); });
}
Var div(const Var& a, const Var& b) {
  return binary(
      a, b, "div", [](auto x, auto y) { return x / y; }, [](auto, auto y) { return 1 / y; },
      [](auto x, auto y) { return -x / (y * y); });
}
Var exp(const Var& x) {
  return unary(
      x, "exp", [](auto v) { return std::exp(v); }, [](auto, auto y) { return y; });
}
Var log(const Var& x) {
  return unary(
      x, "log", [](auto v) { return std::log(v); }, [](auto v, auto) { return 1 / v; });
}
Var tanh(const Var& x) {
  return unary(
      x, "tanh", [](auto v) { return std::tanh(v); }, [](auto, auto y) { return 1 - y * y; });
}
Var relu(const Var& x) {
  return unary(
      x, "relu", [](auto v) { return v > 0 ? v : decltype(v)(0); },
      [](auto v, auto) { return v > 0 ? decltype(v)(1) : decltype(v)(0); });
}
Var square(const Var& x) {
  return unary(
      x, "square", [](auto v) { return v * v; }, [](auto v, auto) { return 2 * v; });
}
Var sigmoid(const Var& x) {
  return unary(
      x, "sigmoid", [](auto v) { return sigmoid_of(v); }, [](auto, auto y) { return y * (1 - y); });
}
Var silu(const Var& x) {
  return unary(
      x, "silu", [](auto v) { return v * sigmoid_of(v); },
      [](auto v, auto) {
        const auto s = sigmoid_of(v);
        return s * (1 + v * (1 - s));
      });
}
Var gelu(const Var& x, bool tanh_approx) {
  if (tanh_approx)
    return unary(
        x, "gelu_tanh",
        [](auto v) {
          using T = decltype(v);
          return T(0.5) * v * (1 + std::tanh(T(kSqrt2OverPi) * (v + T(0.044715) * v * v * v)));
        },
        [](auto v, auto) {
          using T = decltype(v);
          const T t = std::tanh(T(kSqrt2OverPi) * (v + T(0.044715) * v * v * v));
          return T(0.5) * (1 + t) + T(0.5) * v * (1 - t * t) * T(kSqrt2OverPi) * (1 + T(3 * 0.044715) * v * v);
        });
  return unary(
      x, "gelu",
      [](auto v) {
        using T = decltype(v);
        return T(0.5) * v * (1 + std::erf(v * T(kInvSqrt2)));
      },
      [](auto v, auto) {
        using T = decltype(v);
        return T(0.5) * (1 + std::erf(v * T(kInvSqrt2))) + v * T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
      });
}

Var add_row(const Var& a, const Var& b) {
  const char* op = "add_row";
  const Tensor& av = val(a, op, "a");
  const Tensor& bv = val(b, op, "b");
  same_dtype(av, bv, op);
  check(av.dim() >= 1 && bv.dim() == 1 && bv.size(0) == av.size(-1), op,
        "b must be [D] for a [..., D]: a " + shape_str(av.shape()) + ", b " + shape_str(bv.shape()));
  const int64_t D = bv.size(0), R = rows_of(av);
  Tensor y = Tensor::empty(av.shape(), av.dtype());
  by_dtype(av.dtype(), [&](auto z) {
    using T = decltype(z);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t d = 0; d < D; ++d) y.data<T>()[r * D + d] = av.data<T>()[r * D + d] + bv.data<T>()[d];
  });
  if (!recording({&a, &b})) return Var::from_op(y, {}, nullptr, op);
  Node *an = grad_sink(a), *bn = grad_sink(b);
  auto bw = [an, bn, R, D](const Tensor& g) {
    accumulate_grad(an, g);
    if (bn) {
      Tensor db = Tensor::zeros({D}, g.dtype());
      by_dtype(g.dtype(), [&](auto z) {
        using T = decltype(z);
        for (int64_t r = 0; r < R; ++r)
          for (int64_t d = 0; d < D; ++d) db.data<T>()[d] += g.data<T>()[r * D + d];
      });
      accumulate_grad_adopt(bn, db);
    }
  };
  return Var::from_op(y, {a, b}, bw, op);
}

Var mul_rows(const Var& a, const Var& w) {
  const char* op = "mul_rows";
  const Tensor& av = val(a, op, "a");
  const Tensor& wv = val(w, op, "w");
  same_dtype(av, wv, op);
  check(av.dim() == 2 && wv.dim() == 1 && wv.size(0) == av.size(0), op,
        "a must be [R, D] and w [R]: a " + shape_str(av.shape()) + ", w " + shape_str(wv.shape()));
  const int64_t R = av.size(0), D = av.size(1);
  Tensor y = Tensor::empty(av.shape(), av.dtype());
  by_dtype(av.dtype(), [&](auto z) {
    using T = decltype(z);
    const T *pa = av.data<T>(), *pw = wv.data<T>();
    T* py = y.data<T>();
    for (int64_t r = 0; r < R; ++r)
      for (int64_t d = 0; d < D; ++d) py[r * D + d] = pa[r * D + d] * pw[r];
  });
  if (!recording({&a, &w})) return Var::from_op(y, {}, nullptr, op);
  Node *an = grad_sink(a), *wn = grad_sink(w);
  auto bw = [an, wn, av, wv, R, D](const Tensor& g) {
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      const T* gg = g.data<T>();
      if (an) {
        Tensor da = Tensor::empty({R, D}, g.dtype());
        const T* pw = wv.data<T>();
        T* pd = da.data<T>();
        for (int64_t r = 0; r < R; ++r)
          for (int64_t d = 0; d < D; ++d) pd[r * D + d] = gg[r * D + d] * pw[r];
        accumulate_grad_adopt(an, da);
      }
      if (wn) {
        Tensor dw = Tensor::empty({R}, g.dtype());
        const T* pa = av.data<T>();
        for (int64_t r = 0; r < R; ++r) {
          T s = 0;
          for (int64_t d = 0; d < D; ++d) s += gg[r * D + d] * pa[r * D + d];
          dw.data<T>()[r] = s;
        }
        accumulate_grad_adopt(wn, dw);
      }
    });
  };
  return Var::from_op(y, {a, w}, bw, op);
}

namespace {
// Sum (or mean) of all elements -> [1].
Var total(const Var& x, bool mean, const char* op) {
  const Tensor& xv = val(x, op, "x");
  const int64_t n = xv.numel();
  Tensor y = Tensor::empty({1}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    double s = 0;  // accumulate in double for both dtypes
    for (int64_t i = 0; i < n; ++i) s += double(xv.data<T>()[i]);
    y.data<T>()[0] = T(mean && n ? s / double(n) : s);
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, n, mean, shape = xv.shape()](const Tensor& g) {
    Tensor dx = Tensor::empty(shape, g.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      const T v = mean && n ? T(g.data<T>()[0] / T(n)) : g.data<T>()[0];
      for (int64_t i = 0; i < n; ++i) dx.data<T>()[i] = v;
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}
}  // namespace

Var sum(const Var& x) { return total(x, false, "sum"); }
Var mean(const Var& x) { return total(x, true, "mean"); }

Var sum_last(const Var& x) {
  const char* op = "sum_last";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() >= 1, op, "x must have at least one dim");
  const int64_t D = xv.size(-1), R = rows_of(xv);
  Shape ys(xv.shape().begin(), xv.shape().end() - 1);
  if (ys.empty()) ys = {1};
  Tensor y = Tensor::empty(ys, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    for (int64_t r = 0; r < R; ++r) {
      T s = 0;
      for (int64_t d = 0; d < D; ++d) s += xv.data<T>()[r * D + d];
      y.data<T>()[r] = s;
    }
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, R, D, shape = xv.shape()](const Tensor& g) {
    Tensor dx = Tensor::empty(shape, g.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t d = 0; d < D; ++d) dx.data<T>()[r * D + d] = g.data<T>()[r];
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}

namespace {
// Softmax (log = false) or log-softmax (log = true) over the last dim, max-subtracted.
Var softmax_impl(const Var& x, bool log, const char* op) {
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() >= 1, op, "x must have at least one dim");
  const int64_t D = xv.size(-1), R = rows_of(xv);
  Tensor y = Tensor::empty(xv.shape(), xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    parallel_for(R, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* s = xv.data<T>() + r * D;
        T* d = y.data<T>() + r * D;
        T mx = -INFINITY;
        for (int64_t i = 0; i < D; ++i) mx = std::max(mx, s[i]);
        T sum = 0;
        for (int64_t i = 0; i < D; ++i) sum += std::exp(s[i] - mx);
        if (log) {
          const T lse = mx + std::log(sum);
          for (int64_t i = 0; i < D; ++i) d[i] = s[i] - lse;
        } else {
          for (int64_t i = 0; i < D; ++i) d[i] = std::exp(s[i] - mx) / sum;
        }
      }
    });
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, y, log, R, D](const Tensor& g) {
    Tensor dx = Tensor::empty(y.shape(), y.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      parallel_for(R, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const T *yy = y.data<T>() + r * D, *gg = g.data<T>() + r * D;
          T* d = dx.data<T>() + r * D;
          T s = 0;
          if (log) {  // dx = g - softmax · Σg
            for (int64_t i = 0; i < D; ++i) s += gg[i];
            for (int64_t i = 0; i < D; ++i) d[i] = gg[i] - std::exp(yy[i]) * s;
          } else {  // dx = y · (g - Σ g·y)
            for (int64_t i = 0; i < D; ++i) s += gg[i] * yy[i];
            for (int64_t i = 0; i < D; ++i) d[i] = yy[i] * (gg[i] - s);
          }
        }
      });
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}
}  // namespace

Var softmax_last(const Var& x) { return softmax_impl(x, false, "softmax_last"); }
Var log_softmax_last(const Var& x) { return softmax_impl(x, true, "log_softmax_last"); }

Var detach(const Var& x) {
  val(x, "detach", "x");
  return Var::from_op(x.value(), {}, nullptr, "detach");
}

}  // namespace janus::kernels::ag
