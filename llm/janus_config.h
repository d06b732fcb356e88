// Janus multimodal configuration: one JanusConfig from either config.json layout.
//
// 1. transformers `model_type: "janus"` (JanusForConditionalGeneration): `text_config` (a
//    backbone config; model_type defaults to llama), `vision_config` (SigLIP + aligner:
//    hidden_size, projection_dim, depth, ...), `vq_config` (VQ model, gen aligner, gen head),
//    `image_token_id`. The VQ decode grid is vision image_size / patch_size, as transformers sets.
// 2. the original release `model_type: "multi_modality"` (deepseek-ai/Janus): `language_config`
//    (LlamaConfig fields; absent ones take LlamaConfig defaults), `vision_config.params`
//    (`model_name` preset, image_size, select_layer), `aligner_config.params`,
//    `gen_vision_config.params`, `gen_aligner_config.params`, `gen_head_config.params`.
//    The original code hard-codes the SigLIP preset and the VQ-16 hyper-parameters; for small
//    checkpoints we also accept these optional fields in the params (names as in timm's
//    SigLIPVisionCfg and LlamaGen's ModelArgs): vision `width`, `layers`, `heads`, `mlp_ratio`,
//    `patch_size`; gen_vision `codebook_size`, `codebook_embed_dim`, `z_channels`, `ch`,
//    `encoder_ch_mult` / `decoder_ch_mult` (must be equal), `num_res_blocks`.
// The language model may be any backbone llm::Model supports (llama for Janus-Pro, deepseek_v3 for
// our janus_r1 configs). Errors: kernels::Error naming the file and the field.
#pragma once
#include <string>

#include "llm/config.h"
#include "vision/vision_config.h"

namespace janus::llm {

enum class JanusLayout { kTransformers, kMultiModality };

struct JanusConfig {
  std::string path;
  JanusLayout layout = JanusLayout::kTransformers;
  ModelConfig text;  // the backbone
  vision::SiglipConfig vision;
  vision::MlpAlignerConfig aligner;      // vision hidden → LM hidden
  vision::VqConfig vq;                   // num_patches = decode grid side
  vision::MlpAlignerConfig gen_aligner;  // codebook embed_dim → LM hidden
  vision::GenHeadConfig gen_head;        // LM hidden → num codes
  int64_t image_token_id = -1;           // from config.json; -1: look it up in the tokenizer

  int64_t image_tokens() const { return vision.num_patches(); }                 // placeholders per image
  int64_t gen_image_tokens() const { return vq.num_patches * vq.num_patches; }  // codes per image
};

// True when the config.json text has model_type "janus" or "multi_modality".
bool is_janus_config_text(const std::string& json_text);
JanusConfig parse_janus_config(const std::string& json_text, const std::string& path_for_errors);
JanusConfig load_janus_config(const std::string& config_json_path);

// Checkpoint names of each layout (the language model's tensors sit below `lm_prefix`, the LM
// head is `lm_head`.weight).
struct JanusNames {
  std::string lm_prefix, lm_head;
};
JanusNames janus_names(JanusLayout layout);

}  // namespace janus::llm
