// Narrow-weight GEMV for linear() (decode): y[m, n] = Σ_k x[m, k]·W[n, k] for M ≤ 8 rows of x.
//
// Memory-bound: each weight byte is read once. A warp owns four consecutive weight rows (one
// 128-row fp8 band) and streams them with 16-byte loads (8 bf16/f16 or 16 fp8 per lane), so each
// x value loaded is used for four rows; x (≤ 8 rows) stays in L1/L2. The block holds eight warps.
// fp8: each lane's 16 products form an f32 partial sum inside one 128-column block; the partial
// is multiplied by that block's scale and added to the f32 accumulator (DeepSeek-V3's
// promotion of block partial sums to full precision, here every 16 products).
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/linear_gemv.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kMaxRows = int(kGemvMaxRows);
constexpr int kRows = 4;  // weight rows per warp (divides 128: one fp8 scale band)
constexpr int kWarps = 8;

__device__ __forceinline__ uint32_t word(const uint4& v, int i) {
  return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w;
}

// Per dtype: bytes per element, elements per 16-byte load, and the decoders. fp8 decodes to
// value / 256 (device.cuh); the scale carries the 256.
template <DType W>
struct Traits;
template <>
struct Traits<DType::BF16> {
  static constexpr int kBytes = 2, kElems = 8;
  __device__ static void decode4(const uint4& v, int g, float* o) {
    const uint32_t a = word(v, 2 * g), b = word(v, 2 * g + 1);
    o[0] = __uint_as_float(a << 16), o[1] = __uint_as_float(a & 0xffff0000u);
    o[2] = __uint_as_float(b << 16), o[3] = __uint_as_float(b & 0xffff0000u);
  }
  __device__ static float elem(const uint8_t* row, int64_t k) {
    return bf16_bits(reinterpret_cast<const uint16_t*>(row)[k]);
  }
};
template <>
struct Traits<DType::F16> {
  static constexpr int kBytes = 2, kElems = 8;
  __device__ static void decode4(const uint4& v, int g, float* o) {
    const uint32_t a = word(v, 2 * g), b = word(v, 2 * g + 1);
    o[0] = f16_bits(a & 0xffffu), o[1] = f16_bits(a >> 16), o[2] = f16_bits(b & 0xffffu), o[3] = f16_bits(b >> 16);
  }
  __device__ static float elem(const uint8_t* row, int64_t k) {
    return f16_bits(reinterpret_cast<const uint16_t*>(row)[k]);
  }
};
template <>
struct Traits<DType::F8E4M3> {
  static constexpr int kBytes = 1, kElems = 16;
  __device__ static void decode4(const uint4& v, int g, float* o) {
    const uint32_t a = word(v, g);
    o[0] = fp8_scaled(a & 0xffu), o[1] = fp8_scaled((a >> 8) & 0xffu);
    o[2] = fp8_scaled((a >> 16) & 0xffu), o[3] = fp8_scaled(a >> 24);
  }
  __device__ static float elem(const uint8_t* row, int64_t k) { return fp8_scaled(row[k]); }
};

// kMaxM: compile-time bound on a.M (1 for single-sequence decode: a quarter of the registers).
template <DType W, int kMaxM>
__global__ void __launch_bounds__(kWarps* kWarp) gemv_kernel(GemvArgs a, bool vec) {
  using T = Traits<W>;
  constexpr bool kFp8 = W == DType::F8E4M3;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t n0 = (int64_t(blockIdx.x) * kWarps + warp) * kRows;
  if (n0 >= a.N) return;  // whole warp; no block-level synchronisation below
  const uint8_t* rows[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) rows[r] = static_cast<const uint8_t*>(a.w) + min(n0 + r, a.N - 1) * a.ldw * T::kBytes;
  const float* srow = kFp8 ? a.scale + (n0 >> 7) * a.scale_ld : nullptr;

  float acc[kRows][kMaxM] = {};
  const int64_t kvec = vec ? a.K / T::kElems * T::kElems : 0;
  for (int64_t k = int64_t(lane) * T::kElems; k < kvec; k += kWarp * T::kElems) {
    uint4 wv[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) wv[r] = __ldg(reinterpret_cast<const uint4*>(rows[r] + k * T::kBytes));
    float part[kRows][kMaxM] = {};
#pragma unroll
    for (int g = 0; g < T::kElems / 4; ++g) {
      float4 xv[kMaxM];
#pragma unroll
      for (int m = 0; m < kMaxM; ++m)
        if (m < a.M) xv[m] = __ldg(reinterpret_cast<const float4*>(a.x + m * a.ldx + k + 4 * g));
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        float wf[4];
        T::decode4(wv[r], g, wf);
#pragma unroll
        for (int m = 0; m < kMaxM; ++m) {
          if (m >= a.M) continue;
          float& t = kFp8 ? part[r][m] : acc[r][m];
          t = fmaf(wf[0], xv[m].x, t);
          t = fmaf(wf[1], xv[m].y, t);
          t = fmaf(wf[2], xv[m].z, t);
          t = fmaf(wf[3], xv[m].w, t);
        }
      }
    }
    if (kFp8) {
      const float s = srow[k >> 7] * kFp8Unscale;
#pragma unroll
      for (int r = 0; r < kRows; ++r)
#pragma unroll
        for (int m = 0; m < kMaxM; ++m) acc[r][m] = fmaf(part[r][m], s, acc[r][m]);
    }
  }
  // Ragged tail, or the whole row when the rows are not 16-byte aligned: one element per lane.
  for (int64_t k = kvec + lane; k < a.K; k += kWarp) {
    const float s = kFp8 ? srow[k >> 7] * kFp8Unscale : 1.0f;
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const float wf = T::elem(rows[r], k) * s;
#pragma unroll
      for (int m = 0; m < kMaxM; ++m)
        if (m < a.M) acc[r][m] = fmaf(wf, a.x[m * a.ldx + k], acc[r][m]);
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r)
#pragma unroll
    for (int m = 0; m < kMaxM; ++m) {
      if (m >= a.M) continue;
      const float v = warp_sum(acc[r][m]);
      if (lane == 0 && n0 + r < a.N)
        a.y[m * a.ldy + n0 + r] = a.bias ? v + load_float(a.bias, a.bias_dt, (n0 + r) * a.bias_stride) : v;
    }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace

void launch_gemv(const GemvArgs& a, const char* op) {
  JANUS_REQUIRE(a.M >= 1 && a.M <= kMaxRows, op,
                "GEMV takes 1.." + std::to_string(kMaxRows) + " rows, got " + std::to_string(a.M));
  const int64_t esz = a.wdt == DType::F8E4M3 ? 1 : 2;
  const bool vec = aligned16(a.w) && (a.ldw * esz) % 16 == 0 && aligned16(a.x) && (a.M == 1 || a.ldx % 4 == 0);
  const int64_t blocks = (a.N + kWarps * kRows - 1) / (kWarps * kRows);
  JANUS_REQUIRE(blocks <= 0x7fffffffLL, op, "too many weight rows for one launch");
  const dim3 grid{unsigned(blocks)}, block{unsigned(kWarps * kWarp)};
  cudaStream_t s = stream();
  const bool one = a.M == 1;
  switch (a.wdt) {
    case DType::BF16:
      if (one)
        gemv_kernel<DType::BF16, 1><<<grid, block, 0, s>>>(a, vec);
      else
        gemv_kernel<DType::BF16, kMaxRows><<<grid, block, 0, s>>>(a, vec);
      break;
    case DType::F16:
      if (one)
        gemv_kernel<DType::F16, 1><<<grid, block, 0, s>>>(a, vec);
      else
        gemv_kernel<DType::F16, kMaxRows><<<grid, block, 0, s>>>(a, vec);
      break;
    case DType::F8E4M3:
      if (one)
        gemv_kernel<DType::F8E4M3, 1><<<grid, block, 0, s>>>(a, vec);
      else
        gemv_kernel<DType::F8E4M3, kMaxRows><<<grid, block, 0, s>>>(a, vec);
      break;
    default: fail(op, std::string("GEMV has no kernel for ") + dtype_name(a.wdt) + " weights");
  }
  check_launch(op);
}

}  // namespace janus::kernels::cuda
