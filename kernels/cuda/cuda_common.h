// Host-side helpers shared by the CUDA kernels (internal to kernels/cuda/): the thread's stream
// and cuBLAS handle, device checks, scratch memory, error translation.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "kernels/backend.h"
#include "kernels/cpu/common.h"  // cpu::fail, row_count (metadata only: never reads tensor data)

namespace janus::kernels::cuda {

using cpu::fail;
using cpu::row_count;

// Like cpu::check, but the message is only built on failure (ops run hundreds of times per
// decoded token; string building would rival the kernel launch).
#define JANUS_REQUIRE(cond, op, what)                       \
  do {                                                      \
    if (!(cond)) ::janus::kernels::cpu::fail((op), (what)); \
  } while (0)

// cpu::check_rows_f32 / cpu::row_stride with lazy messages.
inline void check_rows_f32(const Tensor& t, const char* op, const char* name) {
  JANUS_REQUIRE(t.defined(), op, std::string(name) + " is undefined");
  JANUS_REQUIRE(t.dtype() == DType::F32, op, std::string(name) + " must be f32, got " + dtype_name(t.dtype()));
  JANUS_REQUIRE(t.dim() >= 1 && t.strides().back() == 1, op, std::string(name) + " must have a contiguous last dim");
}
inline int64_t row_stride(const Tensor& t, const char* op) {
  if (t.dim() < 2) return t.size(-1);
  for (int i = t.dim() - 2; i > 0; --i)
    JANUS_REQUIRE(t.shape()[i] == 1 || t.strides()[i - 1] == t.strides()[i] * t.shape()[i] || t.shape()[i - 1] == 1, op,
                  "leading dims of " + shape_str(t.shape()) + " are not collapsible");
  return t.strides()[t.dim() - 2];
}

// The calling thread's compute stream. One per host thread (cudaStreamPerThread): work from one
// thread is in order; threads run concurrently and synchronise themselves (tensor.h).
inline cudaStream_t stream() { return cudaStreamPerThread; }

// The calling thread's cuBLAS handle, bound to stream(), math mode per allow_tf32().
cublasHandle_t cublas();

// Throws Error("<op>: <cuda_status()>") unless a usable GPU is present. First line of every op.
void require_gpu(const char* op);

// A defined tensor must live on the GPU.
inline void check_on_cuda(const Tensor& t, const char* op, const char* name) {
  if (t.defined() && t.device() != Device::CUDA)
    fail(op, std::string(name) + " is on the " + device_name(t.device()) +
                 " but the op runs on cuda (all tensors of one call must share a device)");
}

// Throws Error naming op and what on a CUDA error (including a failed kernel launch).
void check_cuda(cudaError_t e, const char* op, const char* what);
inline void check_launch(const char* op) { check_cuda(cudaGetLastError(), op, "kernel launch"); }
void check_cublas(cublasStatus_t s, const char* op, const char* what);

// Device scratch from the caching allocator, released to the thread's pool when dropped (safe
// while queued kernels still use it: only this thread's in-order stream reuses it).
inline std::shared_ptr<void> scratch(size_t bytes) { return device_alloc(bytes); }
// Copies host memory into new scratch (the source may be freed on return).
std::shared_ptr<void> upload(const void* host, size_t bytes, const char* op);

inline int blocks_for(int64_t n, int threads, int64_t cap = 65535LL * 16) {
  int64_t b = (n + threads - 1) / threads;
  return int(b < 1 ? 1 : (b > cap ? cap : b));
}

}  // namespace janus::kernels::cuda
