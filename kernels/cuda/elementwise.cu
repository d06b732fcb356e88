// Element-wise ops on the GPU (silu_mul, gelu, add, axpy): one grid-stride kernel over the rows
// × columns of same-shaped tensors with strided rows; the op is a runtime switch (uniform per
// launch) rather than a template per op. Memory-bound: 8-12 bytes per element.
// Same formulas, in the same order, as kernels/cpu/elementwise.cpp; expf/erff/tanhf are CUDA's
// (≤ 2 ulp from glibc's).
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kThreads = 256;

enum class Ew : int { kSiluMul, kGeluErf, kGeluTanh, kAdd, kAxpy };

struct EwArgs {
  float* y;
  const float* a;
  const float* b;
  int64_t ys, as, bs, rows, d;
  float s;  // axpy: scale; gelu tanh: sqrt(2/pi)
};

__global__ void __launch_bounds__(kThreads) ew_kernel(EwArgs p, Ew op) {
  const int64_t total = p.rows * p.d;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / p.d, c = i - r * p.d;
    const float a = p.a[r * p.as + c];
    float& y = p.y[r * p.ys + c];
    switch (op) {
      case Ew::kSiluMul: y = a / (1.0f + expf(-a)) * p.b[r * p.bs + c]; break;
      case Ew::kGeluErf: y = 0.5f * a * (1.0f + erff(a * 0.70710678118654752440f)); break;
      case Ew::kGeluTanh: y = 0.5f * a * (1.0f + tanhf(p.s * (a + 0.044715f * a * a * a))); break;
      case Ew::kAdd: y = a + p.b[r * p.bs + c]; break;
      case Ew::kAxpy: y += p.s * a; break;
    }
  }
}

// kernels/cpu/elementwise.cpp rowwise3's checks, then the launch.
void rowwise(const char* op, Ew kind, Tensor& y, const Tensor& a, const Tensor& b, float s) {
  require_gpu(op);
  check_on_cuda(y, op, "y");
  check_on_cuda(a, op, "a");
  check_on_cuda(b, op, "b");
  check_rows_f32(y, op, "y");
  check_rows_f32(a, op, "a");
  JANUS_REQUIRE(a.shape() == y.shape(), op, "shapes " + shape_str(a.shape()) + " and " + shape_str(y.shape()));
  if (b.defined()) {
    check_rows_f32(b, op, "b");
    JANUS_REQUIRE(b.shape() == y.shape(), op, "shapes " + shape_str(b.shape()) + " and " + shape_str(y.shape()));
  }
  EwArgs p;
  p.d = y.size(-1), p.rows = row_count(y);
  p.ys = row_stride(y, op), p.as = row_stride(a, op), p.bs = b.defined() ? row_stride(b, op) : 0;
  p.y = y.data<float>(), p.a = a.data<float>(), p.b = b.defined() ? b.data<float>() : nullptr;
  p.s = s;
  if (p.rows * p.d == 0) return;
  ew_kernel<<<blocks_for(p.rows * p.d, kThreads), kThreads, 0, stream()>>>(p, kind);
  check_launch(op);
}

}  // namespace

void silu_mul(Tensor& y, const Tensor& gate, const Tensor& up) { rowwise("silu_mul", Ew::kSiluMul, y, gate, up, 0.0f); }

void gelu(Tensor& y, const Tensor& x, bool tanh_approx) {
  const float k = std::sqrt(2.0f / float(M_PI));  // as the CPU computes it
  rowwise("gelu", tanh_approx ? Ew::kGeluTanh : Ew::kGeluErf, y, x, Tensor(), k);
}

void add(Tensor& y, const Tensor& a, const Tensor& b) { rowwise("add", Ew::kAdd, y, a, b, 0.0f); }

void axpy(Tensor& y, float s, const Tensor& x) { rowwise("axpy", Ew::kAxpy, y, x, Tensor(), s); }

}  // namespace janus::kernels::cuda
