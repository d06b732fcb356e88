// Trainable attention blocks: GQA (Llama, Qwen2) and MLA in the naive form (DeepSeek V2/V3).
#include "llm/trainable_blocks.h"

namespace janus::llm {

namespace ag = kernels::ag;
using ag::Var;

ag::Var ParamRegistry::param(const std::string& name, const kernels::Shape& shape, ParamKind kind) {
  Var v = Var::leaf(source.fetch(name, shape, kind), true);
  params.push_back({name, v, true});
  return v;
}

kernels::Tensor ParamRegistry::buffer(const std::string& name, const kernels::Shape& shape) {
  kernels::Tensor t = source.fetch(name, shape, ParamKind::kBuffer);
  buffers.push_back({name, t});
  return t;
}

TrainLinear make_linear(ParamRegistry& r, const std::string& prefix, int64_t out, int64_t in, bool bias) {
  TrainLinear l;
  l.w = r.param(prefix + ".weight", {out, in}, ParamKind::kMatrix);
  if (bias) l.b = r.param(prefix + ".bias", {out}, ParamKind::kBias);
  return l;
}

namespace {

// x [N, H, D] -> [B, T, H, D]
Var to_bthd(const Var& x, const TrainContext& ctx) {
  return ag::reshape(x, {ctx.batch, ctx.seq, x.size(1), x.size(2)});
}

class TrainGqa : public TrainAttention {
 public:
  TrainGqa(const ModelConfig& c, ParamRegistry& r, const std::string& p) : c_(c), rope_(kernels::rope_table(c.rope)) {
    const int64_t H = c.hidden_size, D = c.head_dim, q = c.num_attention_heads * D, kv = c.num_key_value_heads * D;
    q_ = make_linear(r, p + "q_proj", q, H, c.attention_bias);
    k_ = make_linear(r, p + "k_proj", kv, H, c.attention_bias);
    v_ = make_linear(r, p + "v_proj", kv, H, c.attention_bias);
    o_ = make_linear(r, p + "o_proj", H, q, c.attention_out_bias);
  }

  Var forward(const Var& x, TrainContext& ctx) const override {
    const int64_t N = x.size(0), Hq = c_.num_attention_heads, Hkv = c_.num_key_value_heads, D = c_.head_dim;
    const double ms = rope_.attention_scaling;
    Var q = ag::rope(ag::reshape(q_(x, ctx.gemm), {N, Hq, D}), ctx.pos, rope_.inv_freq, 0, c_.rope_style, ms);
    Var k = ag::rope(ag::reshape(k_(x, ctx.gemm), {N, Hkv, D}), ctx.pos, rope_.inv_freq, 0, c_.rope_style, ms);
    Var v = ag::reshape(v_(x, ctx.gemm), {N, Hkv, D});
    Var o = ag::attention(to_bthd(q, ctx), to_bthd(k, ctx), to_bthd(v, ctx), c_.attn_scale, true, ctx.segments);
    return o_(ag::reshape(o, {N, Hq * D}), ctx.gemm);
  }

 private:
  const ModelConfig& c_;
  kernels::RopeTable rope_;
  TrainLinear q_, k_, v_, o_;
};

class TrainMla : public TrainAttention {
 public:
  TrainMla(const ModelConfig& c, ParamRegistry& r, const std::string& p) : c_(c), rope_(kernels::rope_table(c.rope)) {
    const int64_t H = c.hidden_size, NH = c.num_attention_heads;
    const int64_t dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim, C = c.kv_lora_rank;
    if (c.q_lora_rank > 0) {
      q_a_ = make_linear(r, p + "q_a_proj", c.q_lora_rank, H, c.attention_bias);
      q_a_norm_ = r.param(p + "q_a_layernorm.weight", {c.q_lora_rank}, ParamKind::kNorm);
      q_b_ = make_linear(r, p + "q_b_proj", NH * (dn + dr), c.q_lora_rank);
    } else {
      q_ = make_linear(r, p + "q_proj", NH * (dn + dr), H);
    }
    kv_a_ = make_linear(r, p + "kv_a_proj_with_mqa", C + dr, H, c.attention_bias);
    kv_a_norm_ = r.param(p + "kv_a_layernorm.weight", {C}, ParamKind::kNorm);
    kv_b_ = make_linear(r, p + "kv_b_proj", NH * (dn + dv), C);
    o_ = make_linear(r, p + "o_proj", H, NH * dv, c.attention_bias);
  }

  Var forward(const Var& x, TrainContext& ctx) const override {
    const int64_t N = x.size(0), NH = c_.num_attention_heads;
    const int64_t dn = c_.qk_nope_head_dim, dr = c_.qk_rope_head_dim, dv = c_.v_head_dim, C = c_.kv_lora_rank;
    const double ms = rope_.attention_scaling;
    // transformers builds q_a_layernorm / kv_a_layernorm with eps 1e-6 whatever rms_norm_eps is.
    const double eps = 1e-6;
    Var q = c_.q_lora_rank > 0 ? q_b_(ag::rms_norm(q_a_(x, ctx.gemm), q_a_norm_, eps), ctx.gemm) : q_(x, ctx.gemm);
    q = ag::rope(ag::reshape(q, {N, NH, dn + dr}), ctx.pos, rope_.inv_freq, int(dn), c_.rope_style, ms);
    Var kv = kv_a_(x, ctx.gemm);  // [N, C + dr]: latent | k_pe (shared by all heads)
    Var latent = ag::rms_norm(ag::slice(kv, 1, 0, C), kv_a_norm_, eps);
    Var kpe =
        ag::rope(ag::reshape(ag::slice(kv, 1, C, C + dr), {N, 1, dr}), ctx.pos, rope_.inv_freq, 0, c_.rope_style, ms);
    Var kvb = ag::reshape(kv_b_(latent, ctx.gemm), {N, NH, dn + dv});
    Var k_pe_heads = NH == 1 ? kpe : ag::concat(std::vector<Var>(size_t(NH), kpe), 1);
    Var k = ag::concat({ag::slice(kvb, 2, 0, dn), k_pe_heads}, 2);
    Var v = ag::slice(kvb, 2, dn, dn + dv);
    Var o = ag::attention(to_bthd(q, ctx), to_bthd(k, ctx), to_bthd(v, ctx), c_.attn_scale, true, ctx.segments);
    return o_(ag::reshape(o, {N, NH * dv}), ctx.gemm);
  }

 private:
  const ModelConfig& c_;
  kernels::RopeTable rope_;
  TrainLinear q_, q_a_, q_b_, kv_a_, kv_b_, o_;
  Var q_a_norm_, kv_a_norm_;
};

}  // namespace

std::unique_ptr<TrainAttention> make_gqa_attention(const ModelConfig& c, ParamRegistry& r, const std::string& prefix) {
  return std::make_unique<TrainGqa>(c, r, prefix);
}

std::unique_ptr<TrainAttention> make_mla_attention(const ModelConfig& c, ParamRegistry& r, const std::string& prefix) {
  return std::make_unique<TrainMla>(c, r, prefix);
}

}  // namespace janus::llm
