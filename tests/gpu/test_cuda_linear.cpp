// linear() on the GPU against linear() on the CPU, for every weight dtype, both GPU paths (GEMV
// for M ≤ 8 rows, widen + sgemm above; cuBLAS sgemm for f32), aligned and unaligned rows.
//
// Tolerance: |gpu − cpu| ≤ 2e-5 · (Σ_k |x_k·w_k| + |bias|) per element. Both sides accumulate
// in f32 from the same exactly-decoded weights; tests/kernels/test_linear.cpp bounds the CPU's
// error by 1e-5 of that sum for K ≤ 1000, and the GPU's chains are no longer (GEMV: 16-term
// partials, K/512 per lane, a 5-level warp tree; cuBLAS: K ≤ 512 here, TF32 off). fp8 adds one
// rounding per block partial (× scale) on the GPU and one per x element on the CPU — well inside.
#include "gpu_test_util.h"
#include "kernels/cuda/cuda_ops.h"

namespace janus::kernels {
namespace {

using gpu_test::CudaTest;
using gpu_test::expect_close;
using gpu_test::gpu;
using gpu_test::host;
using gpu_test::random_f32;

constexpr double kRelTol = 2e-5;

struct Case {
  DType dt;
  int64_t M, N, K;
  bool bias;
  int64_t x_pad = 0, w_pad = 0;  // extra elements per row of x / W (strided views)
};

std::string name(const Case& c) {
  return std::string(dtype_name(c.dt)) + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
         " K=" + std::to_string(c.K) + (c.bias ? " +bias" : "") + " x_pad=" + std::to_string(c.x_pad) +
         " w_pad=" + std::to_string(c.w_pad);
}

// A weight [N, K] (a view of [N, K + w_pad]) with finite values of every magnitude.
Weight make_weight(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t ld = c.K + c.w_pad;
  Weight w;
  Tensor full = Tensor::empty({c.N, ld}, c.dt);
  if (c.dt == DType::F8E4M3) {
    std::uniform_int_distribution<int> ub(0, 255);
    for (int64_t i = 0; i < c.N * ld; ++i) {
      uint8_t b;
      do b = uint8_t(ub(rng));
      while ((b & 0x7f) == 0x7f);  // NaN codes: never produced by quantisers
      full.data<uint8_t>()[i] = b;
    }
    std::vector<float> sc(size_t(((c.N + 127) / 128) * ((c.K + 127) / 128)));
    std::uniform_real_distribution<float> us(0.25f, 4.0f);
    for (float& s : sc) s = us(rng) * 1e-2f;
    w.scale_inv = Tensor::from_f32({(c.N + 127) / 128, (c.K + 127) / 128}, sc);
  } else {
    full.copy_from(random_f32({c.N, ld}, seed));  // rounds to the dtype
  }
  w.w = full.slice(1, 0, c.K);
  if (c.bias) w.bias = random_f32({c.N}, seed + 1);
  return w;
}

// The weight's real values as f32 [N, K] (exact: scales applied with one rounding, as both kernels).
std::vector<float> weight_values(const Weight& w) {
  Tensor c = w.w.contiguous();
  if (c.dtype() == DType::F8E4M3) return fp8_dequantize(c, w.scale_inv).to_f32_vector();
  return c.to_f32_vector();
}

Weight to_gpu(const Weight& w) {
  Weight g;
  // Copy the whole padded buffer so the device view keeps the row stride.
  const int64_t ld = w.w.strides()[0];
  Tensor full = Tensor::borrow(w.w.raw(), {w.w.size(0), ld}, w.w.dtype(), nullptr);
  g.w = gpu(full).slice(1, 0, w.w.size(1));
  if (w.scale_inv.defined()) g.scale_inv = gpu(w.scale_inv);
  if (w.bias.defined()) g.bias = gpu(w.bias);
  return g;
}

void run_case(const Case& c, uint32_t seed) {
  SCOPED_TRACE(name(c));
  const Weight w = make_weight(c, seed);
  const Tensor xfull = random_f32({c.M, c.K + c.x_pad}, seed + 2);
  const Tensor x = xfull.slice(1, 0, c.K);
  Tensor y_cpu = Tensor::empty({c.M, c.N}, DType::F32);
  linear(y_cpu, x, w);

  const Weight gw = to_gpu(w);
  const Tensor gx = gpu(xfull).slice(1, 0, c.K);
  Tensor y_gpu = Tensor::empty({c.M, c.N}, DType::F32, Device::CUDA);
  linear(y_gpu, gx, gw);

  const std::vector<float> wv = weight_values(w), xv = x.contiguous().to_f32_vector();
  const std::vector<float> bv = c.bias ? w.bias.to_f32_vector() : std::vector<float>();
  std::vector<double> bound(size_t(c.M * c.N));
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      double s = c.bias ? std::fabs(bv[size_t(n)]) : 0.0;
      for (int64_t k = 0; k < c.K; ++k) s += std::fabs(double(xv[size_t(m * c.K + k)]) * wv[size_t(n * c.K + k)]);
      bound[size_t(m * c.N + n)] = kRelTol * s;
    }
  expect_close(
      host(y_gpu), host(y_cpu), [&](size_t i) { return bound[i]; }, name(c));
}

class CudaLinear : public CudaTest {};

TEST_F(CudaLinear, F32WeightsMatchCpuThroughCublas) {
  for (int64_t M : {1, 3, 40}) run_case({DType::F32, M, 130, 300, M != 3}, 10 + uint32_t(M));
  run_case({DType::F32, 5, 64, 96, true, 3, 5}, 11);  // strided x and W
}

TEST_F(CudaLinear, Bf16WeightsMatchCpuOnGemvAndGemmPaths) {
  // K = 296: 16-byte aligned rows, whole 8-element vectors only.
  for (int64_t M : {1, 2, 8, 9, 40}) run_case({DType::BF16, M, 130, 296, M % 2 == 1}, 20 + uint32_t(M));
  run_case({DType::BF16, 1, 256, 512, false}, 21);
  run_case({DType::BF16, 6, 131, 300, true, 4, 4}, 23);  // aligned padded rows + 4-element tail
  run_case({DType::BF16, 4, 67, 129, true, 3, 1}, 22);   // unaligned rows: scalar GEMV path
}

TEST_F(CudaLinear, F16WeightsMatchCpuOnGemvAndGemmPaths) {
  for (int64_t M : {1, 5, 33}) run_case({DType::F16, M, 130, 304, true}, 30 + uint32_t(M));
  run_case({DType::F16, 2, 33, 300, false}, 31);  // 600-byte rows: unaligned, scalar GEMV path
}

TEST_F(CudaLinear, Fp8BlockScaledWeightsMatchCpuOnGemvAndGemmPaths) {
  for (int64_t M : {1, 2, 8, 12}) run_case({DType::F8E4M3, M, 300, 400, M == 2}, 40 + uint32_t(M));
  run_case({DType::F8E4M3, 2, 129, 300, true, 0, 20}, 41);  // padded aligned rows + 12-element tail
  run_case({DType::F8E4M3, 3, 129, 137, false, 1, 3}, 42);  // unaligned: scalar GEMV path
}

TEST_F(CudaLinear, WidenedTilesCoverEveryWeightRow) {
  const int64_t saved = cuda::linear_tile_bytes();
  cuda::set_linear_tile_bytes(1);  // one 128-row band per tile: 3 tiles, the last partial
  run_case({DType::BF16, 12, 300, 136, true}, 60);
  run_case({DType::F8E4M3, 9, 257, 200, false}, 61);
  cuda::set_linear_tile_bytes(saved);
}

TEST_F(CudaLinear, EmptyInnerDimensionGivesTheBias) {
  Weight w;
  w.w = Tensor::empty({5, 0}, DType::BF16, Device::CUDA);
  w.bias = gpu(Tensor::from_f32({5}, {1, 2, 3, 4, 5}));
  Tensor x = Tensor::empty({2, 0}, DType::F32, Device::CUDA);
  Tensor y = Tensor::empty({2, 5}, DType::F32, Device::CUDA);
  linear(y, x, w);
  EXPECT_EQ(host(y), (std::vector<float>{1, 2, 3, 4, 5, 1, 2, 3, 4, 5}));
}

TEST_F(CudaLinear, RejectsScalesOnTheHost) {
  Case c{DType::F8E4M3, 1, 128, 128, false};
  Weight w = to_gpu(make_weight(c, 50));
  w.scale_inv = w.scale_inv.to(Device::CPU);
  Tensor x = Tensor::zeros({1, 128}, DType::F32, Device::CUDA);
  Tensor y = Tensor::empty({1, 128}, DType::F32, Device::CUDA);
  EXPECT_THROW(linear(y, x, w), Error);
}

}  // namespace
}  // namespace janus::kernels
