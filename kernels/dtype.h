// Element types and their scalar conversions.
//
// Storage dtypes: f32, bf16, f16, fp8 e4m3 ("e4m3fn": no infinities, max 448, NaN = 0x7f/0xff),
// i32, i64, u8, f64. Compute on CPU is float32; the narrow float types are converted on the fly.
// f64 exists for the autograd gradient checks (kernels/autograd) and reference computations.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace janus::kernels {

enum class DType : uint8_t { F32, BF16, F16, F8E4M3, I32, I64, U8, F64 };

// Bytes per element (inline: Tensor::data<T>() calls it on every access).
inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::F8E4M3: return 1;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
    case DType::F64: return 8;
  }
  return 0;
}
const char* dtype_name(DType t);  // "f32", "bf16", ...
// Parses safetensors dtype strings ("F32", "BF16", "F16", "F8_E4M3", "I32", "I64", "U8", "F64").
// Returns false for anything else.
bool dtype_from_safetensors(const std::string& s, DType* out);
const char* dtype_safetensors_name(DType t);

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round to nearest even, as torch's float -> bfloat16 cast (NaN stays NaN).
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
// e4m3fn decode through a 256-entry table (exact).
extern const float* const kFp8E4M3ToF32;  // 256 entries
inline float fp8e4m3_to_f32(uint8_t v) { return kFp8E4M3ToF32[v]; }
// Round to nearest even with saturation to +-448 (torch's float -> float8_e4m3fn after clamp).
uint8_t f32_to_fp8e4m3(float f);

}  // namespace janus::kernels
