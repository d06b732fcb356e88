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
  // Loaded in checkpoint order so the first bad tensor is the one reported.
  kernels::Weight q_w = load_linear(s, a + "q_proj", q, H, c.attention_bias);
  kernels::Weight k_w = load_linear(s, a + "k_proj", kv, H, c.attention_bias);
  kernels::Weight v_w = load_linear(s, a + "v_proj", kv, H, c.attention_bias);
  kernels::Weight o_w = load_linear(s, a + "o_proj", H, q, c.attention_out_bias);
  l.attn = std::make_unique<GqaAttention>(c, std::move(q_w), std::move(k_w), std::move(v_w), std::move(o_w));
  const std::string m = p + ".mlp.";
  kernels::Weight gate = load_linear(s, m + "gate_proj", c.intermediate_size, H, c.mlp_bias);
  kernels::Weight up = load_linear(s, m + "up_proj", c.intermediate_size, H, c.mlp_bias);
  kernels::Weight down = load_linear(s, m + "down_proj", H, c.intermediate_size, c.mlp_bias);
  l.ffn = std::make_unique<DenseMlp>(std::move(gate), std::move(up), std::move(down));
  return l;
}

}  // namespace janus::llm
