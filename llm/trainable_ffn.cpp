// Trainable feed-forward blocks (dense SwiGLU, DeepSeek MoE) and the decoder layer.
#include <algorithm>

#include "kernels/autograd/ops_extra_trainllm.h"
#include "kernels/ops.h"
#include "llm/trainable_blocks.h"

namespace janus::llm {

namespace ag = kernels::ag;
using ag::Var;
using kernels::DType;
using kernels::Tensor;

// ---------------------------------------------------------------- dense

TrainMlp::TrainMlp(ParamRegistry& r, const std::string& p, int64_t hidden, int64_t inter, bool bias) {
  gate_ = make_linear(r, p + "gate_proj", inter, hidden, bias);
  up_ = make_linear(r, p + "up_proj", inter, hidden, bias);
  down_ = make_linear(r, p + "down_proj", hidden, inter, bias);
}

Var TrainMlp::forward(const Var& x, TrainContext& ctx) const {
  return down_(ag::mul(ag::silu(gate_(x, ctx.gemm)), up_(x, ctx.gemm)), ctx.gemm);
}

// ---------------------------------------------------------------- MoE

TrainMoe::TrainMoe(const ModelConfig& c, ParamRegistry& r, const std::string& p) : c_(c) {
  const int64_t H = c.hidden_size, E = c.n_routed_experts, I = c.moe_intermediate_size;
  router_ = r.param(p + "gate.weight", {E, H}, ParamKind::kMatrix);
  if (c.router_bias) bias_ = r.buffer(p + "gate.e_score_correction_bias", {E});
  for (int64_t e = 0; e < E; ++e)
    experts_.push_back(std::make_unique<TrainMlp>(r, p + "experts." + std::to_string(e) + ".", H, I, false));
  if (c.n_shared_experts > 0)
    shared_ = std::make_unique<TrainMlp>(r, p + "shared_experts.", H, I * c.n_shared_experts, false);
}

Var TrainMoe::forward(const Var& x, TrainContext& ctx) const {
  const int64_t N = x.size(0), E = c_.n_routed_experts, K = c_.routing.top_k;
  // Router in full precision (DeepSeek-V3 keeps gating in fp32 under FP8 training).
  Var logits = ag::linear(x, router_);
  const bool sigmoid = c_.routing.score == kernels::MoeRouting::Score::kSigmoid;
  Var scores = sigmoid ? ag::sigmoid(logits) : ag::softmax_last(logits);

  // Selection: the inference kernel (bias for selection only, group limit, top-k); no gradient.
  Tensor ids = Tensor::empty({N, K}, DType::I32), unused = Tensor::empty({N, K}, DType::F32);
  kernels::moe_route(ids, unused, logits.value(), bias_, c_.routing);
  std::vector<int64_t> idx(size_t(N * K));
  for (int64_t i = 0; i < N * K; ++i) idx[size_t(i)] = ids.data<int32_t>()[i];

  // Combine weights: the un-biased scores at the selected experts (gradient flows into the
  // router through them), renormalised for V3, times routed_scaling_factor.
  Var w = ag::take_along_last(scores, idx, K);  // [N, K]
  if (c_.routing.normalize) w = ag::mul_rows(w, ag::extra::reciprocal(ag::add_scalar(ag::sum_last(w), 1e-20)));
  w = ag::scale(w, c_.routing.scaling);

  // (token, slot) pairs grouped by expert, experts in ascending order.
  std::vector<std::vector<int64_t>> slots(static_cast<size_t>(E));
  for (int64_t i = 0; i < N * K; ++i) slots[size_t(idx[size_t(i)])].push_back(i);
  std::vector<int64_t> order, tokens;
  std::vector<int64_t> load(static_cast<size_t>(E));
  order.reserve(size_t(N * K));
  for (int64_t e = 0; e < E; ++e) {
    load[size_t(e)] = int64_t(slots[size_t(e)].size());
    order.insert(order.end(), slots[size_t(e)].begin(), slots[size_t(e)].end());
  }
  for (int64_t s : order) tokens.push_back(s / K);
  Var xg = ag::gather_rows(x, tokens);                                                // [N·K, H]
  Var wg = ag::reshape(ag::gather_rows(ag::reshape(w, {N * K, 1}), order), {N * K});  // [N·K]
  std::vector<Var> ys;
  int64_t off = 0;
  for (int64_t e = 0; e < E; ++e) {
    const int64_t m = load[size_t(e)];
    if (!m) continue;
    ys.push_back(experts_[size_t(e)]->forward(ag::slice(xg, 0, off, off + m), ctx));
    off += m;
  }
  Var y = ys.size() == 1 ? ys[0] : ag::concat(ys, 0);
  Var out = ag::scatter_add_rows(ag::mul_rows(y, wg), tokens, N);
  if (shared_) out = ag::add(out, shared_->forward(x, ctx));

  // Sequence-wise balance loss (DeepSeek-V3 eqs. 17-20), per sequence then averaged:
  //   α Σ_i f_i P_i,  f_i = E/(K·T_s) · count_i (routed top-K),  P_i = mean_t s_{i,t}/Σ_j s_{j,t}.
  // f is a constant; the gradient flows through P.
  if (ctx.seq_balance_alpha > 0) {
    const int64_t S = ctx.num_sequences;
    std::vector<int64_t> len(size_t(S), 0);
    std::vector<double> cnt(size_t(S * E), 0.0);
    for (int64_t t = 0; t < N; ++t) {
      const int64_t s = ctx.sequence_of_row[size_t(t)];
      ++len[size_t(s)];
      for (int64_t j = 0; j < K; ++j) cnt[size_t(s * E + idx[size_t(t * K + j)])] += 1.0;
    }
    Tensor coef = Tensor::zeros({S, E}, logits.dtype());
    for (int64_t s = 0; s < S; ++s) {
      if (!len[size_t(s)]) continue;
      const double T = double(len[size_t(s)]);
      for (int64_t e = 0; e < E; ++e) {
        const double c = ctx.seq_balance_alpha / double(S) * double(E) / (double(K) * T) * cnt[size_t(s * E + e)] / T;
        if (coef.dtype() == DType::F64)
          coef.data<double>()[s * E + e] = c;
        else
          coef.data<float>()[s * E + e] = float(c);
      }
    }
    Var sn = sigmoid ? ag::mul_rows(scores, ag::extra::reciprocal(ag::sum_last(scores))) : scores;
    Var per_seq = ag::scatter_add_rows(sn, ctx.sequence_of_row, S);  // [S, E] Σ_t s'
    ctx.balance_terms.push_back(ag::sum(ag::mul(per_seq, Var::constant(coef))));
  }
  ctx.expert_load.push_back(std::move(load));
  return out;
}

// ---------------------------------------------------------------- layer

Var TrainLayer::forward(const Var& x, TrainContext& ctx) const {
  Var h = ag::add(x, attn->forward(ag::rms_norm(x, input_norm, eps), ctx));
  return ag::add(h, ffn->forward(ag::rms_norm(h, post_attention_norm, eps), ctx));
}

TrainLayer build_train_layer(const ModelConfig& c, ParamRegistry& r, const std::string& p, int64_t layer) {
  const int64_t H = c.hidden_size;
  TrainLayer l;
  l.eps = c.rms_norm_eps;
  l.input_norm = r.param(p + ".input_layernorm.weight", {H}, ParamKind::kNorm);
  if (c.mla)
    l.attn = make_mla_attention(c, r, p + ".self_attn.");
  else
    l.attn = make_gqa_attention(c, r, p + ".self_attn.");
  l.post_attention_norm = r.param(p + ".post_attention_layernorm.weight", {H}, ParamKind::kNorm);
  if (c.is_moe_layer(layer)) {
    auto moe = std::make_unique<TrainMoe>(c, r, p + ".mlp.");
    l.moe = moe.get();
    l.ffn = std::move(moe);
  } else {
    l.ffn = std::make_unique<TrainMlp>(r, p + ".mlp.", H, c.intermediate_size, c.mlp_bias);
  }
  return l;
}

}  // namespace janus::llm
