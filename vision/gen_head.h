// Janus image-generation pieces around the LM:
// - GenEmbedding: codebook ids → generation_embeddings [V_img, embed_dim] → generation aligner
//   MLP → LM hidden (the next input embedding while generating an image).
// - GenHead: LM final hidden state → proj_out (H → projection_dim) → act → vision_head
//   (→ V_img logits).
// transformers names: `<p>generation_embeddings.weight`, `<p>generation_aligner.*`,
// `<p>generation_head.{proj_out,vision_head}.*` with p = "model." (the original checkpoint:
// gen_embed, gen_aligner.layers.{0,2}, gen_head.{output_mlp_projector,vision_head}).
#pragma once
#include <cstdint>
#include <string>

#include "kernels/ops.h"
#include "vision/aligner.h"
#include "vision/vision_config.h"
#include "vision/weight_source.h"

namespace janus::vision {

class GenEmbedding {
 public:
  GenEmbedding() = default;
  // table_name: full name of the [num_embeddings, embed_dim] table; aligner_prefix ends with '.'.
  GenEmbedding(const MlpAlignerConfig& aligner, int64_t num_embeddings, const WeightSource& src,
               const std::string& table_name, const std::string& aligner_prefix);

  // ids [...] i64 (each in [0, num_embeddings), else kernels::Error) → [..., out_dim] f32.
  kernels::Tensor forward(const kernels::Tensor& ids) const;
  int64_t num_embeddings() const { return table_.size(0); }

 private:
  kernels::Tensor table_;
  MlpAligner aligner_;
};

class GenHead {
 public:
  GenHead() = default;
  // prefix e.g. "model.generation_head." (proj_out, vision_head below it).
  GenHead(const GenHeadConfig& cfg, const WeightSource& src, const std::string& prefix);

  // hidden [..., in_dim] f32 → logits [..., num_codes] f32.
  kernels::Tensor forward(const kernels::Tensor& hidden) const;
  const GenHeadConfig& config() const { return cfg_; }

 private:
  GenHeadConfig cfg_;
  kernels::Weight proj_out_, vision_head_;
};

}  // namespace janus::vision
