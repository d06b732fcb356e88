#include "llm/blocks.h"

#include <atomic>
#include <cstring>

namespace janus::llm {

using kernels::DType;
using kernels::Tensor;
using kernels::Weight;

namespace {
Tensor act(int64_t rows, int64_t cols) { return Tensor::empty({rows, cols}, DType::F32); }
std::vector<int64_t> positions(int64_t pos0, int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[size_t(i)] = pos0 + i;
  return p;
}
std::atomic<int> g_mla_mode{int(MlaAttention::Mode::kAuto)};
}  // namespace

// ---------------------------------------------------------------- GQA

GqaAttention::GqaAttention(const ModelConfig& c, Weight q, Weight k, Weight v, Weight o)
    : c_(c),
      q_(std::move(q)),
      k_(std::move(k)),
      v_(std::move(v)),
      o_(std::move(o)),
      rope_(kernels::rope_table(c.rope)) {}

KvCache::LayerShape GqaAttention::cache_shape() const {
  return {{c_.num_key_value_heads, c_.head_dim}, {c_.num_key_value_heads, c_.head_dim}, {}};
}

void GqaAttention::forward(Tensor& out, const Tensor& x, const std::vector<SeqRows>& seqs) {
  const int64_t n = x.size(0), Hq = c_.num_attention_heads, Hkv = c_.num_key_value_heads, D = c_.head_dim;
  Tensor q = act(n, Hq * D), k = act(n, Hkv * D), v = act(n, Hkv * D);
  kernels::linear(q, x, q_);
  kernels::linear(k, x, k_);
  kernels::linear(v, x, v_);
  const Tensor q3 = q.view({n, Hq, D}), k3 = k.view({n, Hkv, D}), v3 = v.view({n, Hkv, D});
  Tensor o = act(n, Hq * D);
  const Tensor o3 = o.view({n, Hq, D});
  for (const SeqRows& s : seqs) {
    const int64_t r0 = s.row0, r1 = s.row0 + s.n, S = s.pos0 + s.n;
    Tensor qs = q3.slice(0, r0, r1), ks = k3.slice(0, r0, r1), os = o3.slice(0, r0, r1);
    const auto pos = positions(s.pos0, s.n);
    kernels::rope(qs, pos.data(), rope_.inv_freq, 0, c_.rope_style, rope_.attention_scaling);
    kernels::rope(ks, pos.data(), rope_.inv_freq, 0, c_.rope_style, rope_.attention_scaling);
    s.cache->k.slice(0, s.pos0, S).copy_from(ks);
    s.cache->v.slice(0, s.pos0, S).copy_from(v3.slice(0, r0, r1));
    kernels::attention(os, qs, s.cache->k.slice(0, 0, S), s.cache->v.slice(0, 0, S), c_.attn_scale, s.pos0);
  }
  kernels::linear(out, o, o_);
}

// ---------------------------------------------------------------- MLA

MlaAttention::MlaAttention(const ModelConfig& c, Weights w)
    : c_(c), w_(std::move(w)), rope_(kernels::rope_table(c.rope)) {}

void MlaAttention::set_mode(Mode m) { g_mla_mode = int(m); }

KvCache::LayerShape MlaAttention::cache_shape() const { return {{}, {}, {c_.kv_lora_rank + c_.qk_rope_head_dim}}; }

void MlaAttention::forward(Tensor& out, const Tensor& x, const std::vector<SeqRows>& seqs) {
  const int64_t n = x.size(0), H = c_.num_attention_heads, dn = c_.qk_nope_head_dim, dr = c_.qk_rope_head_dim;
  const int64_t dv = c_.v_head_dim, C = c_.kv_lora_rank;
  // transformers builds q_a_layernorm / kv_a_layernorm with its default eps (1e-6), whatever
  // rms_norm_eps says (it differs for Moonlight: 1e-5).
  const float eps = 1e-6f;
  // Queries: [n, H, dn + dr], RoPE on the last dr dims of each head.
  Tensor q = act(n, H * (dn + dr));
  if (c_.q_lora_rank > 0) {
    Tensor cq = act(n, c_.q_lora_rank);
    kernels::linear(cq, x, w_.q_a);
    kernels::rms_norm(cq, cq, w_.q_a_norm, eps);
    kernels::linear(q, cq, w_.q_b);
  } else {
    kernels::linear(q, x, w_.q);
  }
  const Tensor q3 = q.view({n, H, dn + dr});
  // Latent: kv_norm(latent) | rope(k_pe), appended to each sequence's cache.
  Tensor kv = act(n, C + dr);
  kernels::linear(kv, x, w_.kv_a);
  Tensor latent = kv.slice(1, 0, C);
  kernels::rms_norm(latent, latent, w_.kv_a_norm, eps);
  const Tensor kpe = kv.view({n, 1, C + dr});
  Tensor o = act(n, H * dv);
  const Tensor o3 = o.view({n, H, dv});
  const Mode mode = Mode(g_mla_mode.load());
  for (const SeqRows& s : seqs) {
    const int64_t r0 = s.row0, r1 = s.row0 + s.n, S = s.pos0 + s.n;
    Tensor qs = q3.slice(0, r0, r1), ks = kpe.slice(0, r0, r1), os = o3.slice(0, r0, r1);
    const auto pos = positions(s.pos0, s.n);
    kernels::rope(qs, pos.data(), rope_.inv_freq, int(dn), c_.rope_style, rope_.attention_scaling);
    kernels::rope(ks, pos.data(), rope_.inv_freq, int(C), c_.rope_style, rope_.attention_scaling);
    s.cache->latent.slice(0, s.pos0, S).copy_from(kv.slice(0, r0, r1));
    const Tensor lat_cache = s.cache->latent.slice(0, 0, S);
    const bool absorbed = mode == Mode::kAbsorbed || (mode == Mode::kAuto && s.n <= kAbsorbedMaxTokens);
    if (absorbed) {
      kernels::mla_attention_absorbed(os, qs.slice(2, 0, dn), qs.slice(2, dn, dn + dr), lat_cache, w_.kv_b,
                                      c_.attn_scale, s.pos0);
    } else {
      // Naive form: expand every cached latent into per-head keys and values.
      Tensor kvb = act(S, H * (dn + dv));
      kernels::linear(kvb, lat_cache.slice(1, 0, C), w_.kv_b);
      Tensor kvb3 = kvb.view({S, H, dn + dv});
      Tensor k = Tensor::empty({S, H, dn + dr}, DType::F32);
      k.slice(2, 0, dn).copy_from(kvb3.slice(2, 0, dn));
      for (int64_t h = 0; h < H; ++h) k.slice(2, dn, dn + dr).select(1, h).copy_from(lat_cache.slice(1, C, C + dr));
      kernels::attention(os, qs, k, kvb3.slice(2, dn, dn + dv), c_.attn_scale, s.pos0);
    }
  }
  kernels::linear(out, o, w_.o);
}

// ---------------------------------------------------------------- FFN

DenseMlp::DenseMlp(Weight gate, Weight up, Weight down)
    : gate_(std::move(gate)), up_(std::move(up)), down_(std::move(down)) {}

void DenseMlp::forward(Tensor& out, const Tensor& x) {
  const int64_t n = x.size(0), I = gate_.out_features();
  Tensor g = act(n, I), u = act(n, I);
  kernels::linear(g, x, gate_);
  kernels::linear(u, x, up_);
  kernels::silu_mul(g, g, u);
  kernels::linear(out, g, down_);
}

MoeFfn::MoeFfn(const ModelConfig& c, Weight router, Tensor router_bias, std::vector<std::unique_ptr<DenseMlp>> experts,
               std::unique_ptr<DenseMlp> shared)
    : c_(c),
      router_(std::move(router)),
      bias_(std::move(router_bias)),
      experts_(std::move(experts)),
      shared_(std::move(shared)) {}

void MoeFfn::forward(Tensor& out, const Tensor& x) {
  const int64_t n = x.size(0), Hd = x.size(1), E = int64_t(experts_.size()), K = c_.routing.top_k;
  Tensor logits = act(n, E);
  kernels::linear(logits, x, router_);
  Tensor ids = Tensor::empty({n, K}, DType::I32), w = Tensor::empty({n, K}, DType::F32);
  kernels::moe_route(ids, w, logits, bias_, c_.routing);
  // Group (token, slot) pairs by expert; experts run in ascending order, as transformers does.
  std::vector<std::vector<int64_t>> slots(static_cast<size_t>(E));
  for (int64_t i = 0; i < n * K; ++i) slots[size_t(ids.data<int32_t>()[i])].push_back(i);
  load_.assign(size_t(E), 0);
  std::memset(out.raw(), 0, size_t(n * Hd) * 4);
  const int64_t xs = x.strides()[0], os = out.strides()[0];
  for (int64_t e = 0; e < E; ++e) {
    const auto& s = slots[size_t(e)];
    const int64_t m = int64_t(s.size());
    load_[size_t(e)] = m;
    if (!m) continue;
    Tensor xe = act(m, Hd), ye = act(m, Hd);
    for (int64_t r = 0; r < m; ++r)
      std::memcpy(xe.data<float>() + r * Hd, x.data<float>() + (s[size_t(r)] / K) * xs, size_t(Hd) * 4);
    experts_[size_t(e)]->forward(ye, xe);
    for (int64_t r = 0; r < m; ++r) {
      const float wt = w.data<float>()[s[size_t(r)]];
      float* o = out.data<float>() + (s[size_t(r)] / K) * os;
      const float* y = ye.data<float>() + r * Hd;
      for (int64_t j = 0; j < Hd; ++j) o[j] += y[j] * wt;
    }
  }
  if (shared_) {
    Tensor ys = act(n, Hd);
    shared_->forward(ys, x);
    kernels::add(out, out, ys);
  }
}

// ---------------------------------------------------------------- layer

void DecoderLayer::forward(Tensor& x, const std::vector<SeqRows>& seqs) const {
  const int64_t n = x.size(0), Hd = x.size(1);
  Tensor h = act(n, Hd), y = act(n, Hd);
  kernels::rms_norm(h, x, input_norm, eps);
  attn->forward(y, h, seqs);
  kernels::add(x, x, y);
  kernels::rms_norm(h, x, post_attention_norm, eps);
  ffn->forward(y, h);
  kernels::add(x, x, y);
}

}  // namespace janus::llm
