// All Janus vision modules of one checkpoint, loaded from a transformers JanusConfig JSON
// (config.json: `vision_config`, `vq_config`) and a WeightSource in the transformers `janus`
// layout. As JanusConfig does, the VQ decode grid (vq num_patches) is set to the understanding
// grid vision image_size / patch_size.
//
// Errors: kernels::Error from the config parsers (naming the field) or the weight loads (naming
// the tensor).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "vision/aligner.h"
#include "vision/gen_head.h"
#include "vision/siglip.h"
#include "vision/vision_config.h"
#include "vision/vq.h"
#include "vision/weight_source.h"

namespace janus::vision {

// Where each module's weights live (transformers JanusForConditionalGeneration names).
struct JanusVisionNames {
  std::string vision = "model.vision_model.";
  std::string aligner = "model.aligner.";
  std::string vq = "model.vqmodel.";
  std::string gen_embed_table = "model.generation_embeddings.weight";
  std::string gen_aligner = "model.generation_aligner.";
  std::string gen_head = "model.generation_head.";
};

struct JanusVision {
  SiglipConfig siglip_cfg;
  MlpAlignerConfig aligner_cfg, gen_aligner_cfg;
  VqConfig vq_cfg;
  GenHeadConfig gen_head_cfg;

  SiglipVisionModel siglip;  // pixels → features
  MlpAligner aligner;        // features → image_embeds (LM hidden)
  VqModel vq;                // codes ↔ images
  GenEmbedding gen_embed;    // codes → gen_embeds (LM hidden)
  GenHead gen_head;          // LM hidden → gen_logits

  // config: the whole config.json object. with_vq_encoder: also load the VQ encoder (image →
  // codes); generation only needs the decoder.
  static JanusVision load(const nlohmann::json& config, const WeightSource& src, const JanusVisionNames& names = {},
                          bool with_vq_encoder = true);

  // pixel_values [B, C, S, S] → image_embeds [B, N, H].
  kernels::Tensor image_embeds(const kernels::Tensor& pixel_values) const {
    return aligner.forward(siglip.forward(pixel_values));
  }
};

}  // namespace janus::vision
