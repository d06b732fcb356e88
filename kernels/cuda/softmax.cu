// softmax_rows on the GPU: one block per row, in place: max, exp(x - max) written back and
// summed (float block sum; the CPU sums in double), then scaled by 1/sum. Reads the row twice
// and writes it twice (the second pass hits L1/L2 for rows up to tens of KB).
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) softmax_kernel(float* x, int64_t xs, int64_t d) {
  __shared__ float red[kWarp];
  float* r = x + int64_t(blockIdx.x) * xs;
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) m = fmaxf(m, r[i]);
  m = block_max(m, red);
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    const float e = expf(r[i] - m);
    r[i] = e;
    s += e;
  }
  const float inv = 1.0f / block_sum(s, red);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) r[i] *= inv;
}

}  // namespace

void softmax_rows(Tensor& x) {
  const char* op = "softmax_rows";
  require_gpu(op);
  check_on_cuda(x, op, "x");
  check_rows_f32(x, op, "y");
  const int64_t d = x.size(-1), rows = row_count(x), xs = row_stride(x, op);
  if (rows == 0 || d == 0) return;
  JANUS_REQUIRE(rows <= 0x7fffffffLL, op, std::to_string(rows) + " rows exceed one launch");
  softmax_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(x.data<float>(), xs, d);
  check_launch(op);
}

}  // namespace janus::kernels::cuda
