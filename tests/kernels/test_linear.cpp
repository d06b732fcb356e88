// linear(): every weight dtype against a float64 reference computed from the same stored weights.
//
// Tolerance: |y − ref| ≤ 1e-5 · (Σ_k |x_k·w_k| + |bias|), per element. The kernel accumulates in
// f32; its rounding error is bounded by (chain length)·u·Σ|x_k·w_k| with u = 6e-8. The GEMV's
// chains are at most K/32 + 5 long (≤ 2.2e-6 for K ≤ 1000); OpenBLAS's sgemm accumulates along
// K (worst case K·u = 6e-5, but random-sign rounding errors grow like √K·u ≈ 2e-6). fp8 adds one
// rounding per term (x·scale). 1e-5 is ~5× above what these produce (each test prints its worst
// ratio: 1e-7..5e-7), and ~400× below what rounding x to bf16 (forbidden: parity
// needs f32 activations) would cost.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/linear.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"
#include "kernels/tensor.h"

namespace janus::kernels {
namespace {

constexpr double kRelTol = 1e-5;

// A weight, its exact values as stored (scales applied) in double, and a bias.
struct TestWeight {
  Weight w;
  std::vector<double> value;  // [N, K]
  std::vector<double> bias;   // [N] or empty
};

bool is_fp8_nan(uint8_t b) { return (b & 0x7f) == 0x7f; }

TestWeight make_weight(DType dt, int64_t N, int64_t K, bool with_bias, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  TestWeight t;
  t.w.w = Tensor::empty({N, K}, dt);
  t.value.resize(size_t(N * K));
  if (dt == DType::F8E4M3) {
    const int64_t bn = (N + 127) / 128, bk = (K + 127) / 128;
    std::vector<float> sc(size_t(bn * bk));
    std::uniform_real_distribution<float> us(0.25f, 4.0f);
    for (float& s : sc) s = us(rng) * 1e-2f;
    t.w.scale_inv = Tensor::from_f32({bn, bk}, sc);
    std::uniform_int_distribution<int> ub(0, 255);
    auto* q = t.w.w.data<uint8_t>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) {
        uint8_t b;
        do b = uint8_t(ub(rng));
        while (is_fp8_nan(b));  // every finite code, subnormals included
        q[n * K + k] = b;
        t.value[size_t(n * K + k)] = double(fp8e4m3_to_f32(b)) * sc[size_t(n / 128 * bk + k / 128)];
      }
  } else {
    for (int64_t i = 0; i < N * K; ++i) {
      float v = u(rng);
      switch (dt) {
        case DType::F32:
          t.w.w.data<float>()[i] = v;
          t.value[size_t(i)] = v;
          break;
        case DType::BF16: {
          uint16_t h = f32_to_bf16(v);
          t.w.w.data<uint16_t>()[i] = h;
          t.value[size_t(i)] = bf16_to_f32(h);
          break;
        }
        default: {
          uint16_t h = f32_to_f16(v);
          t.w.w.data<uint16_t>()[i] = h;
          t.value[size_t(i)] = f16_to_f32(h);
        }
      }
    }
  }
  if (with_bias) {
    std::vector<float> b(static_cast<size_t>(N));
    for (float& e : b) e = u(rng);
    t.w.bias = Tensor::from_f32({N}, b);
    t.bias.assign(b.begin(), b.end());
  }
  return t;
}

// x [M, K] viewed with row stride K + pad (pad > 0: strided rows inside a wider buffer).
Tensor make_x(int64_t M, int64_t K, int64_t pad, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(size_t(M * (K + pad)));
  for (float& e : v) e = u(rng);
  return Tensor::from_f32({M, K + pad}, v).slice(1, 0, K);
}

double g_worst = 0;  // largest |y − ref| / scale seen by compare() since the last reset

// Checks y against the float64 reference; returns the number of failing elements (reports few).
int compare(const Tensor& y, const Tensor& x, const TestWeight& t, const std::string& what) {
  const int64_t M = x.size(0), K = x.size(1), N = y.size(1);
  const float* xd = x.data<float>();
  const float* yd = y.data<float>();
  const int64_t ldx = x.strides()[0], ldy = y.strides()[0];
  int bad = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double ref = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        double p = double(xd[m * ldx + k]) * t.value[size_t(n * K + k)];
        ref += p;
        mag += std::fabs(p);
      }
      if (!t.bias.empty()) {
        ref += t.bias[size_t(n)];
        mag += std::fabs(t.bias[size_t(n)]);
      }
      const double got = yd[m * ldy + n];
      if (mag > 0) g_worst = std::max(g_worst, std::fabs(got - ref) / mag);
      if (!(std::fabs(got - ref) <= kRelTol * mag + 1e-30)) {
        if (++bad <= 3)
          ADD_FAILURE() << what << ": y[" << m << ", " << n << "] = " << got << ", reference " << ref << " (scale "
                        << mag << ")";
      }
    }
  return bad;
}

struct Shape2 {
  int64_t N, K;
};
// Odd and ragged shapes: N not a multiple of 4/16/64/128, K not a multiple of 32/128; one
// shape large enough to be split across threads.
const Shape2 kShapes[] = {{37, 300}, {256, 384}, {200, 1000}, {1030, 520}, {5, 17}};

// y [M, N] filled with NaN, viewed with row stride N + pad.
Tensor make_y(int64_t M, int64_t N, int64_t pad) {
  Tensor y = Tensor::empty({M, N + pad}, DType::F32);
  for (int64_t i = 0; i < M * (N + pad); ++i) y.data<float>()[i] = NAN;
  return y.slice(1, 0, N);
}

enum class Path { kGemv, kGemm };

// Forces linear()'s GEMV or sgemm path for the scope (the default switches at a small M).
struct ForcePath {
  explicit ForcePath(Path p) { cpu::set_linear_gemv_max_rows(p == Path::kGemv ? int64_t(1) << 40 : 0); }
  ~ForcePath() { cpu::set_linear_gemv_max_rows(cpu::kLinearGemvMaxRows); }
};

const std::vector<int64_t> kRows = {1, 2, 3, 4, 7, 64, 129};

void check_dtype(DType dt, Path path) {
  ForcePath force(path);
  g_worst = 0;
  uint32_t seed = 1;
  for (const Shape2& s : kShapes)
    for (bool with_bias : {false, true}) {
      const TestWeight t = make_weight(dt, s.N, s.K, with_bias, seed++);
      for (int64_t M : kRows)
        for (int64_t pad : {0, 3}) {
          const Tensor x = make_x(M, s.K, pad, seed++);
          Tensor y = make_y(M, s.N, pad ? 5 : 0);
          linear(y, x, t.w);
          const std::string what = std::string(dtype_name(dt)) + (path == Path::kGemv ? " gemv" : " gemm") +
                                   " M=" + std::to_string(M) + " N=" + std::to_string(s.N) +
                                   " K=" + std::to_string(s.K) + (with_bias ? " +bias" : "") + (pad ? " strided" : "");
          EXPECT_EQ(compare(y, x, t, what), 0) << what;
        }
    }
  std::printf("  worst |y - ref| / scale = %.2g (tolerance %.0e)\n", g_worst, kRelTol);
}

TEST(Linear, F32GemvMatchesFloat64Reference) { check_dtype(DType::F32, Path::kGemv); }
TEST(Linear, F32GemmMatchesFloat64Reference) { check_dtype(DType::F32, Path::kGemm); }
TEST(Linear, Bf16GemvMatchesFloat64Reference) { check_dtype(DType::BF16, Path::kGemv); }
TEST(Linear, Bf16GemmMatchesFloat64Reference) { check_dtype(DType::BF16, Path::kGemm); }
TEST(Linear, F16GemvMatchesFloat64Reference) { check_dtype(DType::F16, Path::kGemv); }
TEST(Linear, F16GemmMatchesFloat64Reference) { check_dtype(DType::F16, Path::kGemm); }
TEST(Linear, Fp8GemvMatchesFloat64Reference) { check_dtype(DType::F8E4M3, Path::kGemv); }
TEST(Linear, Fp8GemmMatchesFloat64Reference) { check_dtype(DType::F8E4M3, Path::kGemm); }

// The default dispatch (GEMV for small M, sgemm above) on a decode-like and a prefill-like call.
TEST(Linear, DefaultDispatchMatchesFloat64Reference) {
  for (DType dt : {DType::F32, DType::BF16, DType::F16, DType::F8E4M3}) {
    const TestWeight t = make_weight(dt, 300, 700, true, 17);
    for (int64_t M : {int64_t(1), cpu::kLinearGemvMaxRows, cpu::kLinearGemvMaxRows + 1, int64_t(50)}) {
      const Tensor x = make_x(M, 700, 0, 18);
      Tensor y = make_y(M, 300, 0);
      linear(y, x, t.w);
      EXPECT_EQ(compare(y, x, t, std::string(dtype_name(dt)) + " M=" + std::to_string(M)), 0);
    }
  }
}

// Every finite e4m3 code (subnormals included) times its block scale, through both paths:
// with K = 1 and x = 1 each output is one product, so the result must be exact.
TEST(Linear, Fp8DecodesEveryCodeExactly) {
  const int64_t N = 256;
  Weight w;
  w.w = Tensor::empty({N, 1}, DType::F8E4M3);
  for (int64_t n = 0; n < N; ++n) w.w.data<uint8_t>()[n] = uint8_t(n);
  w.scale_inv = Tensor::from_f32({2, 1}, {0.375f, 3.0f});
  for (Path path : {Path::kGemv, Path::kGemm}) {
    ForcePath force(path);
    const int64_t M = 3;
    Tensor x = Tensor::from_f32({M, 1}, std::vector<float>(size_t(M), 1.0f));
    Tensor y = Tensor::empty({M, N}, DType::F32);
    linear(y, x, w);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        if (is_fp8_nan(uint8_t(n))) continue;
        const float want = fp8e4m3_to_f32(uint8_t(n)) * (n < 128 ? 0.375f : 3.0f);
        ASSERT_EQ(y.data<float>()[m * N + n], want)
            << "code 0x" << std::hex << n << (path == Path::kGemv ? " gemv" : " gemm");
      }
  }
}

// fp8 with block scales is the same linear map as f32 weights holding the dequantised values
// (reference dequantised here, not through fp8_dequantize). Both sides are f32 kernels with
// different summation orders: each is within kRelTol of the exact value, so 2·kRelTol.
TEST(Linear, Fp8EqualsF32OnDequantisedWeights) {
  const int64_t N = 300, K = 700;
  const TestWeight q = make_weight(DType::F8E4M3, N, K, true, 99);
  Weight wf;
  wf.w = Tensor::empty({N, K}, DType::F32);
  for (int64_t i = 0; i < N * K; ++i) wf.w.data<float>()[i] = float(q.value[size_t(i)]);
  wf.bias = q.w.bias;
  for (int64_t M : {1, 3, 9, 70}) {
    const Tensor x = make_x(M, K, 0, 7);
    Tensor y8 = Tensor::empty({M, N}, DType::F32), y32 = Tensor::empty({M, N}, DType::F32);
    linear(y8, x, q.w);
    linear(y32, x, wf);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double mag = std::fabs(q.bias[size_t(n)]);
        for (int64_t k = 0; k < K; ++k)
          mag += std::fabs(double(x.data<float>()[m * K + k]) * q.value[size_t(n * K + k)]);
        const double a = y8.data<float>()[m * N + n], b = y32.data<float>()[m * N + n];
        ASSERT_LE(std::fabs(a - b), 2 * kRelTol * mag) << "M=" << M << " y[" << m << ", " << n << "]";
      }
  }
}

// Leading dims of x are batch dims: [K] -> [N], [B, T, K] -> [B, T, N].
TEST(Linear, BatchDimsAreFlattened) {
  const int64_t N = 19, K = 45;
  const TestWeight t = make_weight(DType::BF16, N, K, true, 5);
  for (int64_t M : {int64_t(3), cpu::kLinearGemvMaxRows + 2}) {  // GEMV and GEMM paths
    const Tensor x2 = make_x(M, K, 0, 6);
    Tensor y2 = Tensor::empty({M, N}, DType::F32);
    linear(y2, x2, t.w);
    const Tensor x3 = x2.view({1, M, K});
    Tensor y3 = Tensor::empty({1, M, N}, DType::F32);
    linear(y3, x3, t.w);
    EXPECT_EQ(y3.to_f32_vector(), y2.to_f32_vector()) << "M=" << M;
  }
  const Tensor x1 = make_x(1, K, 0, 7).select(0, 0);
  Tensor y1 = Tensor::empty({N}, DType::F32);
  linear(y1, x1, t.w);
  EXPECT_EQ(compare(y1.view({1, N}), x1.view({1, K}), t, "1-D x"), 0);
}

// Bias in bf16 (as stored in checkpoints) is read as its f32 value.
TEST(Linear, Bf16BiasIsWidened) {
  const int64_t N = 21, K = 64;
  TestWeight t = make_weight(DType::F16, N, K, true, 11);
  t.w.bias = t.w.bias.to(DType::BF16);
  const std::vector<float> b = t.w.bias.to_f32_vector();
  t.bias.assign(b.begin(), b.end());
  for (int64_t M : {int64_t(2), cpu::kLinearGemvMaxRows + 1}) {
    const Tensor x = make_x(M, K, 0, 12);
    Tensor y = Tensor::empty({M, N}, DType::F32);
    linear(y, x, t.w);
    EXPECT_EQ(compare(y, x, t, "bf16 bias"), 0);
  }
}

TEST(Linear, EmptyInnerDimGivesBias) {
  Weight w;
  w.w = Tensor::empty({3, 0}, DType::BF16);
  w.bias = Tensor::from_f32({3}, {1, 2, 3});
  Tensor x = Tensor::empty({2, 0}, DType::F32);
  Tensor y = Tensor::empty({2, 3}, DType::F32);
  linear(y, x, w);
  EXPECT_EQ(y.to_f32_vector(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no Error thrown (expected one mentioning '" << needle << "')";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("linear"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

TEST(Linear, ShapeAndDtypeErrorsNameTheOpAndShapes) {
  const TestWeight t = make_weight(DType::BF16, 8, 16, false, 3);
  Tensor x = make_x(2, 16, 0, 4);
  Tensor y = Tensor::empty({2, 8}, DType::F32);
  Tensor x_bad = make_x(2, 15, 0, 4);
  expect_error([&] { linear(y, x_bad, t.w); }, "[2, 15]");
  Tensor y_bad = Tensor::empty({2, 9}, DType::F32);
  expect_error([&] { linear(y_bad, x, t.w); }, "[2, 8]");
  Tensor x_bf16 = x.contiguous().to(DType::BF16);
  expect_error([&] { linear(y, x_bf16, t.w); }, "x must be f32");

  Weight with_scale = t.w;
  with_scale.scale_inv = Tensor::from_f32({1, 1}, {1});
  expect_error([&] { linear(y, x, with_scale); }, "scale_inv given");

  const TestWeight q = make_weight(DType::F8E4M3, 8, 16, false, 3);
  Weight no_scale = q.w;
  no_scale.scale_inv = Tensor();
  expect_error([&] { linear(y, x, no_scale); }, "needs scale_inv [1, 1]");
  Weight bad_scale = q.w;
  bad_scale.scale_inv = Tensor::from_f32({2, 1}, {1, 1});
  expect_error([&] { linear(y, x, bad_scale); }, "[2, 1]");

  Weight bad_bias = t.w;
  bad_bias.bias = Tensor::from_f32({7}, std::vector<float>(7, 0.0f));
  expect_error([&] { linear(y, x, bad_bias); }, "bias");
  Weight int_w;
  int_w.w = Tensor::zeros({8, 16}, DType::I32);
  expect_error([&] { linear(y, x, int_w); }, "i32");
  Tensor alias = make_x(2, 16, 0, 4);
  Tensor alias_y = alias.slice(1, 0, 8);
  expect_error([&] { linear(alias_y, alias, t.w); }, "alias");
}

}  // namespace
}  // namespace janus::kernels
