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

namespace janus::kernels::ag {
namespace {

constexpr double kGradTol = 1e-6;
constexpr double kStep = 1e-6;

Tensor randn(const Shape& shape, uint32_t seed, double scale = 1.0, DType dt = DType::F64) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, scale);
  Tensor t = Tensor::empty(shape, DType::F64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = nd(rng);
  return t.to(dt);
}

using Fn = std::function<Var(const std::vector<Var>&)>;

// Runs f on F64 leaves built from `inputs`, takes L = Σ out · W (W fixed random weights), and
// compares dL/d(input) from backward() with central differences. Returns the worst normalised
// error over all inputs (and prints it).
double gradcheck(const Fn& f, const std::vector<Tensor>& inputs, const char* name, uint32_t seed = 7) {
  std::vector<Var> leaves;
  for (const Tensor& t : inputs) leaves.push_back(Var::leaf(t.clone(), true));
  Var out = f(leaves);
  const Tensor w = randn(out.shape(), seed);
  auto scalar = [&]() {
    NoGradGuard ng;
    const Tensor o = f(leaves).value();
    double s = 0;
    for (int64_t i = 0; i < o.numel(); ++i) s += o.data<double>()[i] * w.data<double>()[i];
    return s;
  };
  backward(sum(mul(out, Var::constant(w))));
  double worst = 0;
  for (size_t k = 0; k < leaves.size(); ++k) {
    Tensor v = leaves[k].value();
    std::vector<double> num(size_t(v.numel()));
    double num_max = 0;
    for (int64_t i = 0; i < v.numel(); ++i) {
      double& x = v.data<double>()[i];
      const double x0 = x;
      x = x0 + kStep;
      const double fp = scalar();
      x = x0 - kStep;
      const double fm = scalar();
      x = x0;
      num[size_t(i)] = (fp - fm) / (2 * kStep);
      num_max = std::max(num_max, std::fabs(num[size_t(i)]));
    }
    const Tensor& g = leaves[k].grad();
    double diff = 0;
    for (int64_t i = 0; i < v.numel(); ++i) diff = std::max(diff, std::fabs(g.data<double>()[i] - num[size_t(i)]));
    const double err = diff / std::max(1.0, num_max);
    worst = std::max(worst, err);
    EXPECT_LE(err, kGradTol) << name << ": input " << k << " " << shape_str(v.shape());
  }
  std::printf("[gradcheck] %-40s max normalised error %.2e\n", name, worst);
  return worst;
}

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

Tensor f32(const Tensor& t) { return t.to(DType::F32); }
Var cst(const Tensor& t) { return Var::constant(t); }
// max |a − b| / max(1, max |b|)
double rel_err(const Tensor& a, const Tensor& b) {
  const Tensor ad = a.to(DType::F64).contiguous(), bd = b.to(DType::F64).contiguous();
  EXPECT_EQ(a.shape(), b.shape());
  double d = 0, m = 0;
  for (int64_t i = 0; i < ad.numel(); ++i) {
    d = std::max(d, std::fabs(ad.data<double>()[i] - bd.data<double>()[i]));
    m = std::max(m, std::fabs(bd.data<double>()[i]));
  }
  return d / std::max(1.0, m);
}

// max |a − b| / max |b| (for gradients, whose scale may be far below 1)
double rel_err_to_max(const Tensor& a, const Tensor& b) {
  const Tensor ad = a.to(DType::F64).contiguous(), bd = b.to(DType::F64).contiguous();
  double d = 0, m = 0;
  for (int64_t i = 0; i < ad.numel(); ++i) {
    d = std::max(d, std::fabs(ad.data<double>()[i] - bd.data<double>()[i]));
    m = std::max(m, std::fabs(bd.data<double>()[i]));
  }
  return m > 0 ? d / m : d;
}

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
