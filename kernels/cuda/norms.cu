// RMSNorm and LayerNorm over the last dim on the GPU: one block per row, statistics in float32
// (block tree sums; the CPU sums in double: a few ulp apart). Memory-bound: x is read twice
// (LayerNorm three times; the re-reads hit L1/L2 for rows up to tens of KB) and y written once.
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    rms_norm_kernel(float* y, int64_t ys, const float* x, int64_t xs, int64_t d, const void* w, DType wdt, float eps) {
  __shared__ float red[kWarp];
  const float* xr = x + int64_t(blockIdx.x) * xs;
  float* yr = y + int64_t(blockIdx.x) * ys;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
  ss = block_sum(ss, red);
  const float inv = 1.0f / sqrtf(ss / float(d) + eps);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) yr[i] = load_float(w, wdt, i) * (xr[i] * inv);
}

__global__ void __launch_bounds__(kThreads)
    layer_norm_kernel(float* y, int64_t ys, const float* x, int64_t xs, int64_t d, const void* w, DType wdt,
                      const void* b, DType bdt, float eps) {
  __shared__ float red[kWarp];
  const float* xr = x + int64_t(blockIdx.x) * xs;
  float* yr = y + int64_t(blockIdx.x) * ys;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) s += xr[i];
  const float mean = block_sum(s, red) / float(d);
  float v = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float c = xr[i] - mean;
    v = fmaf(c, c, v);
  }
  const float inv = 1.0f / sqrtf(block_sum(v, red) / float(d) + eps);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    yr[i] = (xr[i] - mean) * inv * load_float(w, wdt, i) + (b ? load_float(b, bdt, i) : 0.0f);
}

void check_vector(const Tensor& t, int64_t d, const char* op, const char* name) {
  JANUS_REQUIRE(t.numel() == d, op,
                std::string(name) + " " + shape_str(t.shape()) + " for rows of " + std::to_string(d));
  JANUS_REQUIRE(t.is_contiguous(), op, std::string(name) + " must be contiguous on the GPU");
  const DType dt = t.dtype();
  JANUS_REQUIRE(dt == DType::F32 || dt == DType::BF16 || dt == DType::F16, op,
                std::string(name) + " must be f32, bf16 or f16, got " + dtype_name(dt));
}

void check_grid(int64_t rows, const char* op) {
  JANUS_REQUIRE(rows <= 0x7fffffffLL, op, std::to_string(rows) + " rows exceed one launch");
}

}  // namespace

void rms_norm(Tensor& y, const Tensor& x, const Tensor& weight, float eps) {
  const char* op = "rms_norm";
  require_gpu(op);
  check_on_cuda(y, op, "y");
  check_on_cuda(x, op, "x");
  check_on_cuda(weight, op, "weight");
  check_rows_f32(x, op, "x");
  check_rows_f32(y, op, "y");
  const int64_t d = x.size(-1);
  JANUS_REQUIRE(y.shape() == x.shape(), op, "y " + shape_str(y.shape()) + " vs x " + shape_str(x.shape()));
  JANUS_REQUIRE(weight.defined(), op, "weight is undefined");
  check_vector(weight, d, op, "weight");
  const int64_t rows = row_count(x), xs = row_stride(x, op), ys = row_stride(y, op);
  if (rows == 0 || d == 0) return;
  check_grid(rows, op);
  rms_norm_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(y.data<float>(), ys, x.data<float>(), xs, d, weight.raw(),
                                                             weight.dtype(), eps);
  check_launch(op);
}

void layer_norm(Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  const char* op = "layer_norm";
  require_gpu(op);
  check_on_cuda(y, op, "y");
  check_on_cuda(x, op, "x");
  check_on_cuda(weight, op, "weight");
  check_on_cuda(bias, op, "bias");
  check_rows_f32(x, op, "x");
  check_rows_f32(y, op, "y");
  const int64_t d = x.size(-1);
  JANUS_REQUIRE(y.shape() == x.shape(), op, "y " + shape_str(y.shape()) + " vs x " + shape_str(x.shape()));
  JANUS_REQUIRE(weight.defined(), op, "weight is undefined");
  check_vector(weight, d, op, "weight");
  if (bias.defined()) check_vector(bias, d, op, "bias");
  const int64_t rows = row_count(x), xs = row_stride(x, op), ys = row_stride(y, op);
  if (rows == 0 || d == 0) return;
  check_grid(rows, op);
  layer_norm_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(
      y.data<float>(), ys, x.data<float>(), xs, d, weight.raw(), weight.dtype(), bias.defined() ? bias.raw() : nullptr,
      bias.dtype(), eps);
  check_launch(op);
}

}  // namespace janus::kernels::cuda
