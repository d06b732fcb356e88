// DeepSeek-V3/R1 and V2: MLA attention, dense first layers, then MoE with shared experts.
// Checkpoint names as released (per-expert tensors); transformers-5 fused experts
// (`mlp.experts.gate_up_proj` [E, 2I, H], `mlp.experts.down_proj` [E, H, I]) are read as views.
#include "llm/architectures.h"
#include "llm/weights.h"

namespace janus::llm {

namespace {

std::unique_ptr<DenseMlp> load_mlp(const TensorStore& s, const std::string& p, int64_t H, int64_t I) {
  kernels::Weight gate = load_linear(s, p + "gate_proj", I, H);  // in order: first bad tensor is reported
  kernels::Weight up = load_linear(s, p + "up_proj", I, H);
  kernels::Weight down = load_linear(s, p + "down_proj", H, I);
  return std::make_unique<DenseMlp>(std::move(gate), std::move(up), std::move(down));
}

kernels::Weight view_weight(const kernels::Tensor& t) {
  kernels::Weight w;
  w.w = t;
  return w;
}

std::vector<std::unique_ptr<DenseMlp>> load_experts(const ModelConfig& c, const TensorStore& s, const std::string& p) {
  const int64_t E = c.n_routed_experts, H = c.hidden_size, I = c.moe_intermediate_size;
  std::vector<std::unique_ptr<DenseMlp>> experts;
  if (s.has(p + "experts.gate_up_proj")) {  // fused layout
    kernels::Tensor gu = s.get(p + "experts.gate_up_proj", {E, 2 * I, H});
    kernels::Tensor dn = s.get(p + "experts.down_proj", {E, H, I});
    for (int64_t e = 0; e < E; ++e) {
      kernels::Tensor g = gu.select(0, e);
      experts.push_back(std::make_unique<DenseMlp>(view_weight(g.slice(0, 0, I)), view_weight(g.slice(0, I, 2 * I)),
                                                   view_weight(dn.select(0, e))));
    }
    return experts;
  }
  for (int64_t e = 0; e < E; ++e) experts.push_back(load_mlp(s, p + "experts." + std::to_string(e) + ".", H, I));
  return experts;
}

}  // namespace

DecoderLayer build_deepseek_layer(const ModelConfig& c, const TensorStore& s, const std::string& p, int64_t layer) {
  const int64_t H = c.hidden_size, NH = c.num_attention_heads;
  const int64_t dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim, C = c.kv_lora_rank;
  DecoderLayer l;
  l.eps = float(c.rms_norm_eps);
  l.input_norm = load_vector(s, p + ".input_layernorm.weight", H);
  l.post_attention_norm = load_vector(s, p + ".post_attention_layernorm.weight", H);
  const std::string a = p + ".self_attn.";
  MlaAttention::Weights w;
  if (c.q_lora_rank > 0) {
    w.q_a = load_linear(s, a + "q_a_proj", c.q_lora_rank, H, c.attention_bias);
    w.q_a_norm = load_vector(s, a + "q_a_layernorm.weight", c.q_lora_rank);
    w.q_b = load_linear(s, a + "q_b_proj", NH * (dn + dr), c.q_lora_rank);
  } else {
    w.q = load_linear(s, a + "q_proj", NH * (dn + dr), H);
  }
  w.kv_a = load_linear(s, a + "kv_a_proj_with_mqa", C + dr, H, c.attention_bias);
  w.kv_a_norm = load_vector(s, a + "kv_a_layernorm.weight", C);
  w.kv_b = load_linear(s, a + "kv_b_proj", NH * (dn + dv), C);
  w.o = load_linear(s, a + "o_proj", H, NH * dv, c.attention_bias);
  l.attn = std::make_unique<MlaAttention>(c, std::move(w));

  const std::string m = p + ".mlp.";
  if (!c.is_moe_layer(layer)) {
    l.ffn = load_mlp(s, m, H, c.intermediate_size);
    return l;
  }
  kernels::Weight router = load_linear(s, m + "gate", c.n_routed_experts, H);
  kernels::Tensor bias;
  if (c.router_bias) bias = load_vector(s, m + "gate.e_score_correction_bias", c.n_routed_experts);
  std::unique_ptr<DenseMlp> shared;
  if (c.n_shared_experts > 0)
    shared = load_mlp(s, m + "shared_experts.", H, c.moe_intermediate_size * c.n_shared_experts);
  l.ffn = std::make_unique<MoeFfn>(c, std::move(router), std::move(bias), load_experts(c, s, m), std::move(shared));
  return l;
}

}  // namespace janus::llm
