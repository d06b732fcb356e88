// Hyper-parameters of the Janus vision modules, parsed from transformers' JanusConfig JSON
// (`vision_config` and `vq_config` objects of config.json). Absent fields take transformers'
// defaults (JanusVisionConfig / JanusVQVAEConfig, i.e. Janus-Pro-1B's values); present fields must
// have the right JSON type. Errors: kernels::Error "vision_config: field 'x' …" /
// "vq_config: …" naming the field and what was expected.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace janus::vision {

// Activation of the MLPs: "gelu" is exact (erf); "gelu_pytorch_tanh" / "gelu_new" the tanh form.
enum class Activation { kGelu, kGeluTanh };
Activation parse_activation(const std::string& name, const std::string& where);

// SigLIP ViT (understanding encoder).
struct SiglipConfig {
  int64_t hidden_size = 1024;
  int64_t num_layers = 24;
  int64_t num_heads = 16;
  int64_t num_channels = 3;
  int64_t image_size = 384;  // square input, exactly this size (no position interpolation)
  int64_t patch_size = 16;
  int64_t intermediate_size = 4096;  // hidden_size · mlp_ratio
  float layer_norm_eps = 1e-6f;
  bool attention_bias = true;
  Activation act = Activation::kGelu;

  int64_t grid() const { return image_size / patch_size; }
  int64_t num_patches() const { return grid() * grid(); }
  int64_t head_dim() const { return hidden_size / num_heads; }
};

// Linear → (act → Linear) × (depth − 1): the aligner (vision features → LM hidden) and the
// generation aligner (codebook embedding → LM hidden).
struct MlpAlignerConfig {
  int64_t in_dim = 1024;
  int64_t out_dim = 2048;
  int64_t depth = 2;
  Activation act = Activation::kGelu;
};

// LlamaGen VQ model (generation tokenizer).
struct VqConfig {
  int64_t embed_dim = 8;           // codebook vector size
  int64_t num_embeddings = 16384;  // codebook size
  int64_t latent_channels = 256;   // z channels between encoder/decoder and (post_)quant_conv
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  int64_t base_channels = 128;
  std::vector<int64_t> channel_multiplier = {1, 1, 2, 2, 4};
  int64_t num_res_blocks = 2;
  int64_t num_patches = 32;  // side of the decode grid (JanusConfig sets vision image/patch)
  int64_t norm_groups = 32;  // GroupNorm(32, C, eps 1e-6): fixed in the architecture
  float norm_eps = 1e-6f;

  int64_t num_levels() const { return int64_t(channel_multiplier.size()); }
  int64_t downsample_factor() const { return int64_t(1) << (num_levels() - 1); }
};

// Generation head: LM hidden → proj_out (H → projection_dim) → act → vision_head (→ codebook).
struct GenHeadConfig {
  int64_t in_dim = 2048;  // image_token_embed_dim (= LM hidden size)
  int64_t hidden = 2048;  // projection_dim
  int64_t num_codes = 16384;
  Activation act = Activation::kGelu;
};

SiglipConfig parse_siglip_config(const nlohmann::json& vision_config);
MlpAlignerConfig parse_aligner_config(const nlohmann::json& vision_config);  // hidden → projection_dim
VqConfig parse_vq_config(const nlohmann::json& vq_config);
MlpAlignerConfig parse_gen_aligner_config(const nlohmann::json& vq_config);  // embed_dim → projection_dim
GenHeadConfig parse_gen_head_config(const nlohmann::json& vq_config);

}  // namespace janus::vision
