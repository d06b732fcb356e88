// Vector building blocks for linear(): one ISA chosen at compile time (AVX-512, AVX2+F16C+FMA,
// or a portable 8-lane scalar fallback the compiler may vectorise).
//
// Weights are decoded to f32 in registers, a block at a time, by Weights<D>::block(). The lanes
// may come out permuted (Weights<D>::x_index); the GEMV packs x into the same order, so each
// FMA pairs a weight with its x element and no shuffle is spent undoing the permutation.
//
// fp8 e4m3, exactly, two ways: with AVX512-VBMI through two 128-entry byte tables to bf16 (all
// e4m3 values are exact in bf16); otherwise through f16: the byte s.eeee.mmm placed as f16
// s.0eeee.mmm0000000 is the same number × 2^-8 (normals and subnormals alike: both formats'
// subnormal exponents differ by the same 8), the 2^8 is folded into the block scale. The NaN
// codes 0x7f/0xff decode to ±480 on the SIMD paths (quantisers saturate at ±448 and never
// produce them; the scalar code, also used for ragged row tails in the GEMM path, returns NaN).
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

// Forces v to be materialised in a register here. GCC otherwise folds a load into each of its
// uses (a bf16 line read twice, for its even and odd halves; fp8 codes once per table lookup),
// and the GEMV becomes load-port bound: ~30% slower in cache.
template <class T>
inline void in_register(T& v) {
#if (defined(JANUS_LINEAR_AVX512) || defined(JANUS_LINEAR_AVX2)) && defined(__GNUC__)
  __asm__("" : "+v"(v));
#else
  (void)v;
#endif
}

// Weight dtype tags.
struct WF32 {
  using Storage = float;
};
struct WBf16 {
  using Storage = uint16_t;
};
struct WF16 {
  using Storage = uint16_t;
};
struct WFp8 {
  using Storage = uint8_t;
};

// Weights<D>::block(p, out) decodes kBlock consecutive weights into kBlock / kLanes vectors;
// lane j of the concatenated output holds weight x_index(j). kUnscale: decoded = value / kUnscale.
template <class D>
struct Weights;

template <>
struct Weights<WF32> {
  static constexpr int kBlock = kLanes;
  static constexpr float kUnscale = 1.0f;
  static int x_index(int j) { return j; }
  static inline void block(const float* p, VecF* out) { out[0] = vload(p); }
};

template <>
struct Weights<WBf16> {
#if defined(JANUS_LINEAR_AVX512) || defined(JANUS_LINEAR_AVX2)
  // One 32-bit lane holds two bf16: `<< 16` is the even one, `& 0xffff0000` the odd one.
  static constexpr int kBlock = 2 * kLanes;
  static int x_index(int j) { return j < kLanes ? 2 * j : 2 * (j - kLanes) + 1; }
  static inline void block(const uint16_t* p, VecF* out) {
#if defined(JANUS_LINEAR_AVX512)
    __m512i v = _mm512_loadu_si512(p);
    in_register(v);
    out[0] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    out[1] = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(0xffff0000u))));
#else
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    in_register(v);
    out[0] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    out[1] = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(int(0xffff0000u))));
#endif
  }
#else
  static constexpr int kBlock = kLanes;
  static int x_index(int j) { return j; }
  static inline void block(const uint16_t* p, VecF* out) {
    for (int l = 0; l < kLanes; ++l) out[0].v[l] = bf16_to_f32(p[l]);
  }
#endif
  static constexpr float kUnscale = 1.0f;
};

template <>
struct Weights<WF16> {
  static constexpr int kBlock = kLanes;
  static constexpr float kUnscale = 1.0f;
  static int x_index(int j) { return j; }
  static inline void block(const uint16_t* p, VecF* out) {
#if defined(JANUS_LINEAR_AVX512)
    out[0] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
#elif defined(JANUS_LINEAR_AVX2)
    out[0] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
#else
    for (int l = 0; l < kLanes; ++l) out[0].v[l] = f16_to_f32(p[l]);
#endif
  }
};

// fp8 e4m3 → f32, natural order, 2·kLanes values, each = value / 256 (see the header comment):
// sign-extend to 16 bits, shift the magnitude into the f16 exponent/mantissa, clear bit 14.
#if defined(JANUS_LINEAR_AVX512)
inline void fp8_via_f16(const uint8_t* p, VecF* out) {
  __m512i h = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  h = _mm512_and_si512(_mm512_slli_epi16(h, 7), _mm512_set1_epi16(int16_t(0xbf80)));
  out[0] = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
  out[1] = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}
#elif defined(JANUS_LINEAR_AVX2)
inline void fp8_via_f16(const uint8_t* p, VecF* out) {
  __m256i h = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  h = _mm256_and_si256(_mm256_slli_epi16(h, 7), _mm256_set1_epi16(int16_t(0xbf80)));
  out[0] = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
  out[1] = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
}
#endif

#if defined(JANUS_LINEAR_AVX512) && defined(__AVX512VBMI__)
// bf16 bits of the e4m3 magnitude c (7 bits; every finite e4m3 value is exact in bf16). The NaN
// code 0x7f follows the normal formula and reads as 480.
constexpr uint16_t fp8_magnitude_bf16(int c) {
  const int e = c >> 3, m = c & 7;
  if (e > 0) return uint16_t((e + 120) << 7 | m << 4);  // 2^(e-7) · 1.m
  if (m == 0) return 0;
  const int p = m >= 4 ? 2 : m >= 2 ? 1 : 0;  // subnormal m · 2^-9 = 2^(p-9) · (m / 2^p)
  return uint16_t((118 + p) << 7 | (m - (1 << p)) << (7 - p));
}
struct Fp8Bf16Tables {
  alignas(64) uint8_t hi[128], lo[128];
  constexpr Fp8Bf16Tables() : hi(), lo() {
    for (int c = 0; c < 128; ++c) {
      hi[c] = uint8_t(fp8_magnitude_bf16(c) >> 8);
      lo[c] = uint8_t(fp8_magnitude_bf16(c) & 0xff);
    }
  }
};
inline constexpr Fp8Bf16Tables kFp8Bf16Tables{};
#endif

template <>
struct Weights<WFp8> {
#if defined(JANUS_LINEAR_AVX512) && defined(__AVX512VBMI__)
  // 64 codes per block through two 128-entry byte tables (vpermi2b): the high and the low byte
  // of each code's exact bf16, sign ORed into the high byte. Byte pairs are then assembled into
  // bf16 words with shifts and bit-selects (no further shuffles): word j of `odd` is code 2j+1,
  // of `even` code 2j; and each word pair is split into f32 lanes as for bf16 weights. Output
  // vector g, lane i holds code 4i + {0, 2, 1, 3}[g].
  static constexpr int kBlock = 64;
  static constexpr float kUnscale = 1.0f;
  static int x_index(int j) {
    constexpr int kOffset[4] = {0, 2, 1, 3};
    return 4 * (j % 16) + kOffset[j / 16];
  }
  static inline void block(const uint8_t* p, VecF* out) {
    const Fp8Bf16Tables& t = kFp8Bf16Tables;
    const __m512i hi0 = _mm512_load_si512(t.hi), hi1 = _mm512_load_si512(t.hi + 64);
    const __m512i lo0 = _mm512_load_si512(t.lo), lo1 = _mm512_load_si512(t.lo + 64);
    const __m512i high_byte = _mm512_set1_epi16(int16_t(0xff00));
    __m512i b = _mm512_loadu_si512(p);
    in_register(b);  // one load, not one per use (vpermi2b overwrites its index operand)
    __m512i hi = _mm512_permutex2var_epi8(hi0, b, hi1);
    const __m512i lo = _mm512_permutex2var_epi8(lo0, b, lo1);
    hi = _mm512_ternarylogic_epi32(hi, b, _mm512_set1_epi8(int8_t(0x80)), 0xf8);  // hi | (b & 0x80)
    // ternlog 0xe4 with C = 0xff00: (A & C) | (B & ~C).
    const __m512i odd = _mm512_ternarylogic_epi32(hi, _mm512_srli_epi16(lo, 8), high_byte, 0xe4);
    const __m512i even = _mm512_ternarylogic_epi32(_mm512_slli_epi16(hi, 8), lo, high_byte, 0xe4);
    const __m512i top = _mm512_set1_epi32(int(0xffff0000u));
    out[0] = _mm512_castsi512_ps(_mm512_slli_epi32(even, 16));
    out[1] = _mm512_castsi512_ps(_mm512_and_si512(even, top));
    out[2] = _mm512_castsi512_ps(_mm512_slli_epi32(odd, 16));
    out[3] = _mm512_castsi512_ps(_mm512_and_si512(odd, top));
  }
#elif defined(JANUS_LINEAR_AVX512) || defined(JANUS_LINEAR_AVX2)
  static constexpr int kBlock = 2 * kLanes;
  static constexpr float kUnscale = 256.0f;
  static int x_index(int j) { return j; }
  static inline void block(const uint8_t* p, VecF* out) { fp8_via_f16(p, out); }
#else
  static constexpr int kBlock = kLanes;
  static constexpr float kUnscale = 1.0f;
  static int x_index(int j) { return j; }
  static inline void block(const uint8_t* p, VecF* out) {
    for (int l = 0; l < kLanes; ++l) out[0].v[l] = fp8e4m3_to_f32(p[l]);
  }
#endif
};

// The GEMV visits each weight row kStepBytes at a time: two whole cache lines per row per
// visit keep the hardware prefetcher streaming (one line per visit, with four rows interleaved,
// measured ~25% slower from DRAM). For fp8 a step is exactly one 128-column scale block.
constexpr int kStepBytes = 128;
template <class D>
constexpr int kStep = kStepBytes / int(sizeof(typename D::Storage));
template <class D>
constexpr int kStepRegs = kStep<D> / kLanes;
static_assert(kStep<WFp8> == 128, "an fp8 GEMV step must be one scale block");

// dst[i] = mul · value(src[i]) for i < n, in natural order (the GEMM path's widened tiles).
template <class D>
inline void convert_row(const typename D::Storage* src, int64_t n, float mul, float* dst) {
  int64_t i = 0;
  if constexpr (std::is_same_v<D, WF32>) {
    for (; i < n; ++i) dst[i] = src[i] * mul;
    return;
  }
#if defined(JANUS_LINEAR_AVX512) || defined(JANUS_LINEAR_AVX2)
  const VecF vm = vbroadcast(mul);
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    VecF v[2];
    if constexpr (std::is_same_v<D, WBf16>) {
#if defined(JANUS_LINEAR_AVX512)
      for (int h = 0; h < 2; ++h) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 16 * h)));
        v[h] = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
      }
#else
      for (int h = 0; h < 2; ++h) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 8 * h)));
        v[h] = _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
      }
#endif
      v[0] = vmul(v[0], vm);
      v[1] = vmul(v[1], vm);
    } else if constexpr (std::is_same_v<D, WF16>) {
      Weights<WF16>::block(src + i, &v[0]);
      Weights<WF16>::block(src + i + kLanes, &v[1]);
      v[0] = vmul(v[0], vm);
      v[1] = vmul(v[1], vm);
    } else {
      fp8_via_f16(src + i, v);  // value / 256
      const VecF vm8 = vbroadcast(mul * 256.0f);
      v[0] = vmul(v[0], vm8);
      v[1] = vmul(v[1], vm8);
    }
    vstore(dst + i, v[0]);
    vstore(dst + i + kLanes, v[1]);
  }
#endif
  for (; i < n; ++i) {
    float v;
    if constexpr (std::is_same_v<D, WBf16>)
      v = bf16_to_f32(src[i]);
    else if constexpr (std::is_same_v<D, WF16>)
      v = f16_to_f32(src[i]);
    else
      v = fp8e4m3_to_f32(src[i]);
    dst[i] = v * mul;
  }
}

}  // namespace janus::kernels::cpu::linear_simd
