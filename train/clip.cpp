#include "train/clip.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/thread_pool.h"

namespace janus::train {

using kernels::DType;
using kernels::Error;

template <typename F>
static void for_each_grad(const kernels::ag::ParamList& params, F f) {
  for (const auto& p : params) {
    if (!p.trainable || !p.var.defined() || !p.var.has_grad()) continue;
    const kernels::Tensor& g = p.var.grad();
    if (g.dtype() != DType::F32 || !g.is_contiguous() || g.device() != kernels::Device::CPU)
      throw Error("clip_grad_norm: grad of '" + p.name + "' must be a contiguous CPU f32 tensor");
    f(g.data<float>(), g.numel());
  }
}

// Sums of squares over fixed blocks of kBlock elements (in parallel), added in block order: the
// result does not depend on the thread count.
static constexpr int64_t kBlock = int64_t(1) << 16;

double grad_global_norm(const kernels::ag::ParamList& params) {
  double sum = 0;
  std::vector<double> partial;
  for_each_grad(params, [&](const float* g, int64_t n) {
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    partial.assign(size_t(blocks), 0.0);
    kernels::parallel_for(blocks, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        double s = 0;
        for (int64_t i = b * kBlock, e = std::min(n, (b + 1) * kBlock); i < e; ++i) s += double(g[i]) * double(g[i]);
        partial[size_t(b)] = s;
      }
    });
    for (double s : partial) sum += s;
  });
  return std::sqrt(sum);
}

double clip_grad_norm(const kernels::ag::ParamList& params, double max_norm) {
  const double total = grad_global_norm(params);
  if (max_norm <= 0 || !std::isfinite(total)) return total;
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return total;
  const float c = float(coef);
  for_each_grad(params, [&](const float* g, int64_t n) {
    float* w = const_cast<float*>(g);
    kernels::parallel_for(
        n,
        [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) w[i] *= c;
        },
        kBlock);
  });
  return total;
}

}  // namespace janus::train
