// backend.h for builds with the CUDA backend: device probe, caching allocator, copies; plus the
// per-thread stream and cuBLAS handle of cuda_common.h.
//
// Streams: every host thread enqueues on its own per-thread default stream
// (cudaStreamPerThread), so work of one thread runs in order and threads do not serialise on
// each other. The allocator keeps one pool per host thread (size_class_cache.h) for the same
// reason. Device: the current device of the process (device 0 unless CUDA_VISIBLE_DEVICES or
// cudaSetDevice say otherwise).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/size_class_cache.h"

#define JANUS_STR2(...) #__VA_ARGS__
#define JANUS_STR(...) JANUS_STR2(__VA_ARGS__)
#ifdef __CUDA_ARCH_LIST__
#define JANUS_ARCH_LIST JANUS_STR(__CUDA_ARCH_LIST__)
#else
#define JANUS_ARCH_LIST "unknown"
#endif

namespace janus::kernels {

namespace {

__global__ void probe_kernel() {}

std::string cuda_error_text(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

struct Probe {
  bool ok = false;
  std::string status;
};

// Asked once per process: no driver, no device, or no kernels for this GPU all mean "no usable
// GPU" (and never crash).
const Probe& probe() {
  static const Probe p = [] {
    Probe r;
    const std::string no = "CUDA: compiled in, but no usable GPU (";
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      cudaGetLastError();
      r.status = no + cuda_error_text(e);
      int drv = 0, rt = 0;
      if (e == cudaErrorInsufficientDriver && cudaDriverGetVersion(&drv) == cudaSuccess &&
          cudaRuntimeGetVersion(&rt) == cudaSuccess) {
        auto ver = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
        r.status += drv == 0 ? std::string("; no NVIDIA driver is installed")
                             : "; the driver supports CUDA " + ver(drv) + ", this build needs " + ver(rt);
      }
      r.status += ")";
      return r;
    }
    if (count == 0) {
      r.status = no + "no CUDA device found)";
      return r;
    }
    int dev = 0;
    cudaDeviceProp prop{};
    if ((e = cudaGetDevice(&dev)) != cudaSuccess || (e = cudaGetDeviceProperties(&prop, dev)) != cudaSuccess) {
      cudaGetLastError();
      r.status = no + cuda_error_text(e) + ")";
      return r;
    }
    const std::string sm = "sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
    cudaFuncAttributes attr{};
    if ((e = cudaFuncGetAttributes(&attr, probe_kernel)) != cudaSuccess) {
      cudaGetLastError();
      r.status = no + prop.name + " (" + sm + "): " + cuda_error_text(e) +
                 "; this build has kernels for compute capabilities " JANUS_ARCH_LIST ")";
      return r;
    }
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", double(prop.totalGlobalMem) / double(1ull << 30));
    r.ok = true;
    r.status = std::string("CUDA: ") + prop.name + " (" + sm + "), " + mem;
    return r;
  }();
  return p;
}

void* cuda_malloc(size_t bytes, std::string* why) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaSuccess) return p;
  cudaGetLastError();  // out-of-memory is not sticky; clear it
  *why = cuda_error_text(e);
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
    *why += " (device has " + std::to_string(free_b) + " of " + std::to_string(total_b) + " bytes free)";
  cudaGetLastError();
  return nullptr;
}

// Never destroyed: blocks may be returned from static destructors after main.
SizeClassCache& cache() {
  static SizeClassCache* c = new SizeClassCache(
      cuda_malloc, [](void* p) { cudaFree(p); }, [] { cudaDeviceSynchronize(); });
  return *c;
}

uint64_t thread_pool_id() {
  static std::atomic<uint64_t> next{1};
  thread_local const uint64_t id = next.fetch_add(1);
  return id;
}

std::atomic<bool> g_allow_tf32{false};

void require(const char* what) {
  if (!probe().ok) throw Error(std::string(what) + ": " + probe().status);
}

}  // namespace

bool cuda_compiled() { return true; }
bool cuda_available() { return probe().ok; }
std::string cuda_status() { return probe().status; }

std::shared_ptr<void> device_alloc(size_t bytes) {
  if (!probe().ok)
    throw Error("device_alloc: cannot allocate " + std::to_string(bytes) + " bytes on the GPU: " + probe().status);
  return cache().allocate(bytes, thread_pool_id(), "device_alloc");
}

void device_memset_zero(void* p, size_t bytes) {
  require("device_memset_zero");
  if (bytes == 0) return;
  cuda::check_cuda(cudaMemsetAsync(p, 0, bytes, cuda::stream()), "device_memset_zero",
                   ("zeroing " + std::to_string(bytes) + " bytes").c_str());
}

// H2D returns once the (pageable) source has been staged, so it may be freed; from pinned
// memory the copy would still be in flight, so we wait. D2H waits for the data. D2D is queued.
void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev == Device::CPU && src_dev == Device::CPU) {
    std::memmove(dst, src, bytes);
    return;
  }
  require("device_copy");
  const char* op = "device_copy";
  const std::string what = std::to_string(bytes) + " bytes " + device_name(src_dev) + " -> " + device_name(dst_dev);
  const cudaMemcpyKind kind = src_dev == Device::CPU   ? cudaMemcpyHostToDevice
                              : dst_dev == Device::CPU ? cudaMemcpyDeviceToHost
                                                       : cudaMemcpyDeviceToDevice;
  cudaStream_t s = cuda::stream();
  cuda::check_cuda(cudaMemcpyAsync(dst, src, bytes, kind, s), op, what.c_str());
  bool wait = kind == cudaMemcpyDeviceToHost;
  if (kind == cudaMemcpyHostToDevice) {
    cudaPointerAttributes attr{};
    if (cudaPointerGetAttributes(&attr, src) == cudaSuccess)
      wait = attr.type == cudaMemoryTypeHost;
    else
      cudaGetLastError();
  }
  if (wait) cuda::check_cuda(cudaStreamSynchronize(s), op, what.c_str());
}

namespace cuda {

void require_gpu(const char* op) { require(op); }

void check_cuda(cudaError_t e, const char* op, const char* what) {
  if (e == cudaSuccess) return;
  cudaGetLastError();
  throw Error(std::string(op) + ": " + what + " failed: " + cuda_error_text(e));
}

void check_cublas(cublasStatus_t s, const char* op, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  throw Error(std::string(op) + ": " + what + " failed: " + cublasGetStatusName(s) + ": " + cublasGetStatusString(s));
}

cublasHandle_t cublas() {
  struct Holder {
    cublasHandle_t h = nullptr;
    ~Holder() {
      if (h) cublasDestroy(h);
    }
  };
  thread_local Holder holder;
  if (!holder.h) {
    check_cublas(cublasCreate(&holder.h), "cublas", "cublasCreate");
    check_cublas(cublasSetStream(holder.h, stream()), "cublas", "cublasSetStream");
  }
  check_cublas(cublasSetMathMode(holder.h, g_allow_tf32.load() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
               "cublas", "cublasSetMathMode");
  return holder.h;
}

std::shared_ptr<void> upload(const void* host, size_t bytes, const char* op) {
  std::shared_ptr<void> d = scratch(bytes);
  if (bytes) check_cuda(cudaMemcpyAsync(d.get(), host, bytes, cudaMemcpyHostToDevice, stream()), op, "upload");
  return d;
}

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }

void synchronize() {
  require("synchronize");
  check_cuda(cudaStreamSynchronize(stream()), "synchronize", "cudaStreamSynchronize");
}

MemoryStats memory_stats() {
  const SizeClassCache::Stats s = cache().stats();
  return MemoryStats{s.bytes_in_use, s.bytes_cached};
}

void release_cached_memory() {
  if (!probe().ok) return;
  cudaDeviceSynchronize();
  cache().release_cached();
}

}  // namespace cuda

}  // namespace janus::kernels
