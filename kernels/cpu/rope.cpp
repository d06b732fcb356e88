// Rotary position embedding applied in place (see ops.h for the two pairings).
#include <cmath>

#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void rope(Tensor& x, const int64_t* pos, const std::vector<float>& inv_freq, int offset, RopeStyle style, float scale) {
  JANUS_CUDA_DISPATCH((x), cuda::rope(x, pos, inv_freq, offset, style, scale));
  const char* op = "rope";
  cpu::check_rows_f32(x, op, "x");
  cpu::check(x.dim() == 3, op, "x must be [T, H, D], got " + shape_str(x.shape()));
  const int64_t T = x.size(0), H = x.size(1), D = x.size(2);
  const int half = int(inv_freq.size()), rot = 2 * half;
  cpu::check(offset >= 0 && offset + rot <= D, op,
             "rotary dims [" + std::to_string(offset) + ", " + std::to_string(offset + rot) + ") exceed head dim " +
                 std::to_string(D));
  const int64_t st = x.strides()[0], sh = x.strides()[1];
  float* base = x.data<float>();
  parallel_for(T, [&](int64_t b, int64_t e) {
    std::vector<float> c(static_cast<size_t>(half)), s(static_cast<size_t>(half));
    for (int64_t t = b; t < e; ++t) {
      for (int j = 0; j < half; ++j) {
        const float angle = float(pos[t]) * inv_freq[size_t(j)];  // float32 product, as transformers
        c[size_t(j)] = std::cos(angle) * scale;
        s[size_t(j)] = std::sin(angle) * scale;
      }
      for (int64_t h = 0; h < H; ++h) {
        float* v = base + t * st + h * sh + offset;
        if (style == RopeStyle::kHalf) {
          for (int j = 0; j < half; ++j) {
            const float a = v[j], bb = v[j + half];
            v[j] = a * c[size_t(j)] - bb * s[size_t(j)];
            v[j + half] = bb * c[size_t(j)] + a * s[size_t(j)];
          }
        } else {
          for (int j = 0; j < half; ++j) {
            const float a = v[2 * j], bb = v[2 * j + 1];
            v[2 * j] = a * c[size_t(j)] - bb * s[size_t(j)];
            v[2 * j + 1] = bb * c[size_t(j)] + a * s[size_t(j)];
          }
        }
      }
    }
  });
}

}  // namespace janus::kernels
