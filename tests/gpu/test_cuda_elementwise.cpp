// Row-wise ops on the GPU against the CPU ops: norms, element-wise, softmax, embedding, rope.
// Inputs are strided views (rows padded) where the op allows it. Tolerances per test; the GPU
// sums in float trees where the CPU sums in double, and uses CUDA's expf/erff/tanhf/cosf/sinf
// (≤ 2 ulp ≈ 2.4e-7 relative) where the CPU uses glibc's.
#include "gpu_test_util.h"

namespace janus::kernels {
namespace {

using gpu_test::CudaTest;
using gpu_test::expect_close;
using gpu_test::gpu;
using gpu_test::host;
using gpu_test::random_f32;

// A [rows, d] view with row stride d + 7 over random values, on the CPU and the GPU.
struct Rows {
  Tensor cpu, gpu, gpu_full;
  // The GPU view's values (copies the padded buffer: device copies need contiguous tensors).
  std::vector<float> gpu_values() const { return gpu_full.to(Device::CPU).slice(1, 0, gpu.size(1)).to_f32_vector(); }
};
Rows padded_rows(int64_t rows, int64_t d, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  Tensor full = random_f32({rows, d + 7}, seed, lo, hi);
  Tensor g = gpu(full);
  return {full.slice(1, 0, d), g.slice(1, 0, d), g};
}

class CudaRowOps : public CudaTest {};

// RMSNorm: mean(x²) in float over 300 terms (relative error ≲ 1e-6) against double, then two
// products: |Δy| ≤ 4e-6·|y| + 1e-7.
TEST_F(CudaRowOps, RmsNormMatchesCpu) {
  for (DType wdt : {DType::F32, DType::BF16}) {
    Rows x = padded_rows(9, 300, 1);
    Tensor w = random_f32({300}, 2).to(wdt);
    Tensor y = Tensor::empty({9, 300}, DType::F32), gy = Tensor::empty({9, 300}, DType::F32, Device::CUDA);
    rms_norm(y, x.cpu, w, 1e-6f);
    rms_norm(gy, x.gpu, gpu(w), 1e-6f);
    const std::vector<float> want = host(y);
    expect_close(
        host(gy), want, [&](size_t i) { return 4e-6 * std::fabs(want[i]) + 1e-7; }, "rms_norm");
  }
}

// LayerNorm: mean and variance in float (relative error ≲ 1e-6 each); |y| ≤ ~4 here, so an
// absolute 1e-5 is ≥ 2× the worst case.
TEST_F(CudaRowOps, LayerNormMatchesCpu) {
  Rows x = padded_rows(6, 257, 3, -1.0f, 3.0f);  // non-zero mean
  Tensor w = random_f32({257}, 4), b = random_f32({257}, 5);
  Tensor y = Tensor::empty({6, 257}, DType::F32), gy = Tensor::empty({6, 257}, DType::F32, Device::CUDA);
  layer_norm(y, x.cpu, w, b, 1e-5f);
  layer_norm(gy, x.gpu, gpu(w), gpu(b), 1e-5f);
  expect_close(
      host(gy), host(y), [](size_t) { return 1e-5; }, "layer_norm with bias");
  layer_norm(y, x.cpu, w, Tensor(), 1e-5f);
  layer_norm(gy, x.gpu, gpu(w), Tensor(), 1e-5f);
  expect_close(
      host(gy), host(y), [](size_t) { return 1e-5; }, "layer_norm without bias");
}

// One transcendental (≤ 2 ulp) and ≤ 3 roundings per element: |Δy| ≤ 1e-6·(1 + |y|) for
// inputs in [-4, 4] (tanh-GELU's 1 + tanh cancellation is absolute, hence the 1).
TEST_F(CudaRowOps, ElementwiseOpsMatchCpu) {
  Rows a = padded_rows(5, 333, 6, -4.0f, 4.0f), b = padded_rows(5, 333, 7, -4.0f, 4.0f);
  auto tol = [](const std::vector<float>& want) {
    return [&want](size_t i) { return 1e-6 * (1.0 + std::fabs(want[i])); };
  };
  Tensor y = Tensor::empty({5, 333}, DType::F32), gy = Tensor::empty({5, 333}, DType::F32, Device::CUDA);
  silu_mul(y, a.cpu, b.cpu);
  silu_mul(gy, a.gpu, b.gpu);
  std::vector<float> want = host(y);
  expect_close(host(gy), want, tol(want), "silu_mul");
  for (bool approx : {false, true}) {
    gelu(y, a.cpu, approx);
    gelu(gy, a.gpu, approx);
    want = host(y);
    expect_close(host(gy), want, tol(want), approx ? "gelu tanh" : "gelu erf");
  }
  add(y, a.cpu, b.cpu);
  add(gy, a.gpu, b.gpu);
  want = host(y);
  expect_close(
      host(gy), want, [](size_t) { return 0.0; }, "add (one correctly rounded sum)");
  axpy(y, 0.37f, b.cpu);  // y = a + b from above, on both sides
  axpy(gy, 0.37f, b.gpu);
  want = host(y);
  expect_close(host(gy), want, tol(want), "axpy (fused or not)");
}

TEST_F(CudaRowOps, SiluMulMayWriteIntoGate) {
  Rows g = padded_rows(3, 64, 8), u = padded_rows(3, 64, 9);
  Tensor want = Tensor::empty({3, 64}, DType::F32);
  silu_mul(want, g.cpu, u.cpu);
  silu_mul(g.gpu, g.gpu, u.gpu);
  const std::vector<float> w = host(want);
  expect_close(
      g.gpu_values(), w, [&](size_t i) { return 1e-6 * (1.0 + std::fabs(w[i])); }, "silu_mul in place");
}

// Softmax: float sums of ≤ 1000 positive terms (relative error ≲ 1e-6) against double.
TEST_F(CudaRowOps, SoftmaxRowsMatchesCpu) {
  for (int64_t d : {1, 31, 1000}) {
    Rows x = padded_rows(4, d, 10 + uint32_t(d), -8.0f, 8.0f);
    Tensor c = x.cpu.contiguous().clone();
    softmax_rows(c);
    softmax_rows(x.gpu);
    const std::vector<float> want = host(c);
    expect_close(
        x.gpu_values(), want, [&](size_t i) { return 2e-6 * want[i] + 1e-9; }, "softmax d=" + std::to_string(d));
  }
}

// Embedding: widening bf16/f16 to f32 is exact, so the rows must be identical.
TEST_F(CudaRowOps, EmbeddingCopiesRowsExactly) {
  const std::vector<int64_t> ids = {3, 0, 99, 3, 42};
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    Tensor table = random_f32({100, 48}, 11).to(dt);
    Tensor y = Tensor::empty({5, 48}, DType::F32), gy = Tensor::empty({5, 48}, DType::F32, Device::CUDA);
    embedding(y, table, ids.data(), 5);
    embedding(gy, gpu(table), ids.data(), 5);
    EXPECT_EQ(host(gy), host(y)) << dtype_name(dt);
  }
}

TEST_F(CudaRowOps, EmbeddingRejectsIdsOutsideTheTable) {
  Tensor table = gpu(random_f32({10, 4}, 12));
  Tensor y = Tensor::empty({1, 4}, DType::F32, Device::CUDA);
  const int64_t bad = 10;
  EXPECT_THROW(embedding(y, table, &bad, 1), Error);
}

// RoPE: angle = float(pos)·inv_freq is computed identically; cosf/sinf differ by ≤ 2 ulp even
// for the large angles of late positions, then one product and one fused/unfused sum:
// |Δ| ≤ 2e-6·scale·(|a| + |b|) ≤ 2e-6·scale·2·max|x|.
TEST_F(CudaRowOps, RopeMatchesCpuForBothStylesOffsetsAndScale) {
  const int64_t T = 6, H = 3, D = 40;
  const std::vector<int64_t> pos = {0, 1, 7, 1000, 65535, 131071};
  std::vector<float> inv(12);
  for (size_t j = 0; j < inv.size(); ++j) inv[j] = std::pow(10000.0f, -float(j) / float(inv.size()));
  for (RopeStyle style : {RopeStyle::kHalf, RopeStyle::kInterleaved})
    for (int offset : {0, 16}) {
      const float scale = offset ? 1.25f : 1.0f;
      Tensor full = random_f32({T, H, D + 4}, 13);
      Tensor x = full.slice(2, 0, D), gfull = gpu(full), gx = gfull.slice(2, 0, D);
      rope(x, pos.data(), inv, offset, style, scale);
      rope(gx, pos.data(), inv, offset, style, scale);
      const std::string what =
          std::string(style == RopeStyle::kHalf ? "half" : "interleaved") + " offset " + std::to_string(offset);
      // |x| ≤ 1: the bound is 2e-6·scale·2.
      expect_close(
          gfull.to(Device::CPU).slice(2, 0, D).to_f32_vector(), x.to_f32_vector(), [&](size_t) { return 4e-6 * scale; },
          what);
    }
}

}  // namespace
}  // namespace janus::kernels
