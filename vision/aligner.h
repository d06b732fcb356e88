// MlpAligner: Linear(in → out) then (act → Linear(out → out)) × (depth − 1).
// transformers names below `prefix`: fc1.{weight,bias}, hidden_layers.{i}.{weight,bias}
// (the original checkpoint's layers.0 / layers.2). Used as the understanding aligner
// (prefix "model.aligner.") and the generation aligner ("model.generation_aligner.").
#pragma once
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "vision/vision_config.h"
#include "vision/weight_source.h"

namespace janus::vision {

// x = act(x) in place (contiguous f32).
void activate(kernels::Tensor& x, Activation act);

class MlpAligner {
 public:
  MlpAligner() = default;
  // Loads and shape-checks every weight; throws kernels::Error naming a missing/misshapen tensor.
  MlpAligner(const MlpAlignerConfig& cfg, const WeightSource& src, const std::string& prefix);

  // x [..., in_dim] f32 (rows contiguous) → new [..., out_dim] f32.
  kernels::Tensor forward(const kernels::Tensor& x) const;
  const MlpAlignerConfig& config() const { return cfg_; }

 private:
  MlpAlignerConfig cfg_;
  std::vector<kernels::Weight> layers_;
};

}  // namespace janus::vision
