// WeightSource: where vision modules get their parameters, by checkpoint tensor name.
//
// vision/ must not depend on llm/ (arrows point down), so the modules read weights through this
// small interface; the model loader (llm/) adapts its TensorStore to it, and tests/tools can use
// MapWeightSource. Every module takes a name prefix ("model.vision_model.", "model.vqmodel.", …)
// and appends the transformers `janus` layout names below it; other layouts (the original
// `multi_modality` checkpoint) are renamed by the loader before they get here.
//
// Tensors are returned as stored (f32, bf16 or f16; zero-copy views are fine) and must stay valid
// while the module holding them lives (Tensor keeps its buffer alive). Thread-safety: const
// methods may be called concurrently.
#pragma once
#include <map>
#include <string>

#include "kernels/ops.h"
#include "kernels/tensor.h"

namespace janus::vision {

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  virtual bool has(const std::string& name) const = 0;
  // The tensor called `name`. Implementations throw kernels::Error naming the tensor when absent.
  virtual kernels::Tensor get(const std::string& name) const = 0;
  // Where the weights come from (a folder, a file), for error messages.
  virtual std::string describe() const = 0;
};

// In-memory weights (tests, converted models).
class MapWeightSource : public WeightSource {
 public:
  explicit MapWeightSource(std::string what = "weights") : what_(std::move(what)) {}
  void set(const std::string& name, kernels::Tensor t) { tensors_[name] = std::move(t); }
  bool has(const std::string& name) const override { return tensors_.count(name) != 0; }
  kernels::Tensor get(const std::string& name) const override;
  std::string describe() const override { return what_; }

 private:
  std::string what_;
  std::map<std::string, kernels::Tensor> tensors_;
};

// src.get(name) checked to have exactly `shape` and a float dtype (f32/bf16/f16); throws
// kernels::Error "<describe>: tensor 'name' has shape [..], expected [..]".
kernels::Tensor get_weight(const WeightSource& src, const std::string& name, const kernels::Shape& shape);
// As get_weight, converted to an owned contiguous f32 copy (small tables read element-wise).
kernels::Tensor get_weight_f32(const WeightSource& src, const std::string& name, const kernels::Shape& shape);
// `prefix.weight` [out, in] (+ `prefix.bias` [out] when `bias`).
kernels::Weight get_linear(const WeightSource& src, const std::string& prefix, int64_t out, int64_t in, bool bias);

// A Conv2d's parameters: `prefix.weight` [out, in, k, k] and `prefix.bias` [out].
struct ConvWeight {
  kernels::Tensor w, bias;
  int64_t out_channels() const { return w.size(0); }
};
ConvWeight get_conv(const WeightSource& src, const std::string& prefix, int64_t out, int64_t in, int64_t k);

}  // namespace janus::vision
