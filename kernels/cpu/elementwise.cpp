// Element-wise ops, softmax and embedding lookup.
#include <cmath>

#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

namespace {
// Applies f(yrow, arow, brow, n) over matching rows of up to three same-shaped tensors.
template <typename F>
void rowwise3(const char* op, Tensor& y, const Tensor& a, const Tensor& b, F f) {
  cpu::check_rows_f32(y, op, "y");
  cpu::check_rows_f32(a, op, "a");
  cpu::check(a.shape() == y.shape(), op, "shapes " + shape_str(a.shape()) + " and " + shape_str(y.shape()));
  if (b.defined()) {
    cpu::check_rows_f32(b, op, "b");
    cpu::check(b.shape() == y.shape(), op, "shapes " + shape_str(b.shape()) + " and " + shape_str(y.shape()));
  }
  const int64_t d = y.size(-1), rows = cpu::row_count(y);
  const int64_t ys = cpu::row_stride(y, op), as = cpu::row_stride(a, op), bs = b.defined() ? cpu::row_stride(b, op) : 0;
  float* yp = y.data<float>();
  const float* ap = a.data<float>();
  const float* bp = b.defined() ? b.data<float>() : nullptr;
  parallel_for(
      rows,
      [&](int64_t s, int64_t e) {
        for (int64_t r = s; r < e; ++r) f(yp + r * ys, ap + r * as, bp ? bp + r * bs : nullptr, d);
      },
      std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d)));
}
}  // namespace

void silu_mul(Tensor& y, const Tensor& gate, const Tensor& up) {
  JANUS_CUDA_DISPATCH((y, gate, up), cuda::silu_mul(y, gate, up));
  rowwise3("silu_mul", y, gate, up, [](float* yr, const float* g, const float* u, int64_t n) {
    for (int64_t i = 0; i < n; ++i) yr[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
  });
}

void gelu(Tensor& y, const Tensor& x, bool tanh_approx) {
  JANUS_CUDA_DISPATCH((y, x), cuda::gelu(y, x, tanh_approx));
  rowwise3("gelu", y, x, Tensor(), [tanh_approx](float* yr, const float* xr, const float*, int64_t n) {
    if (tanh_approx) {
      const float k = std::sqrt(2.0f / float(M_PI));
      for (int64_t i = 0; i < n; ++i) {
        float v = xr[i];
        yr[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
      }
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = 0.5f * xr[i] * (1.0f + std::erf(xr[i] * float(M_SQRT1_2)));
    }
  });
}

void add(Tensor& y, const Tensor& a, const Tensor& b) {
  JANUS_CUDA_DISPATCH((y, a, b), cuda::add(y, a, b));
  rowwise3("add", y, a, b, [](float* yr, const float* ar, const float* br, int64_t n) {
    for (int64_t i = 0; i < n; ++i) yr[i] = ar[i] + br[i];
  });
}

void axpy(Tensor& y, float s, const Tensor& x) {
  JANUS_CUDA_DISPATCH((y, x), cuda::axpy(y, s, x));
  rowwise3("axpy", y, x, Tensor(), [s](float* yr, const float* xr, const float*, int64_t n) {
    for (int64_t i = 0; i < n; ++i) yr[i] += s * xr[i];
  });
}

void softmax_rows(Tensor& x) {
  JANUS_CUDA_DISPATCH((x), cuda::softmax_rows(x));
  rowwise3("softmax_rows", x, x, Tensor(), [](float* yr, const float*, const float*, int64_t n) {
    float m = -INFINITY;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, yr[i]);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
      yr[i] = std::exp(yr[i] - m);
      sum += yr[i];
    }
    const float inv = float(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
  });
}

void embedding(Tensor& y, const Tensor& table, const int64_t* ids, int64_t n) {
  JANUS_CUDA_DISPATCH((y, table), cuda::embedding(y, table, ids, n));
  const char* op = "embedding";
  cpu::check_rows_f32(y, op, "y");
  cpu::check(table.dim() == 2 && table.is_contiguous(), op,
             "table must be a contiguous [V, D] matrix, got " + shape_str(table.shape()));
  const int64_t v = table.size(0), d = table.size(1);
  cpu::check(cpu::row_count(y) == n && y.size(-1) == d, op,
             "y " + shape_str(y.shape()) + " for " + std::to_string(n) + " ids of width " + std::to_string(d));
  for (int64_t i = 0; i < n; ++i)
    cpu::check(ids[i] >= 0 && ids[i] < v, op,
               "token id " + std::to_string(ids[i]) + " outside the vocabulary [0, " + std::to_string(v) + ")");
  const int64_t ys = cpu::row_stride(y, op);
  float* yp = y.data<float>();
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      Tensor row = table.select(0, ids[i]);
      float* yr = yp + i * ys;
      switch (table.dtype()) {
        case DType::F32: std::memcpy(yr, row.raw(), size_t(d) * 4); break;
        case DType::BF16:
          for (int64_t j = 0; j < d; ++j) yr[j] = bf16_to_f32(row.data<uint16_t>()[j]);
          break;
        case DType::F16:
          for (int64_t j = 0; j < d; ++j) yr[j] = f16_to_f32(row.data<uint16_t>()[j]);
          break;
        default: cpu::fail(op, std::string("unsupported table dtype ") + dtype_name(table.dtype()));
      }
    }
  });
}

}  // namespace janus::kernels
