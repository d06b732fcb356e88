// upsample_nearest2x() and silu(): the VQ decoder's elementwise pieces. Contracts in kernels/ops.h.
#include <cmath>
#include <string>

#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void upsample_nearest2x(Tensor& y, const Tensor& x) {
  if (any_on_cuda(y, x)) throw Error("upsample_nearest2x: CPU only (no CUDA kernel); copy the tensors to the host");
  const char* op = "upsample_nearest2x";
  cpu::check(x.defined() && x.dtype() == DType::F32 && x.dim() == 4 && x.is_contiguous(), op,
             "x must be contiguous f32 [B, C, H, W], got " + shape_str(x.shape()));
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  cpu::check(y.defined() && y.dtype() == DType::F32 && y.is_contiguous() && y.shape() == Shape{B, C, 2 * H, 2 * W}, op,
             "y " + shape_str(y.shape()) + ", expected " + shape_str({B, C, 2 * H, 2 * W}));
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  parallel_for(
      B * C * H,
      [&](int64_t b0, int64_t e0) {
        for (int64_t r = b0; r < e0; ++r) {  // r = input row (image, channel, h)
          const float* xr = xp + r * W;
          float* y0 = yp + r * 4 * W;  // output rows 2h and 2h+1 of the same plane are adjacent
          for (int64_t j = 0; j < W; ++j) y0[2 * j] = y0[2 * j + 1] = xr[j];
          std::copy(y0, y0 + 2 * W, y0 + 2 * W);
        }
      },
      8);
}

void silu(Tensor& y, const Tensor& x) {
  if (any_on_cuda(y, x)) throw Error("silu: CPU only (no CUDA kernel); copy the tensors to the host");
  const char* op = "silu";
  cpu::check(x.defined() && x.dtype() == DType::F32 && x.is_contiguous(), op, "x must be contiguous f32");
  cpu::check(y.defined() && y.dtype() == DType::F32 && y.is_contiguous() && y.shape() == x.shape(), op,
             "y " + shape_str(y.shape()) + " vs x " + shape_str(x.shape()));
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  parallel_for(
      x.numel(),
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) yp[i] = xp[i] / (1.0f + std::exp(-xp[i]));
      },
      4096);
}

}  // namespace janus::kernels
