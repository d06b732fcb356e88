// embedding() on the GPU: y[i, :] = table[ids[i], :] widened to f32. ids are host memory (as
// for the CPU op): validated on the host, then uploaded. One block per id; memory-bound.
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    embedding_kernel(float* y, int64_t ys, const void* table, DType dt, int64_t d, const int64_t* ids) {
  const int64_t row = ids[blockIdx.x];
  float* yr = y + int64_t(blockIdx.x) * ys;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) yr[j] = load_float(table, dt, row * d + j);
}

}  // namespace

void embedding(Tensor& y, const Tensor& table, const int64_t* ids, int64_t n) {
  const char* op = "embedding";
  require_gpu(op);
  check_on_cuda(y, op, "y");
  check_on_cuda(table, op, "table");
  check_rows_f32(y, op, "y");
  JANUS_REQUIRE(table.dim() == 2 && table.is_contiguous(), op,
                "table must be a contiguous [V, D] matrix, got " + shape_str(table.shape()));
  const int64_t v = table.size(0), d = table.size(1);
  JANUS_REQUIRE(row_count(y) == n && y.size(-1) == d, op,
                "y " + shape_str(y.shape()) + " for " + std::to_string(n) + " ids of width " + std::to_string(d));
  const DType dt = table.dtype();
  JANUS_REQUIRE(dt == DType::F32 || dt == DType::BF16 || dt == DType::F16, op,
                std::string("unsupported table dtype ") + dtype_name(dt));
  for (int64_t i = 0; i < n; ++i)
    JANUS_REQUIRE(ids[i] >= 0 && ids[i] < v, op,
                  "token id " + std::to_string(ids[i]) + " outside the vocabulary [0, " + std::to_string(v) + ")");
  if (n == 0 || d == 0) return;
  JANUS_REQUIRE(n <= 0x7fffffffLL, op, std::to_string(n) + " ids exceed one launch");
  const int64_t ys = row_stride(y, op);
  std::shared_ptr<void> dids = upload(ids, size_t(n) * sizeof(int64_t), op);
  embedding_kernel<<<unsigned(n), kThreads, 0, stream()>>>(y.data<float>(), ys, table.raw(), dt, d,
                                                           static_cast<const int64_t*>(dids.get()));
  check_launch(op);
}

}  // namespace janus::kernels::cuda
