// Vision ops (conv2d, group_norm, upsample_nearest2x, silu, attention_full) against float64
// references written here from each op's definition.
// Tolerance 2e-5 relative (max |Δ| / max |ref|): float32 kernels accumulating at most ~600 terms
// (sgemm over K = Cin·kh·kw, softmax over S keys) stay ~100× below it; any indexing or padding
// error is O(1).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/conv2d.h"
#include "kernels/ops.h"

namespace janus::kernels {
namespace {

constexpr double kTol = 2e-5;

std::vector<float> randn(size_t n, uint64_t seed, float std = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, std);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
double rel(const std::vector<float>& got, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    num = std::max(num, std::fabs(double(got[i]) - ref[i]));
    den = std::max(den, std::fabs(ref[i]));
  }
  return got.size() == ref.size() ? num / std::max(den, 1e-300) : INFINITY;
}

struct ConvCase {
  int64_t B, Cin, H, W, Cout, kh, kw;
  Conv2dOptions opt;
  bool bias;
  DType wdtype;
};

std::vector<double> conv_ref(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, int64_t Ho, int64_t Wo) {
  std::vector<double> y(size_t(c.B * c.Cout * Ho * Wo));
  for (int64_t n = 0; n < c.B; ++n)
    for (int64_t co = 0; co < c.Cout; ++co)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double s = c.bias ? b[size_t(co)] : 0.0;
          for (int64_t ci = 0; ci < c.Cin; ++ci)
            for (int64_t i = 0; i < c.kh; ++i)
              for (int64_t j = 0; j < c.kw; ++j) {
                const int64_t ih = oh * c.opt.stride - c.opt.pad_top + i, iw = ow * c.opt.stride - c.opt.pad_left + j;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                s += double(x[size_t(((n * c.Cin + ci) * c.H + ih) * c.W + iw)]) *
                     w[size_t(((co * c.Cin + ci) * c.kh + i) * c.kw + j)];
              }
          y[size_t(((n * c.Cout + co) * Ho + oh) * Wo + ow)] = s;
        }
  return y;
}

TEST(Conv2d, MatchesFloat64ReferenceForPaddingStrideAndKernelShapes) {
  const ConvCase cases[] = {
      {2, 5, 9, 7, 6, 3, 3, Conv2dOptions::symmetric(1, 1), true, DType::F32},     // VQ 3×3 "same"
      {1, 4, 9, 8, 3, 3, 3, {2, 0, 1, 0, 1}, true, DType::F32},                    // LlamaGen Downsample
      {2, 3, 16, 16, 8, 4, 4, Conv2dOptions::symmetric(4, 0), true, DType::BF16},  // patch embed
      {3, 7, 5, 6, 9, 1, 1, Conv2dOptions{}, false, DType::F32},                   // 1×1 (direct path)
      {1, 2, 40, 33, 70, 3, 2, {3, 2, 0, 1, 2}, true, DType::F16},                 // odd everything, many tiles
  };
  uint64_t seed = 100;
  for (const ConvCase& c : cases) {
    const auto x = randn(size_t(c.B * c.Cin * c.H * c.W), seed++);
    Tensor wt =
        Tensor::from_f32({c.Cout, c.Cin, c.kh, c.kw}, randn(size_t(c.Cout * c.Cin * c.kh * c.kw), seed++)).to(c.wdtype);
    const auto w = wt.to_f32_vector();  // the reference uses the rounded weights
    const auto b = randn(size_t(c.Cout), seed++);
    const int64_t Ho = (c.H + c.opt.pad_top + c.opt.pad_bottom - c.kh) / c.opt.stride + 1;
    const int64_t Wo = (c.W + c.opt.pad_left + c.opt.pad_right - c.kw) / c.opt.stride + 1;
    Tensor y = Tensor::empty({c.B, c.Cout, Ho, Wo}, DType::F32);
    conv2d(y, Tensor::from_f32({c.B, c.Cin, c.H, c.W}, x), wt, c.bias ? Tensor::from_f32({c.Cout}, b) : Tensor(),
           c.opt);
    const double err = rel(y.to_f32_vector(), conv_ref(c, x, w, b, Ho, Wo));
    EXPECT_LT(err, kTol) << "case Cin " << c.Cin << " k " << c.kh << "x" << c.kw << " stride " << c.opt.stride;
  }
}

// An image larger than the im2col budget is done in chunks of output pixels that start mid-row.
TEST(Conv2d, ChunkedIm2colMatchesFloat64Reference) {
  const ConvCase c{2, 3, 37, 29, 5, 3, 3, {2, 1, 1, 0, 2}, true, DType::F32};
  const auto x = randn(size_t(c.B * c.Cin * c.H * c.W), 30), w = randn(size_t(c.Cout * c.Cin * 9), 31);
  const auto b = randn(size_t(c.Cout), 32);
  const int64_t Ho = (c.H + 1 + 1 - 3) / 2 + 1, Wo = (c.W + 0 + 2 - 3) / 2 + 1;  // 19 × 15 = 285 pixels
  const int64_t saved = cpu::conv2d_col_bytes();
  cpu::set_conv2d_col_bytes(1);  // minimum chunk: 256 pixels → chunks of 256 + 29
  Tensor y = Tensor::empty({c.B, c.Cout, Ho, Wo}, DType::F32);
  conv2d(y, Tensor::from_f32({c.B, c.Cin, c.H, c.W}, x), Tensor::from_f32({c.Cout, c.Cin, 3, 3}, w),
         Tensor::from_f32({c.Cout}, b), c.opt);
  cpu::set_conv2d_col_bytes(saved);
  EXPECT_LT(rel(y.to_f32_vector(), conv_ref(c, x, w, b, Ho, Wo)), kTol);
}

TEST(Conv2d, RejectsMismatchedShapes) {
  Tensor x = Tensor::zeros({1, 3, 8, 8}, DType::F32), w = Tensor::zeros({4, 2, 3, 3}, DType::F32);
  Tensor y = Tensor::empty({1, 4, 8, 8}, DType::F32);
  EXPECT_THROW(conv2d(y, x, w, Tensor(), Conv2dOptions::symmetric(1, 1)), Error);  // Cin 3 vs 2
  Tensor w2 = Tensor::zeros({4, 3, 3, 3}, DType::F32), y2 = Tensor::empty({1, 4, 7, 8}, DType::F32);
  EXPECT_THROW(conv2d(y2, x, w2, Tensor(), Conv2dOptions::symmetric(1, 1)), Error);  // wrong Ho
  Tensor w3 = Tensor::zeros({4, 3, 9, 9}, DType::F32);
  EXPECT_THROW(conv2d(y, x, w3, Tensor(), Conv2dOptions{}), Error);  // kernel larger than input
}

TEST(GroupNorm, MatchesFloat64ReferenceWithAndWithoutSwish) {
  const int64_t B = 2, C = 12, H = 5, W = 3, G = 4;
  auto x = randn(size_t(B * C * H * W), 7, 3.0f), w = randn(C, 8), b = randn(C, 9);
  for (float& v : x) v += 2.0f;  // non-zero mean
  Tensor wt = Tensor::from_f32({C}, w).to(DType::BF16);
  const auto wq = wt.to_f32_vector();
  for (bool swish : {false, true}) {
    Tensor y = Tensor::empty({B, C, H, W}, DType::F32);
    group_norm(y, Tensor::from_f32({B, C, H, W}, x), wt, Tensor::from_f32({C}, b), G, 1e-6f, swish);
    std::vector<double> ref(x.size());
    const int64_t n = C / G * H * W;
    for (int64_t bg = 0; bg < B * G; ++bg) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < n; ++i) m += x[size_t(bg * n + i)];
      m /= double(n);
      for (int64_t i = 0; i < n; ++i) v += (x[size_t(bg * n + i)] - m) * (x[size_t(bg * n + i)] - m);
      v /= double(n);
      for (int64_t i = 0; i < n; ++i) {
        const int64_t c = (bg % G) * (C / G) + i / (H * W);
        double r = (x[size_t(bg * n + i)] - m) / std::sqrt(v + 1e-6) * wq[size_t(c)] + b[size_t(c)];
        if (swish) r = r / (1 + std::exp(-r));
        ref[size_t(bg * n + i)] = r;
      }
    }
    EXPECT_LT(rel(y.to_f32_vector(), ref), kTol) << "swish " << swish;
  }
  Tensor y = Tensor::empty({B, C, H, W}, DType::F32);
  EXPECT_THROW(group_norm(y, Tensor::from_f32({B, C, H, W}, x), wt, Tensor::from_f32({C}, b), 5, 1e-6f), Error);
}

TEST(UpsampleNearest2x, RepeatsEveryPixelTwiceInEachDirection) {
  const int64_t B = 2, C = 3, H = 4, W = 5;
  const auto x = randn(size_t(B * C * H * W), 11);
  Tensor y = Tensor::empty({B, C, 2 * H, 2 * W}, DType::F32);
  upsample_nearest2x(y, Tensor::from_f32({B, C, H, W}, x));
  const auto got = y.to_f32_vector();
  for (int64_t p = 0; p < B * C; ++p)
    for (int64_t i = 0; i < 2 * H; ++i)
      for (int64_t j = 0; j < 2 * W; ++j)
        ASSERT_EQ(got[size_t((p * 2 * H + i) * 2 * W + j)], x[size_t((p * H + i / 2) * W + j / 2)]);
  Tensor bad = Tensor::empty({B, C, 2 * H, W}, DType::F32);
  EXPECT_THROW(upsample_nearest2x(bad, Tensor::from_f32({B, C, H, W}, x)), Error);
}

TEST(Silu, MatchesFloat64Reference) {
  const auto x = randn(1000, 12, 4.0f);
  Tensor t = Tensor::from_f32({10, 100}, x);
  silu(t, t);  // in place
  std::vector<double> ref(x.size());
  for (size_t i = 0; i < x.size(); ++i) ref[i] = x[i] / (1 + std::exp(-double(x[i])));
  EXPECT_LT(rel(t.to_f32_vector(), ref), kTol);
}

TEST(AttentionFull, EveryQuerySeesEveryKey) {
  const int64_t T = 7, S = 9, H = 3, D = 16, Dv = 12;
  const auto q = randn(size_t(T * H * D), 13), k = randn(size_t(S * H * D), 14), v = randn(size_t(S * H * Dv), 15);
  const float scale = 0.25f;
  Tensor out = Tensor::empty({T, H, Dv}, DType::F32);
  attention_full(out, Tensor::from_f32({T, H, D}, q), Tensor::from_f32({S, H, D}, k), Tensor::from_f32({S, H, Dv}, v),
                 scale);
  std::vector<double> ref(size_t(T * H * Dv), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> p(static_cast<size_t>(S));
      double m = -INFINITY, sum = 0;
      for (int64_t j = 0; j < S; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d) s += double(q[size_t((t * H + h) * D + d)]) * k[size_t((j * H + h) * D + d)];
        p[size_t(j)] = s * scale;
        m = std::max(m, p[size_t(j)]);
      }
      for (auto& e : p) sum += (e = std::exp(e - m));
      for (int64_t j = 0; j < S; ++j)
        for (int64_t d = 0; d < Dv; ++d)
          ref[size_t((t * H + h) * Dv + d)] += p[size_t(j)] / sum * v[size_t((j * H + h) * Dv + d)];
    }
  EXPECT_LT(rel(out.to_f32_vector(), ref), kTol);
}

}  // namespace
}  // namespace janus::kernels
