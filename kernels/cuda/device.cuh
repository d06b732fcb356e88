// Device-side helpers shared by the .cu files (internal to kernels/cuda/): dtype loads, fp8
// decoding, warp and block reductions.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/dtype.h"

namespace janus::kernels::cuda {

constexpr int kWarp = 32;

// fp8 e4m3fn byte → its value / 256, exactly: s.eeee.mmm placed as the f16 s.0eeee.mmm0000000
// is the same number × 2^-8 for normals and subnormals alike (kernels/cpu/linear_simd.h). The
// NaN codes 0x7f/0xff decode to ±480/256, as on the CPU SIMD path.
constexpr float kFp8Unscale = 256.0f;
__device__ __forceinline__ float fp8_scaled(uint32_t b) {
  const unsigned short h = (unsigned short)(((b & 0x80u) << 8) | ((b & 0x7fu) << 7));
  return __half2float(__ushort_as_half(h));
}
__device__ __forceinline__ float fp8_value(uint32_t b) { return fp8_scaled(b) * kFp8Unscale; }

__device__ __forceinline__ float bf16_bits(uint32_t h) { return __uint_as_float(h << 16); }
__device__ __forceinline__ float f16_bits(uint32_t h) { return __half2float(__ushort_as_half((unsigned short)h)); }

// Element i of a float vector stored as f32, bf16 or f16 (the dtypes ops accept for norm
// weights, biases, embedding tables).
__device__ __forceinline__ float load_float(const void* p, DType dt, int64_t i) {
  switch (dt) {
    case DType::BF16: return bf16_bits(static_cast<const uint16_t*>(p)[i]);
    case DType::F16: return f16_bits(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

// A linear weight [N, K] in its stored dtype; at(r, c) is the real value (fp8: × block scale).
struct WeightView {
  const void* p = nullptr;
  int64_t ld = 0;  // row stride, elements
  DType dt = DType::F32;
  const float* scale = nullptr;  // fp8 scale_inv [ceil(N/128), ceil(K/128)]
  int64_t scale_ld = 0;
  __device__ __forceinline__ float at(int64_t r, int64_t c) const {
    const int64_t i = r * ld + c;
    if (dt == DType::F8E4M3)
      return fp8_value(static_cast<const uint8_t*>(p)[i]) * scale[(r >> 7) * scale_ld + (c >> 7)];
    return load_float(p, dt, i);
  }
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum (or max) over the block; every thread gets the result. `red` holds ≥ 32 floats of shared
// memory; blockDim.x is a multiple of 32. Contains __syncthreads: call from all threads.
__device__ __forceinline__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nw = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // red may still be read from a previous reduction
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : 0.0f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nw = blockDim.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : -INFINITY;
  return warp_max(v);
}

}  // namespace janus::kernels::cuda
