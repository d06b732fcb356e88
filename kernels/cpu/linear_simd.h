// Vector building blocks for linear(): one ISA chosen at compile time (AVX-512, AVX2+F16C+FMA,
// or a portable 8-lane scalar fallback the compiler may vectorise).
//
// Weights are consumed in steps of kStep = 32 elements (one 64-byte line of bf16). A step is
// loaded as kRegs f32 vectors by Weights<D>::step(); the lanes come out in the order given by
// Weights<D>::x_index(j), and the GEMV packs x into the same order so that one FMA pairs each
// weight with its x element. bf16 uses this to avoid a shuffle: one 32-bit lane holds two bf16,
// `lane << 16` is the even element and `lane & 0xffff0000` the odd one.
//
// fp8 e4m3 decodes exactly through f16: the byte s.eeee.mmm placed as f16 s.0eeee.mmm0000000
// is the same number × 2^-8 (normals and subnormals alike, since both formats' subnormal
// exponents differ by the same 8). The kernels fold the 2^8 into the block scale
// (kFp8Unscale). The NaN encodings 0x7f/0xff decode to ±480 on the SIMD paths (quantisers
// saturate at ±448 and never produce them).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/dtype.h"

#if defined(__AVX512F__) && defined(__AVX512BW__)
#define JANUS_LINEAR_AVX512 1
#include <immintrin.h>
// GCC 12's AVX-512 intrinsics pass deliberately undefined vectors (_mm512_undefined_*) that its
// middle end then reports as uninitialised after inlining (GCC PR105593, fixed in 13). The
// warning fires at the end of the translation unit, so it cannot be scoped with push/pop.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define JANUS_LINEAR_AVX2 1
#include <immintrin.h>
#endif

namespace janus::kernels::cpu::linear_simd {

constexpr int kStep = 32;
constexpr float kFp8Unscale = 256.0f;  // decoded fp8 lanes are value / 256

#if defined(JANUS_LINEAR_AVX512)
constexpr const char* kIsaName = "avx512";
constexpr int kLanes = 16;
using VecF = __m512;
inline VecF vzero() { return _mm512_setzero_ps(); }
inline VecF vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, VecF v) { _mm512_storeu_ps(p, v); }
inline VecF vbroadcast(float s) { return _mm512_set1_ps(s); }
inline VecF vmul(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
inline VecF vadd(VecF a, VecF b) { return _mm512_add_ps(a, b); }
inline VecF vfma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(VecF a) { return _mm512_reduce_add_ps(a); }
#elif defined(JANUS_LINEAR_AVX2)
constexpr const char* kIsaName = "avx2";
constexpr int kLanes = 8;
using VecF = __m256;
inline VecF vzero() { return _mm256_setzero_ps(); }
inline VecF vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, VecF v) { _mm256_storeu_ps(p, v); }
inline VecF vbroadcast(float s) { return _mm256_set1_ps(s); }
inline VecF vmul(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
inline VecF vadd(VecF a, VecF b) { return _mm256_add_ps(a, b); }
inline VecF vfma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(VecF a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#else
constexpr const char* kIsaName = "scalar";
constexpr int kLanes = 8;
struct VecF {
  float v[kLanes];
};
inline VecF vzero() { return VecF{}; }
inline VecF vload(const float* p) {
  VecF r;
  std::memcpy(r.v, p, sizeof r.v);
  return r;
}
inline void vstore(float* p, VecF a) { std::memcpy(p, a.v, sizeof a.v); }
inline VecF vbroadcast(float s) {
  VecF r;
  for (float& e : r.v) e = s;
  return r;
}
inline VecF vmul(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] *= b.v[i];
  return a;
}
inline VecF vadd(VecF a, VecF b) {
  for (int i = 0; i < kLanes; ++i) a.v[i] += b.v[i];
  return a;
}
inline VecF vfma(VecF a, VecF b, VecF c) {
  for (int i = 0; i < kLanes; ++i) c.v[i] += a.v[i] * b.v[i];
  return c;
}
inline float vsum(VecF a) {
  float s = 0.0f;
  for (float e : a.v) s += e;
  return s;
}
#endif

constexpr int kRegs = kStep / kLanes;  // vectors per step

// Weight dtype tags: storage type, step loader (GEMV lane order), row converter (natural order).
struct WF32 {
  using Storage = float;
  static constexpr DType kDType = DType::F32;
};
struct WBf16 {
  using Storage = uint16_t;
  static constexpr DType kDType = DType::BF16;
};
struct WF16 {
  using Storage = uint16_t;
  static constexpr DType kDType = DType::F16;
};
struct WFp8 {
  using Storage = uint8_t;
  static constexpr DType kDType = DType::F8E4M3;
};

template <class D> struct Weights;

template <> struct Weights<WF32> {
  static int x_index(int j) { return j; }
  static inline void step(const float* p, VecF* out) {
    for (int i = 0; i < kRegs; ++i) out[i] = vload(p + i * kLanes);
  }
};

template <> struct Weights<WBf16> {
#if defined(JANUS_LINEAR_AVX512) || defined(JANUS_LINEAR_AVX2)
  // Each 2·kLanes group: evens first, then odds.
  static int x_index(int j) {
    int g = j / (2 * kLanes) * (2 * kLanes), p = j % (2 * kLanes);
    return g + (p < kLanes ? 2 * p : 2 * (p - kLanes) + 1);
  }
#else
  static int x_index(int j) { return j; }
#endif
  static inline void step(const uint16_t* p, VecF* out) {
#if defined(JANUS_LINEAR_AVX512)
    __m512i v = _mm512_loadu_si512(p);
    out[0] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    out[1] = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(0xffff0000u))));
#elif defined(JANUS_LINEAR_AVX2)
    for (int h = 0; h < 2; ++h) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16 * h));
      out[2 * h] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
      out[2 * h + 1] = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(int(0xffff0000u))));
    }
#else
    for (int i = 0; i < kRegs; ++i)
      for (int l = 0; l < kLanes; ++l) out[i].v[l] = bf16_to_f32(p[i * kLanes + l]);
#endif
  }
};

template <> struct Weights<WF16> {
  static int x_index(int j) { return j; }
  static inline void step(const uint16_t* p, VecF* out) {
#if defined(JANUS_LINEAR_AVX512)
    out[0] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    out[1] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16)));
#elif defined(JANUS_LINEAR_AVX2)
    for (int i = 0; i < 4; ++i)
      out[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8 * i)));
#else
    for (int i = 0; i < kRegs; ++i)
      for (int l = 0; l < kLanes; ++l) out[i].v[l] = f16_to_f32(p[i * kLanes + l]);
#endif
  }
};

template <> struct Weights<WFp8> {
  static int x_index(int j) { return j; }
  // Lanes hold value / kFp8Unscale.
  static inline void step(const uint8_t* p, VecF* out) {
#if defined(JANUS_LINEAR_AVX512)
    // Sign-extend to 16 bits, shift the magnitude into the f16 exponent/mantissa, clear bit 14.
    __m512i h = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    h = _mm512_and_si512(_mm512_slli_epi16(h, 7), _mm512_set1_epi16(int16_t(0xbf80)));
    out[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    out[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
#elif defined(JANUS_LINEAR_AVX2)
    for (int i = 0; i < 2; ++i) {
      __m256i h = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i)));
      h = _mm256_and_si256(_mm256_slli_epi16(h, 7), _mm256_set1_epi16(int16_t(0xbf80)));
      out[2 * i] = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
      out[2 * i + 1] = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
    }
#else
    for (int i = 0; i < kRegs; ++i)
      for (int l = 0; l < kLanes; ++l) out[i].v[l] = fp8e4m3_to_f32(p[i * kLanes + l]) / kFp8Unscale;
#endif
  }
};

// dst[i] = mul · decoded(src[i]) for i < n, natural order. For fp8 `mul` must include
// kFp8Unscale (decoded lanes are value / 256); for the other dtypes mul = 1 is exact.
template <class D>
inline void convert_row(const typename D::Storage* src, int64_t n, float mul, float* dst) {
  int64_t i = 0;
#if defined(JANUS_LINEAR_AVX512) || defined(JANUS_LINEAR_AVX2)
  const VecF vm = vbroadcast(mul);
  if constexpr (std::is_same_v<D, WBf16>) {
    // Natural order: widen each bf16 to a 32-bit lane first.
    for (; i + kLanes <= n; i += kLanes) {
#if defined(JANUS_LINEAR_AVX512)
      __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
      vstore(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(v, 16)));
#else
      __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
      vstore(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
#endif
    }
  } else {
    for (; i + kStep <= n; i += kStep) {
      VecF v[kRegs];
      Weights<D>::step(src + i, v);
      for (int r = 0; r < kRegs; ++r)
        vstore(dst + i + r * kLanes, std::is_same_v<D, WFp8> ? vmul(v[r], vm) : v[r]);
    }
  }
#endif
  for (; i < n; ++i) {
    float v;
    if constexpr (std::is_same_v<D, WF32>) v = src[i];
    else if constexpr (std::is_same_v<D, WBf16>) v = bf16_to_f32(src[i]);
    else if constexpr (std::is_same_v<D, WF16>) v = f16_to_f32(src[i]);
    else v = fp8e4m3_to_f32(src[i]) / kFp8Unscale;
    dst[i] = std::is_same_v<D, WFp8> ? v * mul : v;
  }
}

}  // namespace janus::kernels::cpu::linear_simd
