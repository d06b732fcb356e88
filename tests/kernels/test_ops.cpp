// Every CPU op against a float64 reference written here from the op's definition.
// Tolerances: float32 kernels with float32 accumulation over at most a few hundred terms;
// 2e-5 relative (max |Δ| / max |ref|) leaves ~100 ulp of headroom, far below any real bug.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "kernels/ops.h"
#include "kernels/rope_freqs.h"
#include "kernels/sampling.h"
#include "kernels/thread_pool.h"
#include "tests/error_of.h"

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

TEST(RmsNorm, MatchesFloat64ReferenceWithBf16Weight) {
  const int64_t R = 5, D = 300;
  auto x = randn(R * D, 1), w = randn(D, 2);
  Tensor wt = Tensor::from_f32({D}, w).to(DType::BF16);
  Tensor xt = Tensor::from_f32({R, D}, x), y = Tensor::empty({R, D}, DType::F32);
  rms_norm(y, xt, wt, 1e-6f);
  const auto wq = wt.to_f32_vector();
  std::vector<double> ref(R * D);
  for (int64_t r = 0; r < R; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < D; ++i) ss += double(x[r * D + i]) * x[r * D + i];
    double inv = 1.0 / std::sqrt(ss / D + 1e-6);
    for (int64_t i = 0; i < D; ++i) ref[r * D + i] = wq[i] * x[r * D + i] * inv;
  }
  EXPECT_LT(rel(y.to_f32_vector(), ref), kTol);
}

TEST(LayerNorm, MatchesFloat64Reference) {
  const int64_t R = 3, D = 130;
  auto x = randn(R * D, 3), w = randn(D, 4), b = randn(D, 5);
  Tensor y = Tensor::empty({R, D}, DType::F32);
  layer_norm(y, Tensor::from_f32({R, D}, x), Tensor::from_f32({D}, w), Tensor::from_f32({D}, b), 1e-6f);
  std::vector<double> ref(R * D);
  for (int64_t r = 0; r < R; ++r) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < D; ++i) m += x[r * D + i];
    m /= D;
    for (int64_t i = 0; i < D; ++i) v += (x[r * D + i] - m) * (x[r * D + i] - m);
    v /= D;
    for (int64_t i = 0; i < D; ++i) ref[r * D + i] = (x[r * D + i] - m) / std::sqrt(v + 1e-6) * w[i] + b[i];
  }
  EXPECT_LT(rel(y.to_f32_vector(), ref), kTol);
}

TEST(Elementwise, SiluMulGeluAddSoftmaxMatchFloat64) {
  const int64_t R = 4, D = 77;
  auto a = randn(R * D, 6, 3.0f), b = randn(R * D, 7);
  Tensor ta = Tensor::from_f32({R, D}, a), tb = Tensor::from_f32({R, D}, b), y = Tensor::empty({R, D}, DType::F32);
  std::vector<double> ref(R * D);
  silu_mul(y, ta, tb);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = a[i] / (1 + std::exp(-double(a[i]))) * b[i];
  EXPECT_LT(rel(y.to_f32_vector(), ref), kTol) << "silu_mul";
  gelu(y, ta);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = 0.5 * a[i] * (1 + std::erf(a[i] / std::sqrt(2.0)));
  EXPECT_LT(rel(y.to_f32_vector(), ref), kTol) << "gelu";
  add(y, ta, tb);
  for (size_t i = 0; i < ref.size(); ++i) ref[i] = double(a[i]) + b[i];
  EXPECT_LT(rel(y.to_f32_vector(), ref), kTol) << "add";
  Tensor s = ta.clone();
  softmax_rows(s);
  for (int64_t r = 0; r < R; ++r) {
    double m = -1e300, z = 0;
    for (int64_t i = 0; i < D; ++i) m = std::max(m, double(a[r * D + i]));
    for (int64_t i = 0; i < D; ++i) z += std::exp(a[r * D + i] - m);
    for (int64_t i = 0; i < D; ++i) ref[r * D + i] = std::exp(a[r * D + i] - m) / z;
  }
  EXPECT_LT(rel(s.to_f32_vector(), ref), kTol) << "softmax";
}

TEST(Embedding, GathersRowsAndRejectsOutOfRangeIds) {
  auto table = randn(10 * 6, 8);
  Tensor t = Tensor::from_f32({10, 6}, table).to(DType::BF16), y = Tensor::empty({3, 6}, DType::F32);
  const int64_t ids[3] = {9, 0, 4};
  embedding(y, t, ids, 3);
  const auto tq = t.to_f32_vector(), got = y.to_f32_vector();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 6; ++j) EXPECT_EQ(got[i * 6 + j], tq[ids[i] * 6 + j]);
  const int64_t bad[1] = {10};
  Tensor y1 = Tensor::empty({1, 6}, DType::F32);
  EXPECT_THROW(embedding(y1, t, bad, 1), Error);
}

// RoPE against the rotation written out in float64, both pairings, with a rotary offset.
TEST(Rope, HalfAndInterleavedMatchFloat64Rotation) {
  const int64_t T = 5, H = 3, D = 20;
  const int offset = 4, rot = 16;
  std::vector<float> inv(rot / 2);
  for (int j = 0; j < rot / 2; ++j) inv[j] = float(1.0 / std::pow(10000.0, 2.0 * j / rot));
  const int64_t pos[T] = {0, 1, 7, 100, 4095};
  for (RopeStyle style : {RopeStyle::kHalf, RopeStyle::kInterleaved}) {
    auto x = randn(T * H * D, 9);
    Tensor t = Tensor::from_f32({T, H, D}, x);
    rope(t, pos, inv, offset, style, 0.9f);
    std::vector<double> ref(x.begin(), x.end());
    for (int64_t tt = 0; tt < T; ++tt)
      for (int64_t h = 0; h < H; ++h)
        for (int j = 0; j < rot / 2; ++j) {
          const double ang = double(float(pos[tt]) * inv[j]);
          const int64_t base = (tt * H + h) * D + offset;
          const int64_t i0 = style == RopeStyle::kHalf ? base + j : base + 2 * j;
          const int64_t i1 = style == RopeStyle::kHalf ? base + j + rot / 2 : base + 2 * j + 1;
          ref[i0] = 0.9 * (x[i0] * std::cos(ang) - x[i1] * std::sin(ang));
          ref[i1] = 0.9 * (x[i1] * std::cos(ang) + x[i0] * std::sin(ang));
        }
    EXPECT_LT(rel(t.to_f32_vector(), ref), kTol) << (style == RopeStyle::kHalf ? "half" : "interleaved");
  }
}

// The DeepSeek-V3 YaRN table (factor 40, original 4096, β 32/1): frequency divisors 1 for pairs
// 0..10, 40 for 23..31, and the ramp between (reference notes §2, from DeepSeek's model.py).
TEST(RopeFreqs, YarnMatchesDeepSeekV3Divisors) {
  RopeParams p;
  p.type = "yarn";
  p.theta = 10000;
  p.dim = 64;
  p.factor = 40;
  p.original_max_position_embeddings = 4096;
  p.mscale = 1.0;
  p.mscale_all_dim = 1.0;
  const RopeTable t = rope_table(p);
  ASSERT_EQ(t.inv_freq.size(), 32u);
  const double expect[] = {1.0,   1.0,   1.0,  1.0,   1.0, 1.0,   1.0,   1.0, 1.0,   1.0, 1.0,
                           1.081, 1.176, 1.29, 1.429, 1.6, 1.818, 2.105, 2.5, 3.077, 4.0, 5.714,
                           10.0,  40,    40,   40,    40,  40,    40,    40,  40,    40};
  for (int j = 0; j < 32; ++j) {
    const double plain = 1.0 / std::pow(10000.0, 2.0 * j / 64);
    EXPECT_NEAR(plain / t.inv_freq[j], expect[j], 2e-3 * expect[j]) << "pair " << j;
  }
  EXPECT_FLOAT_EQ(t.attention_scaling, 1.0f);
  EXPECT_NEAR(yarn_get_mscale(40, 1.0), 1.368888, 1e-6);
}

TEST(RopeFreqs, Llama3KeepsHighFrequenciesAndDividesLowOnes) {
  RopeParams p;
  p.type = "llama3";
  p.theta = 500000;
  p.dim = 128;
  p.factor = 8;
  p.low_freq_factor = 1;
  p.high_freq_factor = 4;
  p.original_max_position_embeddings = 8192;
  const RopeTable t = rope_table(p);
  RopeParams d = p;
  d.type = "default";
  const RopeTable base = rope_table(d);
  EXPECT_FLOAT_EQ(t.inv_freq[0], base.inv_freq[0]);        // wavelength 2π < 2048: untouched
  EXPECT_FLOAT_EQ(t.inv_freq[63], base.inv_freq[63] / 8);  // longest wavelengths: ÷ factor
  for (size_t j = 0; j < 64; ++j) {
    EXPECT_LE(t.inv_freq[j], base.inv_freq[j]);
    EXPECT_GE(t.inv_freq[j], base.inv_freq[j] / 8 * (1 - 1e-6f));
  }
  p.type = "dynamic";
  EXPECT_THROW(rope_table(p), Error);
}

void attention_ref(std::vector<double>& out, const std::vector<float>& q, const std::vector<float>& k,
                   const std::vector<float>& v, int64_t T, int64_t Hq, int64_t D, int64_t S, int64_t Hkv, int64_t Dv,
                   double scale, int64_t pos0) {
  out.assign(T * Hq * Dv, 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t kh = h / (Hq / Hkv), n = pos0 + t + 1;
      std::vector<double> s(n);
      double m = -1e300, z = 0;
      for (int64_t j = 0; j < n; ++j) {
        double d = 0;
        for (int64_t i = 0; i < D; ++i) d += double(q[(t * Hq + h) * D + i]) * k[(j * Hkv + kh) * D + i];
        s[j] = d * scale;
        m = std::max(m, s[j]);
      }
      for (auto& x : s) z += (x = std::exp(x - m));
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < Dv; ++i) out[(t * Hq + h) * Dv + i] += s[j] / z * v[(j * Hkv + kh) * Dv + i];
    }
}

TEST(Attention, CausalGqaMatchesFloat64IncludingCachedPrefix) {
  const int64_t T = 4, Hq = 6, Hkv = 2, D = 24, Dv = 20, S = 9, pos0 = S - T;
  auto q = randn(T * Hq * D, 10), k = randn(S * Hkv * D, 11), v = randn(S * Hkv * Dv, 12);
  Tensor out = Tensor::empty({T, Hq, Dv}, DType::F32);
  attention(out, Tensor::from_f32({T, Hq, D}, q), Tensor::from_f32({S, Hkv, D}, k), Tensor::from_f32({S, Hkv, Dv}, v),
            0.3f, pos0);
  std::vector<double> ref;
  attention_ref(ref, q, k, v, T, Hq, D, S, Hkv, Dv, 0.3, pos0);
  EXPECT_LT(rel(out.to_f32_vector(), ref), kTol);
  // Keys and values as strided views into one wider buffer (a cache layout).
  Tensor wide = Tensor::zeros({S, Hkv, D + Dv + 3}, DType::F32);
  wide.slice(2, 0, D).copy_from(Tensor::from_f32({S, Hkv, D}, k));
  wide.slice(2, D + 3, D + 3 + Dv).copy_from(Tensor::from_f32({S, Hkv, Dv}, v));
  Tensor out2 = Tensor::empty({T, Hq, Dv}, DType::F32);
  attention(out2, Tensor::from_f32({T, Hq, D}, q), wide.slice(2, 0, D), wide.slice(2, D + 3, D + 3 + Dv), 0.3f, pos0);
  EXPECT_EQ(out2.to_f32_vector(), out.to_f32_vector());
  EXPECT_THROW(attention(out, Tensor::from_f32({T, Hq, D}, q), Tensor::from_f32({S, Hkv, D}, k),
                         Tensor::from_f32({S, Hkv, Dv}, v), 0.3f, S),
               Error);
}

// Absorbed MLA over a latent cache equals expanding the latent into per-head K/V (float64).
TEST(MlaAttention, AbsorbedKernelMatchesFloat64NaiveForm) {
  const int64_t T = 3, H = 4, dn = 16, dr = 8, dv = 12, C = 32, S = 7, pos0 = S - T;
  auto qn = randn(T * H * dn, 13), qp = randn(T * H * dr, 14), cache = randn(S * (C + dr), 15);
  auto wkv = randn(H * (dn + dv) * C, 16, 0.2f);
  Weight w;
  w.w = Tensor::from_f32({H * (dn + dv), C}, wkv).to(DType::BF16);
  const auto wq = w.w.to_f32_vector();
  Tensor out = Tensor::empty({T, H, dv}, DType::F32);
  mla_attention_absorbed(out, Tensor::from_f32({T, H, dn}, qn), Tensor::from_f32({T, H, dr}, qp),
                         Tensor::from_f32({S, C + dr}, cache), w, 0.25f, pos0);
  // Naive: k = [W_UK c ; k_pe], v = W_UV c per head.
  std::vector<float> q(T * H * (dn + dr)), k(S * H * (dn + dr)), v(S * H * dv);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < dn; ++i) q[(t * H + h) * (dn + dr) + i] = qn[(t * H + h) * dn + i];
      for (int64_t i = 0; i < dr; ++i) q[(t * H + h) * (dn + dr) + dn + i] = qp[(t * H + h) * dr + i];
    }
  for (int64_t s = 0; s < S; ++s)
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t r = 0; r < dn + dv; ++r) {
        double acc = 0;
        for (int64_t c = 0; c < C; ++c) acc += double(wq[(h * (dn + dv) + r) * C + c]) * cache[s * (C + dr) + c];
        if (r < dn)
          k[(s * H + h) * (dn + dr) + r] = float(acc);
        else
          v[(s * H + h) * dv + r - dn] = float(acc);
      }
      for (int64_t i = 0; i < dr; ++i) k[(s * H + h) * (dn + dr) + dn + i] = cache[s * (C + dr) + C + i];
    }
  std::vector<double> ref;
  attention_ref(ref, q, k, v, T, H, dn + dr, S, H, dv, 0.25, pos0);
  EXPECT_LT(rel(out.to_f32_vector(), ref), 1e-4);  // the float32 K/V expansion adds rounding
}

Tensor logits_from(const std::vector<float>& v, int64_t T) { return Tensor::from_f32({T, int64_t(v.size()) / T}, v); }

// The correction bias changes which experts are chosen but never their weights.
TEST(MoeRoute, SigmoidBiasSelectsButDoesNotWeigh) {
  std::vector<float> l = {2.0f, 1.0f, 0.5f, -1.0f};
  MoeRouting cfg;
  cfg.score = MoeRouting::Score::kSigmoid;
  cfg.top_k = 2;
  cfg.normalize = true;
  cfg.scaling = 2.5f;
  Tensor ids = Tensor::empty({1, 2}, DType::I32), w = Tensor::empty({1, 2}, DType::F32);
  moe_route(ids, w, logits_from(l, 1), Tensor::from_f32({4}, {0.0f, 0.0f, 0.0f, 5.0f}), cfg);
  auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  EXPECT_EQ(ids.data<int32_t>()[0], 3);  // biased into the top-2
  EXPECT_EQ(ids.data<int32_t>()[1], 0);
  const double z = sig(-1.0) + sig(2.0);
  EXPECT_NEAR(w.data<float>()[0], 2.5 * sig(-1.0) / z, 1e-6);
  EXPECT_NEAR(w.data<float>()[1], 2.5 * sig(2.0) / z, 1e-6);
}

// Group-limited routing: groups ranked by the sum of their top-2 biased scores; experts outside
// the kept groups are never chosen, even with high scores (masked with -inf, not 0).
TEST(MoeRoute, GroupLimitKeepsOnlyTheBestGroups) {
  // 3 groups of 3. Group 0 has one very high expert (sum of top-2 small), group 1 two good ones.
  std::vector<float> l = {5.0f, -5.0f, -5.0f, 1.0f, 1.0f, -5.0f, 0.0f, 0.0f, 0.0f};
  MoeRouting cfg;
  cfg.score = MoeRouting::Score::kSigmoid;
  cfg.top_k = 2;
  cfg.n_group = 3;
  cfg.topk_group = 1;
  cfg.group_by_top2_sum = true;
  Tensor ids = Tensor::empty({1, 2}, DType::I32), w = Tensor::empty({1, 2}, DType::F32);
  moe_route(ids, w, logits_from(l, 1), Tensor(), cfg);
  std::vector<int> got = {ids.data<int32_t>()[0], ids.data<int32_t>()[1]};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{3, 4}));
  // With negative biases everywhere, a 0.0 mask would pull in dropped experts; -inf does not.
  std::vector<float> bias(9, -3.0f);
  cfg.top_k = 3;
  cfg.topk_group = 1;
  moe_route(ids = Tensor::empty({1, 3}, DType::I32), w = Tensor::empty({1, 3}, DType::F32), logits_from(l, 1),
            Tensor::from_f32({9}, bias), cfg);
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(ids.data<int32_t>()[k] >= 3 && ids.data<int32_t>()[k] < 6);
}

TEST(MoeRoute, SoftmaxGreedyWithoutRenormalisation) {
  std::vector<float> l = {0.1f, 2.0f, -1.0f, 1.0f};
  MoeRouting cfg;
  cfg.top_k = 2;
  cfg.scaling = 16.0f;
  Tensor ids = Tensor::empty({1, 2}, DType::I32), w = Tensor::empty({1, 2}, DType::F32);
  moe_route(ids, w, logits_from(l, 1), Tensor(), cfg);
  double z = 0;
  for (float x : l) z += std::exp(double(x));
  EXPECT_EQ(ids.data<int32_t>()[0], 1);
  EXPECT_EQ(ids.data<int32_t>()[1], 3);
  EXPECT_NEAR(w.data<float>()[0], 16 * std::exp(2.0) / z, 1e-5);
  EXPECT_NEAR(w.data<float>()[1], 16 * std::exp(1.0) / z, 1e-5);
  cfg.n_group = 3;  // 4 experts do not split into 3 groups
  EXPECT_THROW(moe_route(ids, w, logits_from(l, 1), Tensor(), cfg), Error);
}

TEST(DType, Fp8E4M3EveryCodeRoundTripsAndRoundsToNearestEven) {
  for (int c = 0; c < 256; ++c) {
    const float v = fp8e4m3_to_f32(uint8_t(c));
    if (std::isnan(v)) continue;
    EXPECT_EQ(fp8e4m3_to_f32(f32_to_fp8e4m3(v)), v) << "code " << c;
  }
  EXPECT_EQ(fp8e4m3_to_f32(0x7e), 448.0f);
  EXPECT_EQ(fp8e4m3_to_f32(f32_to_fp8e4m3(1000.0f)), 448.0f);  // saturates
  EXPECT_EQ(fp8e4m3_to_f32(f32_to_fp8e4m3(1.0625f)), 1.0f);    // tie between 1 and 1.125 -> even
  EXPECT_EQ(fp8e4m3_to_f32(f32_to_fp8e4m3(1.1875f)), 1.25f);   // tie between 1.125 and 1.25 -> even
  EXPECT_EQ(fp8e4m3_to_f32(1), std::ldexp(1.0f, -9));          // smallest subnormal
}

TEST(DType, Bf16AndF16ConversionsRoundToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.00390625f)), 1.0f);  // halfway -> even
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.01171875f)), 1.015625f);
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f}) EXPECT_EQ(f16_to_f32(f32_to_f16(v)), v);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
}

TEST(Fp8, BlockQuantisationErrorIsWithinHalfAStep) {
  const int64_t N = 200, K = 300;
  auto w = randn(N * K, 17);
  Tensor q = Tensor::empty({N, K}, DType::F8E4M3), s = Tensor::empty({2, 3}, DType::F32);
  fp8_quantize_blocks(q, s, Tensor::from_f32({N, K}, w));
  const auto d = fp8_dequantize(q, s).to_f32_vector();
  for (int64_t i = 0; i < N * K; ++i) {
    const float sc = s.data<float>()[(i / K / 128) * 3 + (i % K) / 128];
    // e4m3 has 3 mantissa bits: relative step 2^-3, so error <= 2^-4 relative (or half a
    // subnormal step 2^-10 · scale).
    EXPECT_LE(std::fabs(d[i] - w[i]), std::max(std::fabs(w[i]) / 16.0f, sc * std::ldexp(1.0f, -10)) * 1.0001f) << i;
  }
}

TEST(ThreadPool, ParallelForCoversEveryIndexOnce) {
  std::vector<std::atomic<int>> hits(10007);
  parallel_for(10007, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  int64_t total = 0;
  parallel_for(
      3, [&](int64_t b, int64_t e) { total += e - b; }, 100);  // below grain: one chunk
  EXPECT_EQ(total, 3);
}

TEST(ThreadPool, AnExceptionInAnyChunkReachesTheCallerAndThePoolKeepsWorking) {
  set_num_threads(4);  // effective when this test runs in its own process (ctest), as it does in CI
  ASSERT_GE(num_threads(), 2);
  for (int64_t thrower : {int64_t(0), int64_t(9999), int64_t(5000)}) {  // first, last, a middle chunk
    std::atomic<int64_t> done{0};
    try {
      parallel_for(10000, [&](int64_t b, int64_t e) {
        if (thrower >= b && thrower < e) throw std::runtime_error("chunk with " + std::to_string(thrower));
        done += e - b;
      });
      FAIL() << "no exception for thrower " << thrower;
    } catch (const std::runtime_error& err) {
      EXPECT_EQ(std::string(err.what()), "chunk with " + std::to_string(thrower));
    }
    EXPECT_LT(done.load(), 10000);
  }
  std::vector<std::atomic<int>> hits(10007);  // the pool is intact
  parallel_for(10007, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, JanusThreadsMustBeAPositiveWholeNumber) {
  using janus::test_util::error_of;
  EXPECT_EQ(threads_from_env(nullptr), 0);  // unset: the core count
  EXPECT_EQ(threads_from_env(""), 0);
  EXPECT_EQ(threads_from_env("1"), 1);
  EXPECT_EQ(threads_from_env("16"), 16);
  for (const char* bad : {"abc", "0", "-2", "2x", " 2", "1.5", "9999999"})
    EXPECT_EQ(error_of([&] { threads_from_env(bad); }),
              "JANUS_THREADS='" + std::string(bad) + "': expected a positive whole number of threads")
        << bad;
}

TEST(Tensor, ViewsSliceSelectTransposeAndConversions) {
  Tensor t = Tensor::from_f32({2, 3, 4}, std::vector<float>([] {
                                std::vector<float> v(24);
                                std::iota(v.begin(), v.end(), 0.0f);
                                return v;
                              }()));
  EXPECT_EQ(t.slice(1, 1, 3).select(2, 2).to_f32_vector(), (std::vector<float>{6, 10, 18, 22}));
  EXPECT_EQ(t.transpose(0, 2).contiguous().view({4, 6}).select(0, 1).to_f32_vector(),
            (std::vector<float>{1, 13, 5, 17, 9, 21}));  // [k][j][i] = t[i][j][k]
  EXPECT_THROW(t.view({5, 5}), Error);
  EXPECT_THROW(t.slice(0, 1, 3), Error);
  EXPECT_THROW(t.transpose(0, 1).view({24}), Error);
  EXPECT_EQ(t.to(DType::BF16).to(DType::F32).to_f32_vector(), t.to_f32_vector());  // small ints are exact
}

}  // namespace
}  // namespace janus::kernels

namespace janus::kernels {
namespace {

TEST(Sampling, GreedyTopK1AndTinyTopPAllPickTheArgmax) {
  const std::vector<float> l = {0.1f, 3.0f, 2.9f, -1.0f, 3.0f};
  std::mt19937_64 rng(1);
  EXPECT_EQ(argmax(l.data(), 5), 1);  // ties -> lowest id
  EXPECT_EQ(sample_token(l.data(), 5, {}, rng), 1);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(sample_token(l.data(), 5, {1.0f, 1, 1.0f, 0.0f}, rng), 1);
    EXPECT_EQ(sample_token(l.data(), 5, {1.0f, 0, 1e-6f, 0.0f}, rng), 1);
  }
  EXPECT_THROW(sample_token(l.data(), 5, {-1.0f, 0, 1.0f, 0.0f}, rng), Error);
  EXPECT_THROW(sample_token(l.data(), 5, {1.0f, 0, 0.0f, 0.0f}, rng), Error);
}

// Empirical frequencies follow softmax(l / T) restricted by top-p / min-p.
TEST(Sampling, FrequenciesFollowTheTruncatedDistribution) {
  const std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  std::mt19937_64 rng(42);
  const int n = 40000;
  std::vector<int> full(4), nucleus(4), minp(4);
  for (int i = 0; i < n; ++i) {
    full[size_t(sample_token(l.data(), 4, {1.0f, 0, 1.0f, 0.0f}, rng))]++;
    nucleus[size_t(sample_token(l.data(), 4, {1.0f, 0, 0.75f, 0.0f}, rng))]++;  // keeps 0.5, 0.3 (cum. 0.8 >= 0.75)
    minp[size_t(sample_token(l.data(), 4, {1.0f, 0, 1.0f, 0.25f}, rng))]++;     // keeps p >= 0.125
  }
  // 4 sigma of a binomial with n = 40000 is at most 0.01 in frequency.
  const double p_full[] = {0.5, 0.3, 0.15, 0.05}, p_nuc[] = {0.625, 0.375, 0, 0},
               p_min[] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
  for (int k = 0; k < 4; ++k) {
    EXPECT_NEAR(full[size_t(k)] / double(n), p_full[k], 0.01) << k;
    EXPECT_NEAR(nucleus[size_t(k)] / double(n), p_nuc[k], 0.01) << k;
    EXPECT_NEAR(minp[size_t(k)] / double(n), p_min[k], 0.01) << k;
  }
}

}  // namespace
}  // namespace janus::kernels
