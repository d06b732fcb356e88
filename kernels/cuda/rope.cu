// rope() on the GPU, in place on x [T, H, D] (strided rows). pos and inv_freq are host memory
// (as for the CPU op) and are uploaded. One block per position: its rot_dim/2 cos/sin pairs are
// computed once into shared memory (angle = float(pos)·inv_freq in float32, as transformers;
// cosf/sinf are CUDA's accurate versions, ≤ 2 ulp, with full range reduction), then every head's
// pairs are rotated. Memory-bound.
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads)
    rope_kernel(float* x, int64_t st, int64_t sh, int64_t H, int half, int offset, bool interleaved, float scale,
                const int64_t* pos, const float* inv_freq) {
  extern __shared__ float cs[];  // cos [half] then sin [half]
  const int64_t t = blockIdx.x;
  for (int j = threadIdx.x; j < half; j += blockDim.x) {
    const float angle = float(pos[t]) * inv_freq[j];
    cs[j] = cosf(angle) * scale;
    cs[half + j] = sinf(angle) * scale;
  }
  __syncthreads();
  const int64_t pairs = H * half;
  for (int64_t i = threadIdx.x; i < pairs; i += blockDim.x) {
    const int64_t h = i / half;
    const int j = int(i - h * half);
    float* v = x + t * st + h * sh + offset;
    const int ia = interleaved ? 2 * j : j, ib = interleaved ? 2 * j + 1 : j + half;
    const float a = v[ia], b = v[ib], c = cs[j], s = cs[half + j];
    v[ia] = a * c - b * s;
    v[ib] = b * c + a * s;
  }
}

}  // namespace

void rope(Tensor& x, const int64_t* pos, const std::vector<float>& inv_freq, int offset, RopeStyle style, float scale) {
  const char* op = "rope";
  require_gpu(op);
  check_on_cuda(x, op, "x");
  check_rows_f32(x, op, "x");
  JANUS_REQUIRE(x.dim() == 3, op, "x must be [T, H, D], got " + shape_str(x.shape()));
  const int64_t T = x.size(0), H = x.size(1), D = x.size(2);
  const int half = int(inv_freq.size()), rot = 2 * half;
  JANUS_REQUIRE(offset >= 0 && offset + rot <= D, op,
                "rotary dims [" + std::to_string(offset) + ", " + std::to_string(offset + rot) + ") exceed head dim " +
                    std::to_string(D));
  if (T == 0 || H == 0 || half == 0) return;
  JANUS_REQUIRE(T <= 0x7fffffffLL, op, std::to_string(T) + " positions exceed one launch");
  std::shared_ptr<void> dpos = upload(pos, size_t(T) * sizeof(int64_t), op);
  std::shared_ptr<void> dfreq = upload(inv_freq.data(), size_t(half) * sizeof(float), op);
  rope_kernel<<<unsigned(T), kThreads, size_t(rot) * sizeof(float), stream()>>>(
      x.data<float>(), x.strides()[0], x.strides()[1], H, half, offset, style == RopeStyle::kInterleaved, scale,
      static_cast<const int64_t*>(dpos.get()), static_cast<const float*>(dfreq.get()));
  check_launch(op);
}

}  // namespace janus::kernels::cuda
