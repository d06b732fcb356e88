// Transformer ops: RoPE and scaled-dot-product attention (GQA, causal, segment masks).
#include <cmath>

#include "kernels/autograd/op_util.h"
#include "kernels/thread_pool.h"

namespace janus::kernels::ag {
using namespace detail;

// ---- RoPE -----------------------------------------------------------------------------------
// Forward rotates each pair (a, b) by θ: (a cos θ − b sin θ, b cos θ + a sin θ) · mscale;
// backward applies the transposed rotation to the gradient: (ga cos θ + gb sin θ, gb cos θ − ga sin θ).
Var rope(const Var& x, const std::vector<int64_t>& pos, const std::vector<float>& inv_freq, int offset, RopeStyle style,
         double mscale) {
  const char* op = "rope";
  const Tensor& xv = val(x, op, "x");
  check(xv.dim() == 3 || xv.dim() == 4, op, "x must be [B, T, H, D] or [T, H, D], got " + shape_str(xv.shape()));
  const int64_t B = xv.dim() == 4 ? xv.size(0) : 1, T = xv.size(-3), H = xv.size(-2), D = xv.size(-1);
  const int64_t half = int64_t(inv_freq.size());
  check(offset >= 0 && offset + 2 * half <= D, op,
        "rotary dims [" + std::to_string(offset) + ", " + std::to_string(offset + 2 * half) + ") exceed head dim " +
            std::to_string(D));
  const int64_t P = int64_t(pos.size());
  check(P == T || P == B * T, op,
        "pos must hold T = " + std::to_string(T) + " or B·T = " + std::to_string(B * T) + " positions, got " +
            std::to_string(P));
  // cos/sin per (row of pos, j), in the value dtype: for f32 the angle is the float32 product
  // pos · inv_freq and cos/sin are taken in float, exactly as kernels::rope; for f64 in double.
  Tensor cs = Tensor::empty({P, half, 2}, xv.dtype());
  by_dtype(xv.dtype(), [&](auto z) {
    using T_ = decltype(z);
    for (int64_t p = 0; p < P; ++p)
      for (int64_t j = 0; j < half; ++j) {
        const T_ angle = T_(pos[size_t(p)]) * T_(inv_freq[size_t(j)]);
        cs.data<T_>()[(p * half + j) * 2] = std::cos(angle) * T_(mscale);
        cs.data<T_>()[(p * half + j) * 2 + 1] = std::sin(angle) * T_(mscale);
      }
  });
  // dir = +1 forward rotation, −1 transposed (backward).
  auto apply = [=](const Tensor& src, int dir) {
    Tensor dst = src.clone();
    by_dtype(src.dtype(), [&](auto z) {
      using T_ = decltype(z);
      parallel_for(B * T, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const T_* c = cs.data<T_>() + (P == T ? r % T : r) * half * 2;
          for (int64_t h = 0; h < H; ++h) {
            const T_* s = src.data<T_>() + (r * H + h) * D + offset;
            T_* d = dst.data<T_>() + (r * H + h) * D + offset;
            for (int64_t j = 0; j < half; ++j) {
              const int64_t i0 = style == RopeStyle::kHalf ? j : 2 * j;
              const int64_t i1 = style == RopeStyle::kHalf ? j + half : 2 * j + 1;
              const T_ co = c[2 * j], si = T_(dir) * c[2 * j + 1];
              d[i0] = s[i0] * co - s[i1] * si;
              d[i1] = s[i1] * co + s[i0] * si;
            }
          }
        }
      });
    });
    return dst;
  };
  Tensor y = apply(xv, 1);
  if (!recording({&x})) return Var::from_op(y, {}, nullptr, op);
  Node* xn = grad_sink(x);
  auto bw = [xn, apply](const Tensor& g) { accumulate_grad_adopt(xn, apply(g, -1)); };
  return Var::from_op(y, {x}, bw, op);
}

// ---- attention ------------------------------------------------------------------------------
// Per (batch, query head): S = scale·Q·Kᵀ, masked, P = softmax(S) (max-subtracted, value dtype),
// O = P·V. The forward saves each row's log-sum-exp; the backward recomputes P = exp(S − lse)
// and, with δ_t = Σ dO·O, forms dS = P ∘ (dP − δ) (dP = dO·Vᵀ), dQ = scale·dS·K,
// dK += scale·dSᵀ·Q, dV += Pᵀ·dO (KV-head gradients summed over the heads of their group).
namespace {
struct AttnDims {
  int64_t B, T, S, Hq, Hkv, D, Dv;
  bool causal;
};

template <typename T_>
void scores(const AttnDims& a, const T_* q, const T_* k, const int32_t* seg, int64_t b, double scale, T_* s) {
  gemm(false, true, a.T, a.S, a.D, q, a.Hq * a.D, k, a.Hkv * a.D, T_(0), s, a.S);
  for (int64_t t = 0; t < a.T; ++t)
    for (int64_t j = 0; j < a.S; ++j) {
      const bool masked = (a.causal && j > t) || (seg && seg[b * a.T + t] != seg[b * a.S + j]);
      s[t * a.S + j] = masked ? T_(-INFINITY) : s[t * a.S + j] * T_(scale);
    }
}
}  // namespace

Var attention(const Var& q, const Var& k, const Var& v, double scale, bool causal,
              const std::vector<int32_t>& segments) {
  const char* op = "attention";
  const Tensor &qv = val(q, op, "q"), &kv = val(k, op, "k"), &vv = val(v, op, "v");
  same_dtype(qv, kv, op);
  same_dtype(qv, vv, op);
  const int nd = qv.dim();
  check((nd == 3 || nd == 4) && kv.dim() == nd && vv.dim() == nd, op,
        "q, k, v must all be [B, T, H, D] (or [T, H, D]), got " + shape_str(qv.shape()) + ", " + shape_str(kv.shape()) +
            ", " + shape_str(vv.shape()));
  AttnDims a{
      nd == 4 ? qv.size(0) : 1, qv.size(-3), kv.size(-3), qv.size(-2), kv.size(-2), qv.size(-1), vv.size(-1), causal};
  const bool shapes_ok = (nd == 3 || (kv.size(0) == a.B && vv.size(0) == a.B)) && kv.size(-1) == a.D &&
                         vv.size(-3) == a.S && vv.size(-2) == a.Hkv && a.Hkv > 0 && a.Hq % a.Hkv == 0;
  check(shapes_ok, op,
        "incompatible q " + shape_str(qv.shape()) + ", k " + shape_str(kv.shape()) + ", v " + shape_str(vv.shape()) +
            " (need equal batch, k/v equal length and heads, Hq % Hkv == 0, q and k equal head dim)");
  check(!causal || a.T == a.S, op, "causal attention needs T == S");
  const int32_t* seg = nullptr;
  if (!segments.empty()) {
    check(a.T == a.S && int64_t(segments.size()) == a.B * a.T, op,
          "segments must hold B·T ids with T == S, got " + std::to_string(segments.size()));
    seg = segments.data();
  }
  Shape os = qv.shape();
  os.back() = a.Dv;
  Tensor out = Tensor::empty(os, qv.dtype());
  Tensor lse = Tensor::empty({a.B, a.Hq, a.T}, qv.dtype());
  const int64_t group = a.Hq / a.Hkv;
  by_dtype(qv.dtype(), [&](auto z) {
    using T_ = decltype(z);
    parallel_for(a.B * a.Hq, [&](int64_t i0, int64_t i1) {
      std::vector<T_> s(size_t(a.T * a.S));
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t b = i / a.Hq, h = i % a.Hq, hk = h / group;
        const T_* qp = qv.data<T_>() + (b * a.T * a.Hq + h) * a.D;
        const T_* kp = kv.data<T_>() + (b * a.S * a.Hkv + hk) * a.D;
        const T_* vp = vv.data<T_>() + (b * a.S * a.Hkv + hk) * a.Dv;
        scores(a, qp, kp, seg, b, scale, s.data());
        T_* l = lse.data<T_>() + (b * a.Hq + h) * a.T;
        for (int64_t t = 0; t < a.T; ++t) {
          T_* row = s.data() + t * a.S;
          T_ mx = -INFINITY;
          for (int64_t j = 0; j < a.S; ++j) mx = std::max(mx, row[j]);
          if (mx == -INFINITY) {  // every key masked: zero output, zero gradient
            for (int64_t j = 0; j < a.S; ++j) row[j] = 0;
            l[t] = -INFINITY;
            continue;
          }
          T_ sum = 0;
          for (int64_t j = 0; j < a.S; ++j) sum += (row[j] = std::exp(row[j] - mx));
          for (int64_t j = 0; j < a.S; ++j) row[j] /= sum;
          l[t] = mx + std::log(sum);
        }
        gemm(false, false, a.T, a.Dv, a.S, s.data(), a.S, vp, a.Hkv * a.Dv, T_(0),
             out.data<T_>() + (b * a.T * a.Hq + h) * a.Dv, a.Hq * a.Dv);
      }
    });
  });
  if (!recording({&q, &k, &v})) return Var::from_op(out, {}, nullptr, op);
  Node *qn = grad_sink(q), *kn = grad_sink(k), *vn = grad_sink(v);
  auto bw = [qn, kn, vn, qv, kv, vv, out, lse, a, scale, segments, group](const Tensor& g) {
    Tensor dq = Tensor::zeros(qv.shape(), qv.dtype()), dk = Tensor::zeros(kv.shape(), kv.dtype()),
           dv = Tensor::zeros(vv.shape(), vv.dtype());
    const int32_t* seg = segments.empty() ? nullptr : segments.data();
    by_dtype(g.dtype(), [&](auto z) {
      using T_ = decltype(z);
      parallel_for(a.B * a.Hkv, [&](int64_t i0, int64_t i1) {
        std::vector<T_> p(size_t(a.T * a.S)), dp(size_t(a.T * a.S));
        for (int64_t i = i0; i < i1; ++i) {
          const int64_t b = i / a.Hkv, hk = i % a.Hkv;
          const int64_t koff = (b * a.S * a.Hkv + hk) * a.D, voff = (b * a.S * a.Hkv + hk) * a.Dv;
          for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
            const int64_t qoff = (b * a.T * a.Hq + h) * a.D, ooff = (b * a.T * a.Hq + h) * a.Dv;
            const T_* l = lse.data<T_>() + (b * a.Hq + h) * a.T;
            scores(a, qv.data<T_>() + qoff, kv.data<T_>() + koff, seg, b, scale, p.data());
            for (int64_t t = 0; t < a.T; ++t)
              for (int64_t j = 0; j < a.S; ++j) {
                T_& x = p[size_t(t * a.S + j)];
                x = l[t] == -INFINITY ? T_(0) : std::exp(x - l[t]);
              }
            const T_* go = g.data<T_>() + ooff;
            // dV += Pᵀ · dO
            gemm(true, false, a.S, a.Dv, a.T, p.data(), a.S, go, a.Hq * a.Dv, T_(1), dv.data<T_>() + voff,
                 a.Hkv * a.Dv);
            // dP = dO · Vᵀ, then dS = scale · P ∘ (dP − δ)
            gemm(false, true, a.T, a.S, a.Dv, go, a.Hq * a.Dv, vv.data<T_>() + voff, a.Hkv * a.Dv, T_(0), dp.data(),
                 a.S);
            for (int64_t t = 0; t < a.T; ++t) {
              const T_ *gr = go + t * a.Hq * a.Dv, *orow = out.data<T_>() + ooff + t * a.Hq * a.Dv;
              T_ delta = 0;
              for (int64_t d = 0; d < a.Dv; ++d) delta += gr[d] * orow[d];
              for (int64_t j = 0; j < a.S; ++j) {
                const size_t ij = size_t(t * a.S + j);
                dp[ij] = T_(scale) * p[ij] * (dp[ij] - delta);
              }
            }
            // dQ = dS · K; dK += dSᵀ · Q
            gemm(false, false, a.T, a.D, a.S, dp.data(), a.S, kv.data<T_>() + koff, a.Hkv * a.D, T_(0),
                 dq.data<T_>() + qoff, a.Hq * a.D);
            gemm(true, false, a.S, a.D, a.T, dp.data(), a.S, qv.data<T_>() + qoff, a.Hq * a.D, T_(1),
                 dk.data<T_>() + koff, a.Hkv * a.D);
          }
        }
      });
    });
    accumulate_grad_adopt(qn, dq);
    accumulate_grad_adopt(kn, dk);
    accumulate_grad_adopt(vn, dv);
  };
  return Var::from_op(out, {q, k, v}, bw, op);
}

}  // namespace janus::kernels::ag
