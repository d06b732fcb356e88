#include "vision/weight_source.h"

namespace janus::vision {

using kernels::DType;
using kernels::Error;
using kernels::Shape;
using kernels::Tensor;

Tensor MapWeightSource::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(what_ + ": missing tensor '" + name + "'");
  return it->second;
}

Tensor get_weight(const WeightSource& src, const std::string& name, const Shape& shape) {
  if (!src.has(name)) throw Error(src.describe() + ": missing tensor '" + name + "'");
  Tensor t = src.get(name);
  if (t.shape() != shape)
    throw Error(src.describe() + ": tensor '" + name + "' has shape " + kernels::shape_str(t.shape()) + ", expected " +
                kernels::shape_str(shape));
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16)
    throw Error(src.describe() + ": tensor '" + name + "' has dtype " + kernels::dtype_name(t.dtype()) +
                ", expected F32, BF16 or F16");
  return t;
}

Tensor get_weight_f32(const WeightSource& src, const std::string& name, const Shape& shape) {
  Tensor t = get_weight(src, name, shape);
  return t.dtype() == DType::F32 ? t.contiguous().clone() : t.to(DType::F32).contiguous();
}

kernels::Weight get_linear(const WeightSource& src, const std::string& prefix, int64_t out, int64_t in, bool bias) {
  kernels::Weight w;
  w.w = get_weight(src, prefix + ".weight", {out, in});
  if (bias) w.bias = get_weight(src, prefix + ".bias", {out});
  return w;
}

ConvWeight get_conv(const WeightSource& src, const std::string& prefix, int64_t out, int64_t in, int64_t k) {
  return {get_weight(src, prefix + ".weight", {out, in, k, k}), get_weight(src, prefix + ".bias", {out})};
}

}  // namespace janus::vision
