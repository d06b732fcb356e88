// FP8 e4m3 block quantisation in the DeepSeek-V3 layout (ops.h).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/common.h"

namespace janus::kernels {

namespace {
constexpr int64_t kBlock = 128;
constexpr float kFp8Max = 448.0f;
int64_t blocks(int64_t n) { return (n + kBlock - 1) / kBlock; }
}  // namespace

void fp8_quantize_rows(Tensor& q, Tensor& scales, const Tensor& x) {
  const char* op = "fp8_quantize_rows";
  cpu::check(x.dtype() == DType::F32 && x.dim() == 2 && x.is_contiguous(), op, "x must be contiguous f32 [M, K]");
  const int64_t M = x.size(0), K = x.size(1), KB = blocks(K);
  cpu::check((q.dtype() == DType::F8E4M3 || q.dtype() == DType::U8) && q.shape() == x.shape() && q.is_contiguous(), op,
             "q must be fp8 " + shape_str(x.shape()));
  cpu::check(scales.dtype() == DType::F32 && scales.numel() == M * KB && scales.is_contiguous(), op,
             "scales must be f32 [M, ceil(K/128)]");
  for (int64_t m = 0; m < M; ++m)
    for (int64_t kb = 0; kb < KB; ++kb) {
      const float* xr = x.data<float>() + m * K + kb * kBlock;
      const int64_t n = std::min(kBlock, K - kb * kBlock);
      float amax = 1e-4f;
      for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(xr[i]));
      const float s = amax / kFp8Max;
      scales.data<float>()[m * KB + kb] = s;
      uint8_t* qr = q.data<uint8_t>() + m * K + kb * kBlock;
      for (int64_t i = 0; i < n; ++i) qr[i] = f32_to_fp8e4m3(xr[i] / s);
    }
}

void fp8_quantize_blocks(Tensor& q, Tensor& scale_inv, const Tensor& w) {
  const char* op = "fp8_quantize_blocks";
  cpu::check(w.dtype() == DType::F32 && w.dim() == 2 && w.is_contiguous(), op, "w must be contiguous f32 [N, K]");
  const int64_t N = w.size(0), K = w.size(1), NB = blocks(N), KB = blocks(K);
  cpu::check((q.dtype() == DType::F8E4M3 || q.dtype() == DType::U8) && q.shape() == w.shape() && q.is_contiguous(), op,
             "q must be fp8 " + shape_str(w.shape()));
  cpu::check(scale_inv.dtype() == DType::F32 && scale_inv.numel() == NB * KB && scale_inv.is_contiguous(), op,
             "scale_inv must be f32 [ceil(N/128), ceil(K/128)]");
  for (int64_t nb = 0; nb < NB; ++nb)
    for (int64_t kb = 0; kb < KB; ++kb) {
      const int64_t n0 = nb * kBlock, n1 = std::min(N, n0 + kBlock), k0 = kb * kBlock, k1 = std::min(K, k0 + kBlock);
      float amax = 0.0f;
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t k = k0; k < k1; ++k) amax = std::max(amax, std::fabs(w.data<float>()[n * K + k]));
      const float s = amax > 0 ? amax / kFp8Max : 1.0f;
      scale_inv.data<float>()[nb * KB + kb] = s;
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t k = k0; k < k1; ++k) q.data<uint8_t>()[n * K + k] = f32_to_fp8e4m3(w.data<float>()[n * K + k] / s);
    }
}

Tensor fp8_dequantize(const Tensor& q, const Tensor& scale_inv) {
  const char* op = "fp8_dequantize";
  cpu::check(q.dim() == 2 && q.is_contiguous() && (q.dtype() == DType::F8E4M3 || q.dtype() == DType::U8), op,
             "q must be contiguous fp8 [N, K]");
  const int64_t N = q.size(0), K = q.size(1), KB = blocks(K);
  cpu::check(scale_inv.dtype() == DType::F32 && scale_inv.numel() == blocks(N) * KB, op,
             "scale_inv " + shape_str(scale_inv.shape()) + " does not match weight " + shape_str(q.shape()));
  Tensor out = Tensor::empty({N, K}, DType::F32);
  const Tensor s = scale_inv.contiguous();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      out.data<float>()[n * K + k] =
          fp8e4m3_to_f32(q.data<uint8_t>()[n * K + k]) * s.data<float>()[(n / kBlock) * KB + k / kBlock];
  return out;
}

}  // namespace janus::kernels
