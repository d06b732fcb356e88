// Model configuration from an HF `config.json`, with transformers' defaults for absent fields.
//
// Supported model_type: llama, qwen2, deepseek_v3, deepseek_v2. RoPE parameters are read from
// either the transformers-4 layout (`rope_theta` + `rope_scaling`) or the transformers-5 layout
// (`rope_parameters`). Anything unsupported or inconsistent throws kernels::Error naming the
// file and the field.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "kernels/rope_freqs.h"

namespace janus::llm {

struct ModelConfig {
  std::string path;        // the config.json this came from (for error messages)
  std::string model_type;  // llama | qwen2 | deepseek_v3 | deepseek_v2

  int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0;
  int64_t num_attention_heads = 0, num_key_value_heads = 0, head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v bias (Qwen2 always)
  bool attention_out_bias = false;
  bool mlp_bias = false;
  kernels::RopeParams rope;
  kernels::RopeStyle rope_style = kernels::RopeStyle::kHalf;

  // MLA (DeepSeek V2/V3)
  bool mla = false;
  int64_t q_lora_rank = 0;  // 0: no query compression (single q_proj)
  int64_t kv_lora_rank = 0, qk_nope_head_dim = 0, qk_rope_head_dim = 0, v_head_dim = 0;

  // MoE (DeepSeek V2/V3); n_routed_experts == 0 means dense everywhere
  int64_t n_routed_experts = 0, n_shared_experts = 0, moe_intermediate_size = 0;
  int64_t first_k_dense_replace = 0, moe_layer_freq = 1;
  kernels::MoeRouting routing;
  bool router_bias = false;  // e_score_correction_bias present (topk_method noaux_tc)

  int64_t num_nextn_predict_layers = 0;  // MTP modules stored after the main layers

  // FP8 block quantisation (quantization_config)
  bool fp8 = false;
  int64_t fp8_block_n = 128, fp8_block_k = 128;

  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;

  float attn_scale = 0.0f;  // softmax scale (YaRN mscale² included for MLA)

  bool is_moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % moe_layer_freq == 0;
  }
};

ModelConfig load_config(const std::string& config_json_path);
ModelConfig parse_config(const std::string& json_text, const std::string& path_for_errors);

}  // namespace janus::llm
