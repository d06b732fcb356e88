// TrainableModel: a text backbone (llama, qwen2, deepseek_v3, deepseek_v2) whose parameters are
// f32 autograd leaves, so one forward + kernels::ag::backward() gives every parameter's gradient.
//
// Parameters
// - Named exactly as the HF checkpoint (released per-expert naming for MoE experts, MTP module at
//   model.layers.<num_hidden_layers>.*), so params() names are safetensors names. Order: creation
//   order (embedding, layers in order, final norm, lm_head, MTP), deterministic.
// - from_checkpoint(): any stored dtype (f32, bf16, f16) becomes an f32 master copy; fp8 e4m3
//   weights are dequantised with their 128×128 weight_scale_inv; transformers-5 fused experts
//   (experts.gate_up_proj / experts.down_proj) are split per expert. Every checkpoint tensor
//   must be used (else kernels::Error naming them). Tied embeddings (tie_word_embeddings, no
//   lm_head.weight) are one parameter. The MTP module's stored copies of the embedding and head
//   (model.layers.L.embed_tokens / shared_head.head) must equal the main ones and are tied to
//   them (DeepSeek-V3 shares them), so they are not separate parameters.
// - random(): seeded N(0, init_std) for matrices and embeddings, 1 for norm weights, 0 for
//   biases and correction biases; a SplitMix64 + Box-Muller stream, same on every platform.
// - buffers(): the DeepSeek-V3 `e_score_correction_bias` of every MoE layer ([E] f32, main
//   layers then MTP). Not trained by gradient; update them with moe_balance.h.
//
// forward(ids [B·T] row-major, B, T):
// - logits [B·T, V]: row b·T + t predicts token t+1 of row b.
// - mtp_logits [B·(T-1), V] (has_mtp()): row b·(T-1) + t predicts token t+2, from the MTP module
//   fed with h_t (main hidden state AFTER the final norm) and embed(token t+1):
//   head(shared_head.norm(Layer(eh_proj([enorm(embed(tok_{t+1})); hnorm(h_t)])))), positions as
//   the main model's. Loss targets for it: mtp_targets().
// - Attention is causal; with `segments` ([B·T] ids, packing) a token sees only earlier tokens of
//   its own segment and RoPE positions restart at 0 at every segment start.
// - MoE (DeepSeek): router logits (fp32) → sigmoid (V3) / softmax (V2) scores; the selection
//   (scores + e_score_correction_bias, group-limited top-k) is not differentiated; the combine
//   weights are the un-biased scores gathered at the selected experts, renormalised (V3
//   norm_topk_prob), × routed_scaling_factor — the router's gradient flows through them, as in
//   transformers. Experts run on gathered rows and scatter-add back; shared experts on all rows.
// - expert_load[l][e]: tokens routed to expert e by MoE layer l (main MoE layers in order, then
//   the MTP's) in this forward. balance_loss (when options.seq_balance_alpha > 0): the
//   sequence-wise balance loss α·Σ_l mean_s Σ_i f_i P_i (DeepSeek-V3 eqs. 17-20; f_i from the
//   actual routed top-K, sequences = batch rows, or (row, segment) when packing).
// Errors: kernels::Error for bad shapes / ids (naming what was expected and found).
// Not thread-safe (one graph per thread); the model may be moved, not copied.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"
#include "llm/config.h"
#include "llm/trainable_blocks.h"

namespace janus::llm {

struct TrainForwardOptions {
  const std::vector<int32_t>* segments = nullptr;                       // [B·T] packing segment ids, or null
  double seq_balance_alpha = 0.0;                                       // > 0: compute balance_loss with this α
  kernels::ag::GemmPrecision gemm = kernels::ag::GemmPrecision::kFull;  // not lm_head / router
};

struct TrainForwardResult {
  kernels::ag::Var logits;                        // [B·T, V]
  kernels::ag::Var mtp_logits;                    // [B·(T-1), V] or undefined
  kernels::ag::Var balance_loss;                  // [1] or undefined
  std::vector<std::vector<int64_t>> expert_load;  // [moe layers][E]
};

class TrainableModel {
 public:
  static TrainableModel from_checkpoint(const std::string& dir);
  static TrainableModel random(const ModelConfig& config, uint64_t seed, double init_std = 0.02);
  TrainableModel(TrainableModel&&) noexcept;
  TrainableModel& operator=(TrainableModel&&) noexcept;
  ~TrainableModel();

  const ModelConfig& config() const;
  kernels::ag::ParamList& params();
  const kernels::ag::ParamList& params() const;
  std::vector<NamedBuffer>& buffers();
  bool has_mtp() const;
  int64_t num_moe_layers() const;  // including the MTP's

  TrainForwardResult forward(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                             const TrainForwardOptions& options = {}) const;

 private:
  struct Impl;
  explicit TrainableModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Targets for mtp_logits from the main next-token targets ([B·T], targets[b·T+t] = token t+1 or
// ignore): out[b·(T-1)+t] = targets[b·T+t+1] (token t+2), set to `ignore_index` where t and t+1
// lie in different segments (packing).
std::vector<int64_t> mtp_targets(const std::vector<int64_t>& targets, int64_t B, int64_t T,
                                 const std::vector<int32_t>* segments = nullptr, int64_t ignore_index = -100);

// The usual language-model training loss from one forward:
//   main = CE(logits, targets)   (mean over rows whose target != ignore_index)
//   mtp  = CE(mtp_logits, mtp_targets(targets, B, T, segments))   when the model has MTP
//   total = main + mtp_lambda · mtp (+ balance_loss when the forward computed one)
// targets [B·T]: targets[b·T+t] = the token that should follow position t, or ignore_index.
struct LmLoss {
  kernels::ag::Var total, main, mtp;  // mtp undefined without MTP
};
LmLoss lm_loss(const TrainForwardResult& forward, const std::vector<int64_t>& targets, int64_t B, int64_t T,
               double mtp_lambda, const std::vector<int32_t>* segments = nullptr, int64_t ignore_index = -100);

}  // namespace janus::llm
