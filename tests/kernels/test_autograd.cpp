// Autograd: every op's gradient against central finite differences in float64, F32 forward
// values against a float64 recomputation, and the tape's bookkeeping (accumulation, no-grad,
// frozen leaves, deep graphs, GEMM precision emulation).
//
// Gradcheck tolerance: max |analytic − numeric| / max(1, max |numeric|) ≤ 1e-6. With h = 1e-6 the
// central difference has truncation error O(h²·f''') ≈ 1e-12 and rounding error ≈ ε·|f|/h ≈ 1e-9
// for the O(10) scalars used here, so a correct backward lands around 1e-9; a wrong one (a missing
// term, a wrong index) is off by O(1e-2) or more.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>

#include "kernels/autograd/ops.h"
#include "tests/kernels/autograd_test_util.h"

namespace janus::kernels::ag {
namespace {

using namespace test;

// ---- GEMM -----------------------------------------------------------------------------------

TEST(AutogradGradcheck, LinearWithBias) {
  gradcheck([](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
            {randn({2, 3, 7}, 1), randn({5, 7}, 2), randn({5}, 3)}, "linear+bias");
}
TEST(AutogradGradcheck, LinearNoBias) {
  gradcheck([](const std::vector<Var>& v) { return linear(v[0], v[1]); }, {randn({9, 13}, 4), randn({11, 13}, 5)},
            "linear");
}
TEST(AutogradGradcheck, Matmul2d) {
  gradcheck([](const std::vector<Var>& v) { return matmul(v[0], v[1]); }, {randn({5, 7}, 6), randn({7, 3}, 7)},
            "matmul 2d");
}
TEST(AutogradGradcheck, MatmulBatched) {
  gradcheck([](const std::vector<Var>& v) { return matmul(v[0], v[1]); }, {randn({3, 4, 5}, 8), randn({3, 5, 6}, 9)},
            "matmul batched");
}

// ---- elementwise and reductions -------------------------------------------------------------

TEST(AutogradGradcheck, AddSubMulScale) {
  gradcheck(
      [](const std::vector<Var>& v) { return add_scalar(scale(mul(add(v[0], v[1]), sub(v[1], v[2])), -1.7), 0.3); },
      {randn({3, 5}, 10), randn({3, 5}, 11), randn({3, 5}, 12)}, "add/sub/mul/scale/add_scalar");
}
TEST(AutogradGradcheck, SameVarUsedTwice) {
  gradcheck([](const std::vector<Var>& v) { return mul(v[0], v[0]); }, {randn({4, 3}, 13)}, "mul(x, x)");
}
TEST(AutogradGradcheck, SumAndMean) {
  gradcheck([](const std::vector<Var>& v) { return add(scale(sum(v[0]), 0.5), mean(v[1])); },
            {randn({3, 7}, 14), randn({1}, 15)}, "sum/mean");
}
TEST(AutogradGradcheck, Reshape) {
  gradcheck(
      [](const std::vector<Var>& v) {
        return mul(reshape(v[0], {3, -1}), v[1]);
      },
      {randn({2, 3, 4}, 16), randn({3, 8}, 17)}, "reshape");
}

// ---- indexing and loss ----------------------------------------------------------------------

TEST(AutogradGradcheck, EmbeddingRepeatedIds) {
  gradcheck(
      [](const std::vector<Var>& v) {
        return embedding(v[0], {3, 1, 3, 0, 3, 6});
      },
      {randn({7, 5}, 18)}, "embedding (repeated ids)");
}
TEST(AutogradGradcheck, CrossEntropyWithIgnoredRows) {
  gradcheck(
      [](const std::vector<Var>& v) {
        return cross_entropy(v[0], {2, -100, 0, 10, -100, 4});
      },
      {randn({6, 11}, 19, 3.0)}, "cross_entropy (ignore_index)");
}

TEST(AutogradGradcheck, Activations) {
  gradcheck([](const std::vector<Var>& v) { return silu(v[0]); }, {randn({3, 7}, 40, 2.0)}, "silu");
  gradcheck([](const std::vector<Var>& v) { return sigmoid(v[0]); }, {randn({3, 7}, 41, 2.0)}, "sigmoid");
  gradcheck([](const std::vector<Var>& v) { return gelu(v[0]); }, {randn({3, 7}, 42, 2.0)}, "gelu (erf)");
  gradcheck([](const std::vector<Var>& v) { return gelu(v[0], true); }, {randn({3, 7}, 43, 2.0)}, "gelu (tanh)");
  gradcheck([](const std::vector<Var>& v) { return square(v[0]); }, {randn({3, 7}, 44)}, "square");
}
TEST(AutogradGradcheck, SumLast) {
  gradcheck([](const std::vector<Var>& v) { return sum_last(v[0]); }, {randn({2, 3, 5}, 45)}, "sum_last");
}
TEST(AutogradGradcheck, SoftmaxAndLogSoftmax) {
  gradcheck([](const std::vector<Var>& v) { return softmax_last(v[0]); }, {randn({4, 9}, 46, 3.0)}, "softmax_last");
  gradcheck([](const std::vector<Var>& v) { return log_softmax_last(v[0]); }, {randn({4, 9}, 47, 3.0)},
            "log_softmax_last");
}
TEST(AutogradGradcheck, AddRowAndMulRows) {
  gradcheck([](const std::vector<Var>& v) { return add_row(v[0], v[1]); }, {randn({2, 3, 5}, 48), randn({5}, 49)},
            "add_row");
  gradcheck([](const std::vector<Var>& v) { return mul_rows(v[0], v[1]); }, {randn({6, 5}, 50), randn({6}, 51)},
            "mul_rows");
}
TEST(AutogradGradcheck, DetachStopsGradient) {
  // y = x · detach(x): dy/dx = detach(x) only.
  Var x = Var::leaf(randn({5}, 52), true);
  backward(sum(mul(x, detach(x))));
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(x.grad().data<double>()[i], x.value().data<double>()[i]);
}
TEST(AutogradGradcheck, TransposeSliceConcat) {
  gradcheck([](const std::vector<Var>& v) { return transpose(v[0], 0, 2); }, {randn({2, 3, 5}, 53)}, "transpose");
  gradcheck([](const std::vector<Var>& v) { return slice(v[0], 1, 1, 4); }, {randn({2, 5, 3}, 54)}, "slice");
  gradcheck(
      [](const std::vector<Var>& v) {
        return concat({v[0], v[1], v[0]}, 1);
      },
      {randn({2, 3, 4}, 55), randn({2, 1, 4}, 56)}, "concat (input used twice)");
  gradcheck(
      [](const std::vector<Var>& v) {
        return concat({v[0], v[1]}, -1);
      },
      {randn({3, 2}, 57), randn({3, 5}, 58)}, "concat last dim");
}
TEST(AutogradGradcheck, GatherScatterTake) {
  gradcheck(
      [](const std::vector<Var>& v) {
        return gather_rows(v[0], {4, 0, 4, 2});
      },
      {randn({5, 3}, 59)}, "gather_rows");
  gradcheck(
      [](const std::vector<Var>& v) {
        return scatter_add_rows(v[0], {1, 3, 1, 1, 0}, 6);
      },
      {randn({5, 3}, 60)}, "scatter_add_rows (repeated rows)");
  gradcheck(
      [](const std::vector<Var>& v) {
        return take_along_last(v[0], {0, 3, 2, 2, 4, 1}, 2);
      },
      {randn({3, 5}, 61)}, "take_along_last");
}
TEST(AutogradGradcheck, RmsNorm) {
  gradcheck([](const std::vector<Var>& v) { return rms_norm(v[0], v[1], 1e-6); },
            {randn({2, 3, 7}, 62), randn({7}, 63)}, "rms_norm");
}
TEST(AutogradGradcheck, LayerNorm) {
  gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2], 1e-5); },
            {randn({4, 9}, 64), randn({9}, 65), randn({9}, 66)}, "layer_norm");
  gradcheck([](const std::vector<Var>& v) { return layer_norm(v[0], Var(), Var(), 1e-5); }, {randn({4, 9}, 67)},
            "layer_norm (no affine)");
}
TEST(AutogradGradcheck, L2Normalize) {
  gradcheck([](const std::vector<Var>& v) { return l2_normalize(v[0]); }, {randn({4, 8}, 68)}, "l2_normalize");
}

TEST(AutogradGradcheck, RopeHalfWithOffsetAndPartialRotation) {
  // [B, T, H, D] = [2, 3, 2, 10]; rotary dims [2, 8) (3 frequencies), per-batch positions.
  const std::vector<float> inv_freq = {1.0f, 0.3f, 0.05f};
  const std::vector<int64_t> pos = {5, 6, 7, 0, 11, 2};
  gradcheck([&](const std::vector<Var>& v) { return rope(v[0], pos, inv_freq, 2, RopeStyle::kHalf, 1.3); },
            {randn({2, 3, 2, 10}, 69)}, "rope kHalf offset 2, rot 6 of 10");
}
TEST(AutogradGradcheck, RopeInterleavedWithOffsetAndPartialRotation) {
  // [T, H, D] = [4, 3, 9]; rotary dims [3, 7), positions shared by the (single) batch.
  const std::vector<float> inv_freq = {0.7f, 0.01f};
  const std::vector<int64_t> pos = {3, 4, 5, 6};
  gradcheck([&](const std::vector<Var>& v) { return rope(v[0], pos, inv_freq, 3, RopeStyle::kInterleaved); },
            {randn({4, 3, 9}, 70)}, "rope kInterleaved offset 3, rot 4 of 9");
}

TEST(AutogradGradcheck, AttentionCausalGqaWithSegments) {
  // B 2, T = S 7, Hq 4, Hkv 2 (ratio 2), D 5, Dv 3; two packed segments per batch row.
  const std::vector<int32_t> seg = {0, 0, 0, 1, 1, 1, 1, 3, 3, 5, 5, 5, 5, 5};
  gradcheck([&](const std::vector<Var>& v) { return attention(v[0], v[1], v[2], 0.45, true, seg); },
            {randn({2, 7, 4, 5}, 71), randn({2, 7, 2, 5}, 72), randn({2, 7, 2, 3}, 73)},
            "attention causal GQA2 segments");
}
TEST(AutogradGradcheck, AttentionCausalGqa4) {
  gradcheck([&](const std::vector<Var>& v) { return attention(v[0], v[1], v[2], 0.4, true); },
            {randn({1, 6, 4, 3}, 74), randn({1, 6, 1, 3}, 75), randn({1, 6, 1, 5}, 76)}, "attention causal GQA4");
}
TEST(AutogradGradcheck, AttentionNonCausalCross) {
  // T 3 queries over S 5 keys, 3-D layout, MHA, Dv > D.
  gradcheck([&](const std::vector<Var>& v) { return attention(v[0], v[1], v[2], 0.6, false); },
            {randn({3, 2, 4}, 77), randn({5, 2, 4}, 78), randn({5, 2, 6}, 79)}, "attention non-causal T != S");
}

TEST(AutogradGradcheck, Conv2dStride1Pad1WithBias) {
  gradcheck([](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], Conv2dOptions::symmetric(1, 1)); },
            {randn({2, 3, 5, 4}, 130), randn({4, 3, 3, 3}, 131), randn({4}, 132)}, "conv2d 3x3 s1 p1 + bias");
}
TEST(AutogradGradcheck, Conv2dStride2AsymmetricPad) {
  // LlamaGen Downsample: F.pad(x, (0, 1, 0, 1)) then 3×3 stride 2; odd input size.
  Conv2dOptions o;
  o.stride = 2;
  o.pad_right = 1;
  o.pad_bottom = 1;
  gradcheck([&](const std::vector<Var>& v) { return conv2d(v[0], v[1], Var(), o); },
            {randn({1, 2, 7, 6}, 133), randn({3, 2, 3, 3}, 134)}, "conv2d 3x3 s2 pad (0,1,0,1)");
}
TEST(AutogradGradcheck, GroupNorm) {
  gradcheck([](const std::vector<Var>& v) { return group_norm(v[0], v[1], v[2], 3, 1e-6); },
            {randn({2, 6, 3, 2}, 135, 2.0), randn({6}, 136), randn({6}, 137)}, "group_norm 6 ch / 3 groups");
}
TEST(AutogradGradcheck, UpsampleNearest2x) {
  gradcheck([](const std::vector<Var>& v) { return upsample_nearest2x(v[0]); }, {randn({2, 2, 3, 5}, 138)},
            "upsample_nearest2x");
}

TEST(AutogradGradcheck, DivExpLogTanhRelu) {
  gradcheck([](const std::vector<Var>& v) { return div(v[0], add_scalar(square(v[1]), 0.5)); },
            {randn({3, 4}, 150), randn({3, 4}, 151)}, "div");
  gradcheck([](const std::vector<Var>& v) { return exp(v[0]); }, {randn({3, 4}, 152)}, "exp");
  gradcheck([](const std::vector<Var>& v) { return log(add_scalar(square(v[0]), 0.1)); }, {randn({3, 4}, 153)}, "log");
  gradcheck([](const std::vector<Var>& v) { return tanh(v[0]); }, {randn({3, 4}, 154)}, "tanh");
  // relu away from its kink (|x| ≥ 0.1 so x ± h never crosses 0)
  Tensor x = randn({3, 4}, 155);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<double>()[i] += x.data<double>()[i] >= 0 ? 0.1 : -0.1;
  gradcheck([](const std::vector<Var>& v) { return relu(v[0]); }, {x}, "relu");
}
TEST(AutogradGradcheck, CheckpointedBlock) {
  // A transformer-ish block under activation recomputation; its weight is captured by f.
  Var w = Var::leaf(randn({6, 6}, 156, 0.5), true);
  auto block = [w](const std::vector<Var>& v) { return add(v[0], silu(linear(rms_norm(v[0], v[1], 1e-6), w))); };
  gradcheck([&](const std::vector<Var>& v) { return checkpoint(block, v); }, {randn({4, 6}, 157), randn({6}, 158)},
            "checkpoint(block)");
}

// ---- forward values ---------------------------------------------------------------------------

// ---- tape bookkeeping -----------------------------------------------------------------------

TEST(AutogradTape, CrossEntropyValueMatchesFloat64) {
  // F32 forward against a float64 log-sum-exp; large logits (±60) test the max subtraction.
  // Tolerance 1e-5: f32 rounding of O(60) logits (ε·60 ≈ 4e-6).
  const Tensor x64 = randn({5, 9}, 20, 30.0);
  const std::vector<int64_t> t = {1, -100, 8, 0, 3};
  Var l = cross_entropy(Var::constant(x64.to(DType::F32)), t);
  double ref = 0;
  int n = 0;
  for (int r = 0; r < 5; ++r) {
    if (t[size_t(r)] < 0) continue;
    double mx = -1e300, s = 0;
    for (int i = 0; i < 9; ++i) mx = std::max(mx, x64.data<double>()[r * 9 + i]);
    for (int i = 0; i < 9; ++i) s += std::exp(x64.data<double>()[r * 9 + i] - mx);
    ref += mx + std::log(s) - x64.data<double>()[r * 9 + t[size_t(r)]];
    ++n;
  }
  EXPECT_NEAR(l.value().data<float>()[0], ref / n, 1e-5);
}

TEST(AutogradTape, CrossEntropyAllIgnoredIsZeroWithZeroGrad) {
  Var x = Var::leaf(randn({3, 4}, 21), true);
  Var l = cross_entropy(x, {-100, -100, -100});
  EXPECT_EQ(l.value().data<double>()[0], 0.0);
  backward(l);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(x.grad().data<double>()[i], 0.0);
}

TEST(AutogradTape, TwoBackwardPassesAccumulate) {
  Var w = Var::leaf(randn({4, 3}, 22), true);
  const Tensor x = randn({2, 3}, 23);
  backward(sum(linear(Var::constant(x), w)));
  const Tensor g1 = w.grad().clone();
  backward(sum(linear(Var::constant(x), w)));
  for (int64_t i = 0; i < 12; ++i) EXPECT_DOUBLE_EQ(w.grad().data<double>()[i], 2 * g1.data<double>()[i]);
  w.zero_grad();
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(w.grad().data<double>()[i], 0.0);
}

TEST(AutogradTape, NoGradGuardRecordsNothing) {
  Var w = Var::leaf(randn({4, 3}, 24), true);
  Var y;
  {
    NoGradGuard ng;
    EXPECT_FALSE(grad_enabled());
    { NoGradGuard nested; }
    EXPECT_FALSE(grad_enabled());
    y = sum(linear(Var::constant(randn({2, 3}, 25)), w));
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.node()->inputs.empty());
  EXPECT_FALSE(y.node()->backward);
  EXPECT_THROW(backward(y), Error);
  EXPECT_FALSE(w.has_grad());
}

TEST(AutogradTape, FrozenLeafGetsNoGrad) {
  Var w = Var::leaf(randn({4, 3}, 26), false);
  Var b = Var::leaf(randn({4}, 27), true);
  backward(sum(linear(Var::constant(randn({2, 3}, 28)), w, b)));
  EXPECT_FALSE(w.has_grad());
  ASSERT_TRUE(b.has_grad());
  EXPECT_DOUBLE_EQ(b.grad().data<double>()[0], 2.0);
}

TEST(AutogradTape, SetRequiresGradFreezesALeafAndClearGradReleases) {
  Var w = Var::leaf(randn({4, 3}, 190), true), b = Var::leaf(randn({4}, 191), true);
  backward(sum(linear(Var::constant(randn({2, 3}, 192)), w, b)));
  EXPECT_TRUE(w.has_grad());
  w.clear_grad();
  EXPECT_FALSE(w.has_grad());
  w.set_requires_grad(false);
  Var y = sum(linear(Var::constant(randn({2, 3}, 193)), w, b));
  EXPECT_THROW(y.set_requires_grad(false), Error);
  backward(y);
  EXPECT_FALSE(w.has_grad());
  EXPECT_DOUBLE_EQ(b.grad().data<double>()[0], 4.0);  // two passes of two rows each
}

// Runs f and returns the Error message ("" when nothing was thrown).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
TEST(AutogradTape, BadInputsThrowNamingTheOp) {
  const Var x = cst(randn({2, 3}, 194)), w = cst(randn({4, 5}, 195));
  EXPECT_NE(error_of([&] { linear(x, w); }).find("ag::linear"), std::string::npos);
  EXPECT_NE(error_of([&] { add(x, cst(f32(randn({2, 3}, 196)))); }).find("dtype mismatch"), std::string::npos);
  EXPECT_NE(error_of([&] { embedding(x, {0, 2}); }).find("ag::embedding: ids[1] = 2"), std::string::npos);
  EXPECT_NE(error_of([&] { cross_entropy(x, {0, 3}); }).find("target[1] = 3"), std::string::npos);
  EXPECT_NE(error_of([&] {
              attention(cst(randn({1, 2, 3, 4}, 197)), cst(randn({1, 2, 2, 4}, 198)), cst(randn({1, 2, 2, 4}, 199)),
                        1.0, true);
            }).find("ag::attention"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              rope(cst(randn({2, 1, 4}, 200)), {0, 1}, {1.f, 1.f, 1.f}, 0, RopeStyle::kHalf);
            }).find("exceed head dim"),
            std::string::npos);
  EXPECT_NE(error_of([&] { reshape(x, {4, 2}); }).find("ag::reshape"), std::string::npos);
  EXPECT_NE(error_of([&] { Var::leaf(Tensor::zeros({2}, DType::I64), false); }).find("f32 or f64"), std::string::npos);
  // concat names the offending input by index (it used to say "dtype mismatch" or "xs[i]").
  EXPECT_NE(error_of([&] { concat({x, x, cst(f32(randn({2, 3}, 202)))}, 0); }).find("xs[2]"), std::string::npos);
  const Var strided = Var::leaf(randn({3, 2}, 203).transpose(0, 1), false);
  EXPECT_NE(error_of([&] { concat({x, strided}, 0); }).find("xs[1] must be contiguous"), std::string::npos);
}

// A zero-width last dim ([R, 0]) is a valid shape: row-wise ops keep R rows (they used to divide
// numel by the last dim to count rows: SIGFPE). Values are exact (empty sums are 0, linear with
// K = 0 is its bias), so the comparisons are exact.
TEST(AutogradTape, ZeroWidthLastDimKeepsRows) {
  const Var x = Var::leaf(Tensor::zeros({3, 0}, DType::F64), true);
  const Var s = sum_last(x);
  ASSERT_EQ(s.shape(), (Shape{3}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.value().data<double>()[i], 0.0);
  EXPECT_EQ(softmax_last(x).shape(), (Shape{3, 0}));
  EXPECT_EQ(rms_norm(x, Var(), 1e-6).shape(), (Shape{3, 0}));
  EXPECT_EQ(layer_norm(x, Var(), Var(), 1e-6).shape(), (Shape{3, 0}));
  EXPECT_EQ(l2_normalize(x).shape(), (Shape{3, 0}));
  EXPECT_EQ(add_row(x, cst(Tensor::zeros({0}, DType::F64))).shape(), (Shape{3, 0}));
  const Var w = Var::leaf(Tensor::zeros({2, 0}, DType::F64), true), b = Var::leaf(randn({2}, 201), true);
  const Var y = linear(x, w, b);
  ASSERT_EQ(y.shape(), (Shape{3, 2}));
  for (int r = 0; r < 3; ++r)
    for (int n = 0; n < 2; ++n) EXPECT_EQ(y.value().data<double>()[r * 2 + n], b.value().data<double>()[n]);
  backward(sum(add(sum_last(y), s)));
  EXPECT_EQ(x.grad().shape(), (Shape{3, 0}));
  EXPECT_EQ(w.grad().shape(), (Shape{2, 0}));
  for (int n = 0; n < 2; ++n) EXPECT_EQ(b.grad().data<double>()[n], 3.0);  // 3 rows
}

// ---- thread-count independence ----------------------------------------------------------------
// FNV-1a of the loss and every gradient of a small attention block + LM head + conv/group-norm,
// F32, in each GEMM precision. The GEMMs are big enough to be split over the pool.
std::string block_hashes() {
  auto hash = [](const Tensor& t) {
    uint64_t h = 0xcbf29ce484222325ull;
    const auto* p = static_cast<const uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx ", static_cast<unsigned long long>(h));
    return std::string(buf);
  };
  std::string out;
  for (GemmPrecision p : {GemmPrecision::kFull, GemmPrecision::kBf16, GemmPrecision::kFp8}) {
    const int64_t B = 2, T = 96, H = 4, D = 64, C = H * D, V = 1000;
    Var x = Var::leaf(randn({B * T, C}, 301, 1.0, DType::F32), true);
    Var wq = Var::leaf(randn({C, C}, 302, 0.05, DType::F32), true),
        wk = Var::leaf(randn({C, C}, 303, 0.05, DType::F32), true),
        wv = Var::leaf(randn({C, C}, 304, 0.05, DType::F32), true),
        wo = Var::leaf(randn({V, C}, 305, 0.05, DType::F32), true);
    Var nw = Var::leaf(randn({C}, 306, 1.0, DType::F32), true);
    Var h = rms_norm(x, nw, 1e-6);
    Var q = reshape(linear(h, wq, Var(), p), {B, T, H, D}), k = reshape(linear(h, wk, Var(), p), {B, T, H, D}),
        v = reshape(linear(h, wv, Var(), p), {B, T, H, D});
    Var y = layer_norm(add(reshape(attention(q, k, v, 0.125, true), {B * T, C}), x), Var(), Var(), 1e-5);
    std::vector<int64_t> targets(size_t(B * T));
    for (size_t i = 0; i < targets.size(); ++i) targets[i] = int64_t(i * 7919 % V);
    Var img = Var::leaf(randn({2, 8, 40, 40}, 307, 1.0, DType::F32), true),
        cw = Var::leaf(randn({32, 8, 3, 3}, 308, 0.1, DType::F32), true);
    Conv2dOptions o;
    o.pad_top = o.pad_bottom = o.pad_left = o.pad_right = 1;
    Var loss = add(cross_entropy(linear(y, wo, Var(), p), targets),
                   mean(square(group_norm(conv2d(img, cw, Var(), o), Var(), Var(), 8, 1e-6))));
    backward(loss);
    out += hash(loss.value());
    for (const Var* g : {&x, &wq, &wk, &wv, &wo, &nw, &img, &cw}) out += hash(g->grad());
  }
  return out;
}

// Results must not depend on the pool size (JANUS_THREADS, by default the core count), or a
// checkpoint resumed on another machine would not continue bit for bit. The pool size is fixed per
// process, so this re-runs the executable with 1, 2, 3 and 7 threads and compares the hashes
// exactly. (The GEMMs used to split their rows/columns by thread count; OpenBLAS rounds an element
// differently depending on where it falls in a call, so every gradient differed.)
TEST(AutogradDeterminism, GradientsDoNotDependOnTheThreadCount) {
  if (std::getenv("JANUS_AG_THREAD_PROBE")) {
    std::printf("PROBE %s\n", block_hashes().c_str());
    return;
  }
  char exe[4096];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  exe[n] = '\0';
  std::vector<std::string> results;
  for (int threads : {1, 2, 3, 7}) {
    const std::string cmd = "JANUS_THREADS=" + std::to_string(threads) + " JANUS_AG_THREAD_PROBE=1 '" +
                            std::string(exe) + "' --gtest_filter=AutogradDeterminism.* 2>&1";
    FILE* f = popen(cmd.c_str(), "r");
    ASSERT_NE(f, nullptr);
    std::string text;
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) text += buf;
    ASSERT_EQ(pclose(f), 0) << text;
    const size_t at = text.find("PROBE ");
    ASSERT_NE(at, std::string::npos) << text;
    results.push_back(text.substr(at, text.find('\n', at) - at));
  }
  for (size_t i = 1; i < results.size(); ++i) EXPECT_EQ(results[i], results[0]) << "thread count index " << i;
}

TEST(AutogradTape, GraphRunsOnceAndIntermediateGradsAreFreed) {
  Var x = Var::leaf(randn({3}, 29), true);
  Var h = scale(x, 2.0), k = scale(x, 3.0);
  k.retain_grad();
  Var l = sum(mul(h, k));
  backward(l);
  EXPECT_FALSE(h.has_grad());
  ASSERT_TRUE(k.has_grad());
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(k.grad().data<double>()[i], 2.0 * x.value().data<double>()[i]);
  EXPECT_THROW(backward(l), Error);
}

TEST(AutogradTape, CheckpointMatchesPlainGraphForInputsAndCapturedParams) {
  const Tensor x0 = randn({5, 8}, 160), w0 = randn({8, 8}, 161, 0.3), n0 = randn({8}, 162);
  auto run = [&](bool ckpt, Tensor* gx, Tensor* gw, Tensor* gn) {
    Var x = Var::leaf(x0.clone(), true), w = Var::leaf(w0.clone(), true), n = Var::leaf(n0.clone(), true);
    auto block = [w](const std::vector<Var>& v) { return gelu(linear(rms_norm(v[0], v[1], 1e-6), w)); };
    Var y = ckpt ? checkpoint(block, {x, n}) : block({x, n});
    backward(sum(square(y)));
    *gx = x.grad();
    *gw = w.grad();
    *gn = n.grad();
  };
  Tensor a[3], b[3];
  run(false, &a[0], &a[1], &a[2]);
  run(true, &b[0], &b[1], &b[2]);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rel_err(a[i], b[i]), 0.0) << i;  // same ops, same order: bitwise
  // A frozen input block still reaches the parameters captured inside f.
  Var w = Var::leaf(w0.clone(), true);
  backward(sum(checkpoint([w](const std::vector<Var>& v) { return linear(v[0], w); }, {Var::constant(x0)})));
  EXPECT_TRUE(w.has_grad());
}

TEST(AutogradTape, SecondBackwardThroughReleasedGraphThrows) {
  Var x = Var::leaf(randn({3}, 163), true);
  Var h = silu(x);
  backward(sum(h));
  EXPECT_THROW(backward(sum(scale(h, 2.0))), Error);
}

TEST(AutogradTape, DeepChainBackwardWithoutRecursion) {
  // 10k recorded ops: backward and destruction must not recurse per node.
  Var x = Var::leaf(randn({4}, 30), true);
  Var y = x;
  for (int i = 0; i < 10000; ++i) y = add_scalar(y, 1e-3);
  backward(sum(y));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(x.grad().data<double>()[i], 1.0);
  // And a chain dropped without running backward.
  Var z = x;
  for (int i = 0; i < 100000; ++i) z = add_scalar(z, 1.0);
  z = Var();
}

}  // namespace
}  // namespace janus::kernels::ag
