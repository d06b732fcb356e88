// Llama (Janus-Pro's language model, R1-Distill-Llama) and Qwen2 (R1-Distill-Qwen).
#include "llm/architectures.h"
#include "llm/weights.h"

namespace janus::llm {

DecoderLayer build_llama_layer(const ModelConfig& c, const TensorStore& s, const std::string& p, int64_t) {
  const int64_t H = c.hidden_size, D = c.head_dim, q = c.num_attention_heads * D, kv = c.num_key_value_heads * D;
  DecoderLayer l;
  l.eps = float(c.rms_norm_eps);
  l.input_norm = load_vector(s, p + ".input_layernorm.weight", H);
  l.post_attention_norm = load_vector(s, p + ".post_attention_layernorm.weight", H);
  const std::string a = p + ".self_attn.";
  l.attn = std::make_unique<GqaAttention>(c, load_linear(s, a + "q_proj", q, H, c.attention_bias),
                                          load_linear(s, a + "k_proj", kv, H, c.attention_bias),
                                          load_linear(s, a + "v_proj", kv, H, c.attention_bias),
                                          load_linear(s, a + "o_proj", H, q, c.attention_out_bias));
  const std::string m = p + ".mlp.";
  l.ffn = std::make_unique<DenseMlp>(load_linear(s, m + "gate_proj", c.intermediate_size, H, c.mlp_bias),
                                     load_linear(s, m + "up_proj", c.intermediate_size, H, c.mlp_bias),
                                     load_linear(s, m + "down_proj", H, c.intermediate_size, c.mlp_bias));
  return l;
}

}  // namespace janus::llm
