#include "kernels/dtype.h"

#include <cmath>

namespace janus::kernels {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::F8E4M3: return "f8e4m3";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
    case DType::F64: return "f64";
  }
  return "?";
}

const char* dtype_safetensors_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::F8E4M3: return "F8_E4M3";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::F64: return "F64";
  }
  return "?";
}

bool dtype_from_safetensors(const std::string& s, DType* out) {
  static const struct {
    const char* name;
    DType t;
  } kTable[] = {{"F32", DType::F32}, {"BF16", DType::BF16}, {"F16", DType::F16}, {"F8_E4M3", DType::F8E4M3},
                {"I32", DType::I32}, {"I64", DType::I64},   {"U8", DType::U8},   {"F64", DType::F64}};
  for (const auto& e : kTable)
    if (s == e.name) {
      *out = e.t;
      return true;
    }
  return false;
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        man <<= 1;
        ++e;
      } while (!(man & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | man << 13;
  } else {
    u = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = uint16_t((u >> 16) & 0x8000);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;
  if (a >= 0x477ff000u) return sign | 0x7c00;  // rounds to >= 65520 -> inf
  if (a < 0x38800000u) {                       // subnormal or zero in f16
    float af;
    std::memcpy(&af, &a, 4);
    // af * 2^24 rounded to nearest even gives the subnormal mantissa
    return sign | uint16_t(std::nearbyint(af * 16777216.0f));
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - 0x38000000u;
  return sign | uint16_t(r >> 13);
}

namespace {
constexpr float pow2(int e) {
  float r = 1.0f;
  for (; e > 0; --e) r *= 2.0f;
  for (; e < 0; ++e) r *= 0.5f;
  return r;
}
struct Fp8Table {
  float v[256];
  constexpr Fp8Table() : v() {
    for (int i = 0; i < 256; ++i) {
      int exp = (i >> 3) & 0xf, man = i & 7;
      float x = exp == 0 ? float(man) / 8.0f * pow2(-6) : (1.0f + float(man) / 8.0f) * pow2(exp - 7);
      if (exp == 0xf && man == 7) x = __builtin_nanf("");
      v[i] = (i >> 7) ? -x : x;
    }
  }
};
constexpr Fp8Table kTable{};
}  // namespace

const float* const kFp8E4M3ToF32 = kTable.v;

uint8_t f32_to_fp8e4m3(float f) {
  if (std::isnan(f)) return 0x7f;
  uint8_t sign = std::signbit(f) ? 0x80 : 0;
  float a = std::fabs(f);
  if (a >= 448.0f) return sign | 0x7e;
  // Find the nearest representable value, ties to even mantissa.
  int e;
  std::frexp(a, &e);    // a = m * 2^e, m in [0.5, 1)
  int exp = e - 1 + 7;  // biased exponent if normal
  float step = exp <= 0 ? std::ldexp(1.0f, -9) : std::ldexp(1.0f, e - 1 - 3);
  float q = std::nearbyint(a / step) * step;  // nearbyint: ties to even (default rounding)
  // Re-encode q exactly.
  if (q == 0.0f) return sign;
  int e2;
  std::frexp(q, &e2);
  int be = e2 - 1 + 7;
  if (be <= 0) return sign | uint8_t(std::lround(q / std::ldexp(1.0f, -9)));
  int man = int(std::lround((q / std::ldexp(1.0f, e2 - 1) - 1.0f) * 8.0f));
  return sign | uint8_t(be << 3 | man);
}

}  // namespace janus::kernels
