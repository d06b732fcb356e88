// Autograd forward values (F32 vs float64, vs the inference kernels, shape ops vs tensor views)
// and GEMM precision emulation (bf16 / FP8 equal explicit rounding, gradients straight-through).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

#include "kernels/autograd/ops.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"
#include "tests/kernels/autograd_test_util.h"

namespace janus::kernels::ag {
namespace {

using namespace test;

TEST(AutogradForward, F32MatchesF64ForEveryOp) {
  // Each op run on f32 inputs and on the same values in f64. Tolerance 2e-5: f32 rounding
  // (ε = 6e-8) accumulated over reductions of ≤ 64 terms and exp/log of O(10) arguments.
  struct Case {
    const char* name;
    Fn f;
    std::vector<Tensor> in;
  };
  const std::vector<int32_t> seg = {0, 0, 1, 1, 1, 2, 2, 2, 2, 2};
  const std::vector<Case> cases = {
      {"linear",
       [](auto& v) { return linear(v[0], v[1], v[2]); },
       {randn({5, 33}, 80), randn({7, 33}, 81), randn({7}, 82)}},
      {"matmul", [](auto& v) { return matmul(v[0], v[1]); }, {randn({2, 5, 6}, 83), randn({2, 6, 4}, 84)}},
      {"silu·gelu", [](auto& v) { return mul(silu(v[0]), gelu(v[0], true)); }, {randn({4, 6}, 85, 2.0)}},
      {"gelu", [](auto& v) { return gelu(v[0]); }, {randn({4, 6}, 86, 2.0)}},
      {"log_softmax", [](auto& v) { return log_softmax_last(v[0]); }, {randn({4, 17}, 87, 4.0)}},
      {"softmax", [](auto& v) { return softmax_last(v[0]); }, {randn({4, 17}, 88, 4.0)}},
      {"rms_norm", [](auto& v) { return rms_norm(v[0], v[1], 1e-6); }, {randn({3, 40}, 89), randn({40}, 90)}},
      {"layer_norm",
       [](auto& v) { return layer_norm(v[0], v[1], v[2], 1e-5); },
       {randn({3, 40}, 91, 3.0), randn({40}, 92), randn({40}, 93)}},
      {"l2_normalize", [](auto& v) { return l2_normalize(v[0]); }, {randn({3, 8}, 94)}},
      {"rope",
       [](auto& v) {
         return rope(v[0], {0, 1, 2, 3}, {1.0f, 0.1f, 0.01f}, 1, RopeStyle::kHalf, 1.0);
       },
       {randn({4, 2, 8}, 95)}},
      {"attention",
       [&](auto& v) { return attention(v[0], v[1], v[2], 0.3, true, seg); },
       {randn({2, 5, 4, 8}, 96), randn({2, 5, 2, 8}, 97), randn({2, 5, 2, 6}, 98)}},
      {"cross_entropy",
       [](auto& v) {
         return cross_entropy(v[0], {1, 2, -100, 0});
       },
       {randn({4, 9}, 99, 3.0)}},
      {"sum_last·mean", [](auto& v) { return mean(sum_last(square(v[0]))); }, {randn({4, 9}, 100)}},
  };
  for (const Case& c : cases) {
    std::vector<Var> a, b;
    for (const Tensor& t : c.in) {
      a.push_back(cst(f32(t)));
      b.push_back(cst(t));
    }
    const double e = rel_err(c.f(a).value(), c.f(b).value());
    std::printf("[f32 vs f64] %-16s %.2e\n", c.name, e);
    EXPECT_LE(e, 2e-5) << c.name;
  }
}

// Prints and checks rel_err(a, b) ≤ tol.
void expect_close(const char* name, const Tensor& a, const Tensor& b, double tol) {
  const double e = rel_err(a, b);
  std::printf("[vs kernels::] %-12s %.2e (tolerance %.0e)\n", name, e, tol);
  EXPECT_LE(e, tol) << name;
}

TEST(AutogradForward, MatchesInferenceKernels) {
  // The training ops (f32) against the inference kernels in kernels/ops.h, which test_ops checks
  // against float64 references. Tolerance 1e-5 (different summation order in f32).
  const Tensor x = f32(randn({6, 40}, 101)), w = f32(randn({9, 40}, 102)), nw = f32(randn({40}, 103)),
               nb = f32(randn({40}, 104));
  {
    Tensor y = Tensor::empty({6, 9}, DType::F32);
    kernels::linear(y, x, Weight{w, Tensor(), Tensor()});
    expect_close("linear", linear(cst(x), cst(w)).value(), y, 1e-5);
  }
  {
    Tensor y = Tensor::empty({6, 40}, DType::F32);
    kernels::rms_norm(y, x, nw, 1e-6f);
    expect_close("rms_norm", rms_norm(cst(x), cst(nw), 1e-6).value(), y, 1e-5);
    kernels::layer_norm(y, x, nw, nb, 1e-5f);
    expect_close("layer_norm", layer_norm(cst(x), cst(nw), cst(nb), 1e-5).value(), y, 1e-5);
    kernels::gelu(y, x, false);
    expect_close("gelu", gelu(cst(x)).value(), y, 1e-5);
    y.copy_from(x);
    kernels::softmax_rows(y);
    expect_close("softmax_last", softmax_last(cst(x)).value(), y, 1e-5);
  }
  {
    const std::vector<int64_t> ids = {3, 0, 3, 5};
    Tensor y = Tensor::empty({4, 40}, DType::F32);
    kernels::embedding(y, x, ids.data(), 4);
    expect_close("embedding", embedding(cst(x), ids).value(), y, 0.0);
  }
  for (RopeStyle st : {RopeStyle::kHalf, RopeStyle::kInterleaved}) {
    // Same float32 angle and cos/sin as kernels::rope: equal to f32 rounding of the products.
    const Tensor q = f32(randn({5, 3, 12}, 105));
    const std::vector<int64_t> pos = {7, 8, 9, 10, 300};
    const std::vector<float> inv = {1.0f, 0.2f, 0.03f, 0.004f};
    Tensor ref = q.clone();
    kernels::rope(ref, pos.data(), inv, 2, st, 1.2f);
    expect_close("rope", rope(cst(q), pos, inv, 2, st, 1.2).value(), ref, 1e-6);
  }
  {
    const Tensor q = f32(randn({7, 4, 8}, 106)), k = f32(randn({7, 2, 8}, 107)), v = f32(randn({7, 2, 5}, 108));
    Tensor ref = Tensor::empty({7, 4, 5}, DType::F32);
    kernels::attention(ref, q, k, v, 0.35f, 0);
    expect_close("attention", attention(cst(q), cst(k), cst(v), 0.35, true).value(), ref, 1e-5);
  }
}

TEST(AutogradForward, ShapeOpsMatchTensorViews) {
  // Exact: pure data movement compared with Tensor's strided views.
  const Tensor x = randn({2, 3, 4, 5}, 180);
  EXPECT_EQ(rel_err(transpose(cst(x), 1, 2).value(), x.transpose(1, 2).contiguous()), 0.0);
  EXPECT_EQ(rel_err(transpose(cst(x), 0, -1).value(), x.transpose(0, 3).contiguous()), 0.0);
  EXPECT_EQ(rel_err(slice(cst(x), 2, 1, 3).value(), x.slice(2, 1, 3).contiguous()), 0.0);
  const Tensor c = concat({cst(x.slice(2, 0, 1).contiguous()), cst(x.slice(2, 1, 4).contiguous())}, 2).value();
  EXPECT_EQ(rel_err(c, x), 0.0);
}

TEST(AutogradForward, VisionOpsMatchInferenceKernels) {
  // Against kernels::conv2d / group_norm / upsample_nearest2x (f32). Tolerance 1e-5: f32 sums
  // over ≤ 27 products in a different order.
  const Tensor x = f32(randn({2, 3, 9, 8}, 140)), w = f32(randn({5, 3, 3, 3}, 141)), b = f32(randn({5}, 142));
  Conv2dOptions o;
  o.stride = 2;
  o.pad_right = 1;
  o.pad_bottom = 1;
  for (const Conv2dOptions& opt : {Conv2dOptions::symmetric(1, 1), o}) {
    const Tensor y = conv2d(cst(x), cst(w), cst(b), opt).value();
    Tensor ref = Tensor::empty(y.shape(), DType::F32);
    kernels::conv2d(ref, x, w, b, opt);
    expect_close("conv2d", y, ref, 1e-5);
  }
  const Tensor gx = f32(randn({2, 6, 4, 5}, 143, 3.0)), gw = f32(randn({6}, 144)), gb = f32(randn({6}, 145));
  Tensor ref = Tensor::empty(gx.shape(), DType::F32);
  kernels::group_norm(ref, gx, gw, gb, 2, 1e-6f, false);
  expect_close("group_norm", group_norm(cst(gx), cst(gw), cst(gb), 2, 1e-6).value(), ref, 1e-5);
  Tensor up = Tensor::empty({2, 6, 8, 10}, DType::F32);
  kernels::upsample_nearest2x(up, gx);
  expect_close("upsample_nearest2x", upsample_nearest2x(cst(gx)).value(), up, 0.0);
}

TEST(AutogradForward, AttentionSegmentsEqualSeparateSequences) {
  // Packed causal attention with segment ids equals causal attention on each segment alone
  // (float64; tolerance 1e-12 covers the summation-order difference only).
  const Tensor q = randn({1, 9, 2, 4}, 109), k = randn({1, 9, 1, 4}, 110), v = randn({1, 9, 1, 3}, 111);
  const std::vector<int32_t> seg = {4, 4, 4, 4, 7, 7, 9, 9, 9};
  const Tensor packed = attention(cst(q), cst(k), cst(v), 0.5, true, seg).value();
  for (auto [b, e] : {std::pair<int64_t, int64_t>{0, 4}, {4, 6}, {6, 9}}) {
    const Tensor alone = attention(cst(q.slice(1, b, e).contiguous()), cst(k.slice(1, b, e).contiguous()),
                                   cst(v.slice(1, b, e).contiguous()), 0.5, true)
                             .value();
    EXPECT_LE(rel_err(packed.slice(1, b, e).contiguous(), alone), 1e-12);
  }
}

TEST(AutogradForward, F32GradientsMatchF64ForATransformerBlock) {
  // A small pre-norm GQA block with RoPE, SwiGLU and a cross-entropy head, differentiated in f32
  // and in f64 from the same values. Tolerance 1e-4 relative to each gradient's max: f32
  // rounding (6e-8) amplified through ~10 chained ops and softmax/normalisation Jacobians.
  const int64_t T = 6, H = 16, Hq = 4, Hkv = 2, D = 4, F = 24, V = 11;
  const std::vector<Tensor> init = {randn({T, H}, 170),
                                    randn({Hq * D, H}, 171, 0.3),
                                    randn({Hkv * D, H}, 172, 0.3),
                                    randn({Hkv * D, H}, 173, 0.3),
                                    randn({H, Hq * D}, 174, 0.3),
                                    randn({H}, 175),
                                    randn({F, H}, 176, 0.3),
                                    randn({F, H}, 177, 0.3),
                                    randn({H, F}, 178, 0.3),
                                    randn({V, H}, 179, 0.3)};
  const std::vector<int64_t> pos = {0, 1, 2, 3, 4, 5}, targets = {3, 1, -100, 10, 0, 7};
  const std::vector<float> inv = {1.0f, 0.1f};
  auto grads = [&](DType dt) {
    std::vector<Var> p;
    for (const Tensor& t : init) p.push_back(Var::leaf(t.to(dt), true));
    const Var h = rms_norm(p[0], p[5], 1e-6);
    const Var q = rope(reshape(linear(h, p[1]), {1, T, Hq, D}), pos, inv, 0, RopeStyle::kHalf);
    const Var k = rope(reshape(linear(h, p[2]), {1, T, Hkv, D}), pos, inv, 0, RopeStyle::kHalf);
    const Var v = reshape(linear(h, p[3]), {1, T, Hkv, D});
    const Var a = add(p[0], linear(reshape(attention(q, k, v, 0.5, true), {T, Hq * D}), p[4]));
    const Var m = add(a, linear(mul(silu(linear(a, p[6])), linear(a, p[7])), p[8]));
    backward(cross_entropy(linear(m, p[9]), targets));
    std::vector<Tensor> g;
    for (const Var& x : p) g.push_back(x.grad());
    return g;
  };
  const std::vector<Tensor> g32 = grads(DType::F32), g64 = grads(DType::F64);
  double worst = 0;
  for (size_t i = 0; i < g32.size(); ++i) {
    const double e = rel_err_to_max(g32[i], g64[i]);
    worst = std::max(worst, e);
    EXPECT_LE(e, 1e-4) << "parameter " << i;
  }
  std::printf("[f32 vs f64 grads] transformer block worst %.2e\n", worst);
}

// ---- GEMM precision emulation ---------------------------------------------------------------

Tensor bf16_round(const Tensor& t) {
  Tensor o = t.clone();
  for (int64_t i = 0; i < o.numel(); ++i) o.data<float>()[i] = bf16_to_f32(f32_to_bf16(o.data<float>()[i]));
  return o;
}
// 1×128 tiles along rows of [R, C] through kernels::fp8_quantize_rows, dequantised.
Tensor fp8_tiles(const Tensor& t) {
  const int64_t R = t.size(0), C = t.size(1), CB = (C + 127) / 128;
  Tensor q = Tensor::empty({R, C}, DType::F8E4M3), s = Tensor::empty({R, CB}, DType::F32);
  fp8_quantize_rows(q, s, t);
  Tensor o = Tensor::empty({R, C}, DType::F32);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c)
      o.data<float>()[r * C + c] = fp8e4m3_to_f32(q.data<uint8_t>()[r * C + c]) * s.data<float>()[r * CB + c / 128];
  return o;
}
Tensor fp8_tiles_t(const Tensor& t) { return fp8_tiles(t.transpose(0, 1).contiguous()).transpose(0, 1).contiguous(); }
Tensor fp8_blocks(const Tensor& w) {
  const int64_t N = w.size(0), K = w.size(1);
  Tensor q = Tensor::empty({N, K}, DType::F8E4M3), s = Tensor::empty({(N + 127) / 128, (K + 127) / 128}, DType::F32);
  fp8_quantize_blocks(q, s, w);
  return fp8_dequantize(q, s);
}

// Runs linear with precision p on [M, K] x and [N, K] w, loss Σ y·G, and compares y, dx, dw
// and db with kFull computations on explicitly rounded operands. Tolerance 1e-6 relative:
// the same f32 operands in a differently blocked f32 GEMM.
void check_precision(GemmPrecision p, int64_t M, int64_t N, int64_t K) {
  const Tensor x = f32(randn({M, K}, 120)), w = f32(randn({N, K}, 121, 0.1)), b = f32(randn({N}, 122)),
               G = f32(randn({M, N}, 123));
  Var xv = Var::leaf(x, true), wv = Var::leaf(w, true), bv = Var::leaf(b, true);
  Var y = linear(xv, wv, bv, p);
  backward(sum(mul(y, cst(G))));
  const bool bf = p == GemmPrecision::kBf16;
  const Tensor xf = bf ? bf16_round(x) : fp8_tiles(x), wf = bf ? bf16_round(w) : fp8_blocks(w);
  const Tensor gx = bf ? bf16_round(G) : fp8_tiles(G);                                              // dgrad: along N
  const Tensor gw = bf ? bf16_round(G) : fp8_tiles_t(G), xw = bf ? bf16_round(x) : fp8_tiles_t(x);  // wgrad: along M
  const double ey = rel_err(y.value(), linear(cst(xf), cst(wf), cst(b)).value());
  const double ex = rel_err(xv.grad(), matmul(cst(gx), cst(wf)).value());
  const double ew = rel_err(wv.grad(), matmul(cst(transpose(cst(gw), 0, 1).value()), cst(xw)).value());
  const double eb = rel_err(bv.grad(), sum_last(cst(transpose(cst(G), 0, 1).value())).value());
  std::printf("[%s] y %.2e dx %.2e dw %.2e db %.2e\n", bf ? "bf16" : "fp8", ey, ex, ew, eb);
  EXPECT_LE(ey, 1e-6);
  EXPECT_LE(ex, 1e-6);
  EXPECT_LE(ew, 1e-6);
  EXPECT_LE(eb, 1e-6);
  // And the rounding is real: kFull differs by far more than the tolerance.
  EXPECT_GT(rel_err(y.value(), linear(cst(x), cst(w), cst(b)).value()), 1e-4);
}
TEST(AutogradPrecision, Bf16EqualsExplicitRoundingStraightThrough) { check_precision(GemmPrecision::kBf16, 5, 7, 33); }
TEST(AutogradPrecision, Fp8EqualsExplicitQuantisationStraightThrough) {
  // K 200 (two 1×128 tiles, one partial), N 130 (two weight blocks), M 131 (two 128-row wgrad tiles).
  check_precision(GemmPrecision::kFp8, 131, 130, 200);
}

}  // namespace
}  // namespace janus::kernels::ag
