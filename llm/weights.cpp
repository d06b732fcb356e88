#include "llm/weights.h"

namespace janus::llm {

using kernels::DType;
using kernels::Error;

kernels::Weight load_linear(const TensorStore& s, const std::string& prefix, int64_t out, int64_t in, bool bias) {
  kernels::Weight w;
  w.w = s.get(prefix + ".weight", {out, in});
  const std::string where = s.dir() + ": tensor '" + prefix + ".weight'";
  switch (w.w.dtype()) {
    case DType::F32:
    case DType::BF16:
    case DType::F16: break;
    case DType::F8E4M3: {
      const std::string sname = prefix + ".weight_scale_inv";
      if (!s.has(sname)) throw Error(where + " is fp8 e4m3 but '" + sname + "' is missing");
      w.scale_inv = s.get(sname, {(out + 127) / 128, (in + 127) / 128});
      if (w.scale_inv.dtype() != DType::F32)
        throw Error(s.dir() + ": tensor '" + sname + "' must be F32, found " +
                    kernels::dtype_name(w.scale_inv.dtype()));
      break;
    }
    default:
      throw Error(where + " has dtype " + kernels::dtype_name(w.w.dtype()) +
                  "; linear weights must be f32, bf16, f16 or fp8 e4m3");
  }
  if (bias) w.bias = load_vector(s, prefix + ".bias", out);
  return w;
}

kernels::Tensor load_vector(const TensorStore& s, const std::string& name, int64_t n) {
  kernels::Tensor t = s.get(name, {n});
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16)
    throw Error(s.dir() + ": tensor '" + name + "' has dtype " + kernels::dtype_name(t.dtype()) +
                ", expected a float type");
  return t;
}

}  // namespace janus::llm
