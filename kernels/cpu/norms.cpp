// RMSNorm and LayerNorm over the last dimension (float32 statistics, as transformers).
#include <cmath>

#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void rms_norm(Tensor& y, const Tensor& x, const Tensor& weight, float eps) {
  JANUS_CUDA_DISPATCH((y, x, weight), cuda::rms_norm(y, x, weight, eps));
  const char* op = "rms_norm";
  cpu::check_rows_f32(x, op, "x");
  cpu::check_rows_f32(y, op, "y");
  const int64_t d = x.size(-1);
  cpu::check(y.shape() == x.shape(), op, "y " + shape_str(y.shape()) + " vs x " + shape_str(x.shape()));
  cpu::check(weight.numel() == d, op, "weight " + shape_str(weight.shape()) + " for rows of " + std::to_string(d));
  const std::vector<float> w = cpu::to_f32(weight);
  const int64_t rows = cpu::row_count(x), xs = cpu::row_stride(x, op), ys = cpu::row_stride(y, op);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  parallel_for(
      rows,
      [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const float* xr = xp + r * xs;
          float* yr = yp + r * ys;
          double ss = 0;
          for (int64_t i = 0; i < d; ++i) ss += double(xr[i]) * xr[i];
          const float inv = 1.0f / std::sqrt(float(ss / double(d)) + eps);
          for (int64_t i = 0; i < d; ++i) yr[i] = w[size_t(i)] * (xr[i] * inv);
        }
      },
      16);
}

void layer_norm(Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  JANUS_CUDA_DISPATCH((y, x, weight, bias), cuda::layer_norm(y, x, weight, bias, eps));
  const char* op = "layer_norm";
  cpu::check_rows_f32(x, op, "x");
  cpu::check_rows_f32(y, op, "y");
  const int64_t d = x.size(-1);
  cpu::check(y.shape() == x.shape(), op, "y " + shape_str(y.shape()) + " vs x " + shape_str(x.shape()));
  cpu::check(weight.numel() == d, op, "weight " + shape_str(weight.shape()));
  const std::vector<float> w = cpu::to_f32(weight);
  const std::vector<float> bb = bias.defined() ? cpu::to_f32(bias) : std::vector<float>(size_t(d), 0.0f);
  cpu::check(int64_t(bb.size()) == d, op, "bias " + shape_str(bias.shape()));
  const int64_t rows = cpu::row_count(x), xs = cpu::row_stride(x, op), ys = cpu::row_stride(y, op);
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  parallel_for(
      rows,
      [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const float* xr = xp + r * xs;
          float* yr = yp + r * ys;
          double mean = 0, var = 0;
          for (int64_t i = 0; i < d; ++i) mean += xr[i];
          mean /= double(d);
          for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
          var /= double(d);
          const float inv = float(1.0 / std::sqrt(var + eps)), m = float(mean);
          for (int64_t i = 0; i < d; ++i) yr[i] = (xr[i] - m) * inv * w[size_t(i)] + bb[size_t(i)];
        }
      },
      16);
}

}  // namespace janus::kernels
