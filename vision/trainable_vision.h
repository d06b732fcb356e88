// Trainable Janus vision modules: the same math as the inference modules (siglip.h, aligner.h,
// gen_head.h; the VQ model is in trainable_vq.h) written over autograd Vars (kernels/autograd), so
// one forward + kernels::ag::backward() gives every parameter's gradient.
//
// Parameters
// - f32 leaf Vars, registered in creation order in a ParamList under their transformers `janus`
//   checkpoint names (prefix + the names listed in siglip.h / aligner.h / gen_head.h / vq.h).
// - Values come from a ParamMaker: from a WeightSource (any stored float dtype becomes an owned
//   f32 copy; a missing or misshapen tensor throws kernels::Error naming it) or seeded random
//   init (SplitMix64 + Box-Muller, identical on every platform): matrices and conv kernels
//   N(0, 1/fan_in), embeddings / codebooks / position tables N(0, 1), norm weights 1, biases 0.
// - Forward values equal the inference modules' up to float32 summation order
//   (tests/train_vision/test_trainable_vision.cpp: ≤ 1e-5 relative).
// Activations are f32 Vars; errors are kernels::Error naming the module and the shapes.
// Not thread-safe (one graph per thread). Modules hold Var handles: copies share parameters.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"
#include "vision/vision_config.h"
#include "vision/weight_source.h"

namespace janus::vision {

// What a parameter is, for random initialisation.
enum class InitKind { kMatrix, kEmbedding, kNormWeight, kBias };

class ParamMaker {
 public:
  // Parameters appended to `params`. src null: seeded random init.
  ParamMaker(kernels::ag::ParamList& params, const WeightSource* src, uint64_t seed = 0)
      : params_(params), src_(src), state_(seed) {}
  // The f32 value `name` of exactly `shape` would get (owned, contiguous), not recorded (for
  // models that register parameters themselves, e.g. llm/'s ParamRegistry).
  kernels::Tensor value(const std::string& name, const kernels::Shape& shape, InitKind kind);
  // A new trainable leaf `name` of exactly `shape` (f32), recorded in the ParamList.
  kernels::ag::Var make(const std::string& name, const kernels::Shape& shape, InitKind kind);
  // `prefix.weight` [out, in] (+ `prefix.bias` [out]).
  struct Linear {
    kernels::ag::Var w, b;
    kernels::ag::Var operator()(const kernels::ag::Var& x) const { return kernels::ag::linear(x, w, b); }
  };
  Linear linear(const std::string& prefix, int64_t out, int64_t in, bool bias = true);
  // Conv2d `prefix.weight` [out, in, k, k] + `prefix.bias` [out].
  Linear conv(const std::string& prefix, int64_t out, int64_t in, int64_t k);

 private:
  double normal();
  kernels::ag::ParamList& params_;
  const WeightSource* src_;
  uint64_t state_;
};

kernels::ag::Var activate(const kernels::ag::Var& x, Activation act);

// MlpAligner (aligner.h): fc1, then (act, hidden_layers.i) × (depth − 1).
class TrainMlpAligner {
 public:
  TrainMlpAligner() = default;
  TrainMlpAligner(const MlpAlignerConfig& cfg, ParamMaker& pm, const std::string& prefix);
  // x [..., in_dim] → [..., out_dim].
  kernels::ag::Var forward(const kernels::ag::Var& x) const;
  const MlpAlignerConfig& config() const { return cfg_; }

 private:
  MlpAlignerConfig cfg_;
  std::vector<ParamMaker::Linear> layers_;
};

// SigLIP ViT (siglip.h): pixels [B, C, S, S] → features [B, N, D] after post_layernorm.
class TrainSiglip {
 public:
  TrainSiglip() = default;
  TrainSiglip(const SiglipConfig& cfg, ParamMaker& pm, const std::string& prefix);
  kernels::ag::Var forward(const kernels::ag::Var& pixels) const;
  const SiglipConfig& config() const { return cfg_; }

 private:
  struct Layer {
    kernels::ag::Var ln1_w, ln1_b, ln2_w, ln2_b;
    ParamMaker::Linear q, k, v, proj, fc1, fc2;
  };
  SiglipConfig cfg_;
  ParamMaker::Linear patch_;
  kernels::ag::Var pos_, post_w_, post_b_;
  std::vector<Layer> layers_;
};

// Generation embedding (gen_head.h): ids → table rows [.., embed_dim] → generation aligner.
class TrainGenEmbedding {
 public:
  TrainGenEmbedding() = default;
  TrainGenEmbedding(const MlpAlignerConfig& aligner, int64_t num_embeddings, ParamMaker& pm,
                    const std::string& table_name, const std::string& aligner_prefix);
  // ids (each in [0, num_embeddings)) → [ids.size(), out_dim].
  kernels::ag::Var forward(const std::vector<int64_t>& ids) const;
  const kernels::ag::Var& table() const { return table_; }

 private:
  kernels::ag::Var table_;
  TrainMlpAligner aligner_;
};

// Generation head (gen_head.h): hidden [..., in_dim] → proj_out → act → vision_head → logits.
class TrainGenHead {
 public:
  TrainGenHead() = default;
  TrainGenHead(const GenHeadConfig& cfg, ParamMaker& pm, const std::string& prefix);
  kernels::ag::Var forward(const kernels::ag::Var& hidden) const;

 private:
  GenHeadConfig cfg_;
  ParamMaker::Linear proj_out_, vision_head_;
};

}  // namespace janus::vision
