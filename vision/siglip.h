// SigLIP ViT as used by Janus for understanding (timm siglip_large_patch16_384 / transformers
// JanusVisionModel): patch embedding Conv2d(C → D, kernel = stride = patch), learned position
// embedding per patch (no class token, no interpolation: the input must be image_size square),
// num_layers pre-LN blocks { x += proj(MHA(LN1(x))); x += fc2(act(fc1(LN2(x)))) } with
// bidirectional attention (scale 1/√head_dim), then post_layernorm. No attention pooling (the
// original checkpoint's attn_pool is unused).
//
// transformers names below `prefix` (e.g. "model.vision_model."):
//   embeddings.patch_embedding.{weight [D, C, p, p], bias [D]}
//   embeddings.position_embedding.weight [N, D]
//   encoder.layers.{i}.layer_norm{1,2}.{weight,bias} [D]
//   encoder.layers.{i}.self_attn.{q,k,v}_proj.{weight [D, D], bias [D] when attention_bias}
//   encoder.layers.{i}.self_attn.projection_layer.{weight,bias}
//   encoder.layers.{i}.mlp.fc1.{weight [I, D], bias}, mlp.fc2.{weight [D, I], bias}
//   post_layernorm.{weight,bias}
// Weights are kept as the source returns them (f32/bf16/f16 views); activations are f32.
#pragma once
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "vision/vision_config.h"
#include "vision/weight_source.h"

namespace janus::vision {

class SiglipVisionModel {
 public:
  SiglipVisionModel() = default;
  // Loads and shape-checks every weight (kernels::Error names the first bad tensor).
  SiglipVisionModel(const SiglipConfig& cfg, const WeightSource& src, const std::string& prefix);

  // pixels [B, C, image_size, image_size] f32 (already normalised) → [B, N, D] f32 features after
  // post_layernorm (N = (image_size / patch_size)²). Any other input size: kernels::Error.
  kernels::Tensor forward(const kernels::Tensor& pixels) const;
  const SiglipConfig& config() const { return cfg_; }

 private:
  struct Layer {
    kernels::Tensor ln1_w, ln1_b, ln2_w, ln2_b;
    kernels::Weight q, k, v, proj, fc1, fc2;
  };
  SiglipConfig cfg_;
  kernels::Tensor patch_w_, patch_b_, pos_, post_w_, post_b_;
  std::vector<Layer> layers_;
};

}  // namespace janus::vision
