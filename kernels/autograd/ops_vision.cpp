// Image ops (NCHW): conv2d (im2col × GEMM), group_norm, upsample_nearest2x, forward and backward.
#include <cmath>
#include <cstring>

#include "kernels/autograd/op_util.h"
#include "kernels/thread_pool.h"

namespace janus::kernels::ag {
using namespace detail;

namespace {
struct ConvDims {
  int64_t B, Cin, H, W, Cout, kh, kw, Ho, Wo;
  Conv2dOptions o;
  int64_t ck() const { return Cin * kh * kw; }
  int64_t pix() const { return Ho * Wo; }
};

// cols [Cin·kh·kw, Ho·Wo] of one image x [Cin, H, W] (zero outside the image).
template <typename T>
void im2col(const ConvDims& d, const T* x, T* cols) {
  parallel_for(d.ck(), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r / (d.kh * d.kw), i = (r / d.kw) % d.kh, j = r % d.kw;
      T* out = cols + r * d.pix();
      for (int64_t oh = 0; oh < d.Ho; ++oh) {
        const int64_t ih = oh * d.o.stride - d.o.pad_top + i;
        for (int64_t ow = 0; ow < d.Wo; ++ow) {
          const int64_t iw = ow * d.o.stride - d.o.pad_left + j;
          out[oh * d.Wo + ow] = (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) ? x[(c * d.H + ih) * d.W + iw] : T(0);
        }
      }
    }
  });
}
// dx [Cin, H, W] += col2im(dcols); parallel over input channels (disjoint writes).
template <typename T>
void col2im(const ConvDims& d, const T* cols, T* dx) {
  parallel_for(d.Cin, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t i = 0; i < d.kh; ++i)
        for (int64_t j = 0; j < d.kw; ++j) {
          const T* in = cols + ((c * d.kh + i) * d.kw + j) * d.pix();
          for (int64_t oh = 0; oh < d.Ho; ++oh) {
            const int64_t ih = oh * d.o.stride - d.o.pad_top + i;
            if (ih < 0 || ih >= d.H) continue;
            for (int64_t ow = 0; ow < d.Wo; ++ow) {
              const int64_t iw = ow * d.o.stride - d.o.pad_left + j;
              if (iw >= 0 && iw < d.W) dx[(c * d.H + ih) * d.W + iw] += in[oh * d.Wo + ow];
            }
          }
        }
  });
}
}  // namespace

// y_b [Cout, Ho·Wo] = W [Cout, Cin·kh·kw] · cols_b (+ b); backward per image (cols recomputed):
// dW += dy_b · cols_bᵀ, dcols = Wᵀ · dy_b scattered back by col2im, db = Σ dy.
Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dOptions& opt) {
  const char* op = "conv2d";
  const Tensor &xv = val(x, op, "x"), &wv = val(w, op, "w");
  same_dtype(xv, wv, op);
  check(xv.dim() == 4 && wv.dim() == 4 && wv.size(1) == xv.size(1), op,
        "x must be [B, Cin, H, W] and w [Cout, Cin, kh, kw], got " + shape_str(xv.shape()) + " and " +
            shape_str(wv.shape()));
  check(opt.stride >= 1 && opt.pad_top >= 0 && opt.pad_bottom >= 0 && opt.pad_left >= 0 && opt.pad_right >= 0, op,
        "stride must be >= 1 and padding >= 0");
  ConvDims d{xv.size(0), xv.size(1), xv.size(2), xv.size(3), wv.size(0), wv.size(2), wv.size(3), 0, 0, opt};
  const int64_t hp = d.H + opt.pad_top + opt.pad_bottom, wp = d.W + opt.pad_left + opt.pad_right;
  check(hp >= d.kh && wp >= d.kw, op,
        "kernel " + shape_str(wv.shape()) + " larger than the padded input " + shape_str(xv.shape()));
  d.Ho = (hp - d.kh) / opt.stride + 1;
  d.Wo = (wp - d.kw) / opt.stride + 1;
  if (b.defined()) {
    const Tensor& bv = val(b, op, "b");
    same_dtype(xv, bv, op);
    check(bv.dim() == 1 && bv.size(0) == d.Cout, op, "b must be [Cout], got " + shape_str(bv.shape()));
  }
  Tensor y = Tensor::empty({d.B, d.Cout, d.Ho, d.Wo}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    std::vector<T> cols(size_t(d.ck() * d.pix()));
    for (int64_t n = 0; n < d.B; ++n) {
      im2col(d, xv.data<T>() + n * d.Cin * d.H * d.W, cols.data());
      T* yb = y.data<T>() + n * d.Cout * d.pix();
      gemm(false, false, d.Cout, d.pix(), d.ck(), wv.data<T>(), d.ck(), cols.data(), d.pix(), T(0), yb, d.pix());
      if (b.defined())
        for (int64_t c = 0; c < d.Cout; ++c)
          for (int64_t p = 0; p < d.pix(); ++p) yb[c * d.pix() + p] += b.value().data<T>()[c];
    }
  });
  if (!recording({&x, &w, &b})) return Var::from_op(y, {}, nullptr, op);
  Node *xn = grad_sink(x), *wn = grad_sink(w), *bn = grad_sink(b);
  auto bw = [xn, wn, bn, xv, wv, d](const Tensor& g) {
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      Tensor dx = xn ? Tensor::zeros(xv.shape(), g.dtype()) : Tensor();
      Tensor dw = wn ? Tensor::zeros(wv.shape(), g.dtype()) : Tensor();
      std::vector<T> cols(size_t(d.ck() * d.pix()));
      for (int64_t n = 0; n < d.B; ++n) {
        const T* gb = g.data<T>() + n * d.Cout * d.pix();
        if (wn) {
          im2col(d, xv.data<T>() + n * d.Cin * d.H * d.W, cols.data());
          gemm(false, true, d.Cout, d.ck(), d.pix(), gb, d.pix(), cols.data(), d.pix(), T(1), dw.data<T>(), d.ck());
        }
        if (xn) {
          gemm(true, false, d.ck(), d.pix(), d.Cout, wv.data<T>(), d.ck(), gb, d.pix(), T(0), cols.data(), d.pix());
          col2im(d, cols.data(), dx.data<T>() + n * d.Cin * d.H * d.W);
        }
      }
      if (xn) accumulate_grad_adopt(xn, dx);
      if (wn) accumulate_grad_adopt(wn, dw);
      if (bn) {
        Tensor db = Tensor::zeros({d.Cout}, g.dtype());
        for (int64_t n = 0; n < d.B; ++n)
          for (int64_t c = 0; c < d.Cout; ++c)
            for (int64_t p = 0; p < d.pix(); ++p) db.data<T>()[c] += g.data<T>()[(n * d.Cout + c) * d.pix() + p];
        accumulate_grad_adopt(bn, db);
      }
    });
  };
  std::vector<Var> ins{x, w};
  if (b.defined()) ins.push_back(b);
  return Var::from_op(y, std::move(ins), bw, op);
}

// Per (image, group) of C/G channels × spatial elements: x̂ = (x − μ)·r, r = 1/sqrt(var + eps)
// (biased), y = x̂·w[c] + b[c]. Backward as layer_norm over the group with ĝ = g·w[c]:
// dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)); dw[c] = Σ g·x̂; db[c] = Σ g.
Var group_norm(const Var& x, const Var& w, const Var& b, int64_t groups, double eps) {
  const char* op = "group_norm";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() >= 2, op, "x must be [B, C, *], got " + shape_str(xv.shape()));
  const int64_t B = xv.size(0), C = xv.size(1), HW = xv.numel() / std::max<int64_t>(1, B * C);
  check(groups >= 1 && C % groups == 0, op,
        "channels " + std::to_string(C) + " not divisible into " + std::to_string(groups) + " groups");
  for (const Var* p : {&w, &b})
    if (p->defined()) {
      const Tensor& pv = val(*p, op, "w/b");
      same_dtype(xv, pv, op);
      check(pv.dim() == 1 && pv.size(0) == C, op, "w and b must be [C], got " + shape_str(pv.shape()));
    }
  const int64_t cg = C / groups, n = cg * HW;
  const Tensor wv = w.defined() ? w.value() : Tensor(), bv = b.defined() ? b.value() : Tensor();
  Tensor y = Tensor::empty(xv.shape(), xv.dtype()), xhat = Tensor::empty(xv.shape(), xv.dtype()),
         rs = Tensor::empty({B * groups}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    parallel_for(B * groups, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t c0 = (i % groups) * cg;
        const T* s = xv.data<T>() + i * n;  // the group is contiguous: channels c0 .. c0+cg
        double mu = 0, var = 0;
        for (int64_t k = 0; k < n; ++k) mu += double(s[k]);
        mu /= double(n);
        for (int64_t k = 0; k < n; ++k) var += (double(s[k]) - mu) * (double(s[k]) - mu);
        const T r = T(1.0 / std::sqrt(var / double(n) + eps));
        rs.data<T>()[i] = r;
        T *h = xhat.data<T>() + i * n, *d = y.data<T>() + i * n;
        for (int64_t k = 0; k < n; ++k) {
          const int64_t c = c0 + k / HW;
          h[k] = (s[k] - T(mu)) * r;
          d[k] = h[k] * (wv.defined() ? wv.data<T>()[c] : T(1)) + (bv.defined() ? bv.data<T>()[c] : T(0));
        }
      }
    });
  });
  if (!recording({&x, &w, &b})) return Var::from_op(y, {}, nullptr, op);
  Node *xn = grad_sink(x), *wn = grad_sink(w), *bn = grad_sink(b);
  auto bw = [xn, wn, bn, xhat, wv, rs, B, C, HW, groups, cg, n](const Tensor& g) {
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      const T *gg = g.data<T>(), *h = xhat.data<T>();
      if (xn) {
        Tensor dx = Tensor::empty(xhat.shape(), g.dtype());
        parallel_for(B * groups, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const int64_t c0 = (i % groups) * cg;
            const T *gr = gg + i * n, *hr = h + i * n;
            T s1 = 0, s2 = 0;
            for (int64_t k = 0; k < n; ++k) {
              const T gh = gr[k] * (wv.defined() ? wv.data<T>()[c0 + k / HW] : T(1));
              s1 += gh;
              s2 += gh * hr[k];
            }
            s1 /= T(n);
            s2 /= T(n);
            const T r = rs.data<T>()[i];
            T* o = dx.data<T>() + i * n;
            for (int64_t k = 0; k < n; ++k)
              o[k] = r * (gr[k] * (wv.defined() ? wv.data<T>()[c0 + k / HW] : T(1)) - s1 - hr[k] * s2);
          }
        });
        accumulate_grad_adopt(xn, dx);
      }
      if (wn || bn) {
        Tensor dw = Tensor::zeros({C}, g.dtype()), db = Tensor::zeros({C}, g.dtype());
        for (int64_t bb = 0; bb < B; ++bb)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < HW; ++p) {
              const int64_t k = (bb * C + c) * HW + p;
              dw.data<T>()[c] += gg[k] * h[k];
              db.data<T>()[c] += gg[k];
            }
        if (wn) accumulate_grad_adopt(wn, dw);
        if (bn) accumulate_grad_adopt(bn, db);
      }
    });
  };
  std::vector<Var> ins{x};
  if (w.defined()) ins.push_back(w);
  if (b.defined()) ins.push_back(b);
  return Var::from_op(y, std::move(ins), bw, op);
}

Var upsample_nearest2x(const Var& x) {
  const char* op = "upsample_nearest2x";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() == 4, op, "x must be [B, C, H, W], got " + shape_str(xv.shape()));
  const int64_t P = xv.size(0) * xv.size(1), H = xv.size(2), W = xv.size(3);
  Tensor y = Tensor::empty({xv.size(0), xv.size(1), 2 * H, 2 * W}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T = decltype(z);
    parallel_for(P, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p)
        for (int64_t i = 0; i < 2 * H; ++i)
          for (int64_t j = 0; j < 2 * W; ++j)
            y.data<T>()[(p * 2 * H + i) * 2 * W + j] = xv.data<T>()[(p * H + i / 2) * W + j / 2];
    });
  });
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, P, H, W, shape = xv.shape()](const Tensor& g) {
    Tensor dx = Tensor::zeros(shape, g.dtype());
    by_dtype(g.dtype(), [&](auto z) {
      using T = decltype(z);
      parallel_for(P, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p)
          for (int64_t i = 0; i < 2 * H; ++i)
            for (int64_t j = 0; j < 2 * W; ++j)
              dx.data<T>()[(p * H + i / 2) * W + j / 2] += g.data<T>()[(p * 2 * H + i) * 2 * W + j];
      });
    });
    accumulate_grad_adopt(xn, dx);
  };
  return Var::from_op(y, {x}, bw, op);
}

}  // namespace janus::kernels::ag
