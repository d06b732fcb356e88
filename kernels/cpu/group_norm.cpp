// group_norm(): GroupNorm over NC* tensors (statistics in float64), optionally followed by
// swish. Contract in kernels/ops.h.
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void group_norm(Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, float eps,
                bool silu) {
  if (any_on_cuda(y, x, weight, bias))
    throw Error("group_norm: CPU only (no CUDA kernel); copy the tensors to the host");
  const char* op = "group_norm";
  cpu::check(x.defined() && x.dtype() == DType::F32 && x.dim() >= 2 && x.is_contiguous(), op,
             "x must be contiguous f32 [B, C, *], got " + shape_str(x.shape()));
  cpu::check(y.defined() && y.dtype() == DType::F32 && y.is_contiguous() && y.shape() == x.shape(), op,
             "y " + shape_str(y.shape()) + " vs x " + shape_str(x.shape()));
  const int64_t B = x.size(0), C = x.size(1);
  cpu::check(groups >= 1 && C % groups == 0, op,
             std::to_string(C) + " channels cannot be split into " + std::to_string(groups) + " groups");
  cpu::check(weight.defined() && weight.numel() == C && bias.defined() && bias.numel() == C, op,
             "weight " + shape_str(weight.shape()) + " / bias " + shape_str(bias.shape()) + " for " +
                 std::to_string(C) + " channels");
  const std::vector<float> wv = cpu::to_f32(weight), bv = cpu::to_f32(bias);
  const int64_t S = (B * C != 0) ? x.numel() / (B * C) : 0, cg = C / groups, n = cg * S;
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  parallel_for(B * groups, [&](int64_t b0, int64_t e0) {
    for (int64_t item = b0; item < e0; ++item) {
      const int64_t off = item * n;  // groups are consecutive channels: one contiguous block
      const float* xg = xp + off;
      // One pass in float64: E[x²] − mean² loses nothing unless mean²/var > ~1e10.
      double sum = 0, sq = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double v = xg[i];
        sum += v;
        sq += v * v;
      }
      const double mean = sum / double(std::max<int64_t>(n, 1));
      const double var = std::max(0.0, sq / double(std::max<int64_t>(n, 1)) - mean * mean);
      const float inv = float(1.0 / std::sqrt(var + double(eps))), m = float(mean);
      const int64_t c0 = (item % groups) * cg;
      for (int64_t c = 0; c < cg; ++c) {
        const float a = inv * wv[size_t(c0 + c)], sh = bv[size_t(c0 + c)];
        const float* xc = xg + c * S;
        float* yc = yp + off + c * S;
        if (silu) {
          for (int64_t i = 0; i < S; ++i) {
            const float v = (xc[i] - m) * a + sh;
            yc[i] = v / (1.0f + std::exp(-v));
          }
        } else {
          for (int64_t i = 0; i < S; ++i) yc[i] = (xc[i] - m) * a + sh;
        }
      }
    }
  });
}

}  // namespace janus::kernels
