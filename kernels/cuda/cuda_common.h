// Host-side helpers shared by the CUDA kernels (internal to kernels/cuda/): the thread's stream
// and cuBLAS handle, device checks, scratch memory, error translation.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "kernels/backend.h"
#include "kernels/cpu/common.h"  // shape checks (metadata only: never reads tensor data)

namespace janus::kernels::cuda {

using cpu::check;
using cpu::check_rows_f32;
using cpu::fail;
using cpu::row_count;
using cpu::row_stride;

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
