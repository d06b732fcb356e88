// TrainableJanus: the Janus multimodal model with f32 autograd parameters (one forward +
// kernels::ag::backward() gives every parameter's gradient), for both image paths.
//
// Parts (parameters named as transformers' `janus` checkpoint, in this order):
//   model.language_model.{embed_tokens, layers.i.*, norm}, lm_head   text backbone (any decoder
//       layer build_train_layer() supports: Llama for Janus-Pro, DeepSeek for janus_r1)
//   model.language_model.layers.L.* (L = num_hidden_layers)         DeepSeek-V3 MTP module, when the
//       text config has num_nextn_predict_layers >= 1 (random init) or the checkpoint holds it
//       (eh_proj present); its embedding and output head are the main ones (shared, as V3).
// buffers(): the MoE layers' e_score_correction_bias (main layers, then the MTP's); update them
// with update_router_biases (llm/moe_balance.h) from JanusLoss::expert_load.
//   model.vision_model.*, model.aligner.*                          understanding (TrainSiglip + aligner)
//   model.vqmodel.*                                                VQ tokenizer (TrainVqModel)
//   model.generation_embeddings.weight, model.generation_aligner.*, model.generation_head.*
// from_checkpoint() reads either layout through JanusWeightSource (the original `multi_modality`
// names are mapped; parameters keep the transformers names). random(): seeded init (ParamMaker).
//
// Understanding (transformers JanusModel.forward): embeddings = embed_tokens(ids) with the rows of
// the image_token_id placeholders replaced, in order, by aligner(vision_model(pixels)) (image i's
// N tokens fill placeholders i·N … i·N+N−1 of the flattened batch, as masked_scatter); then the
// causal backbone; logits = lm_head(norm(h)). Loss: understanding_loss = CE over targets
// (targets[b·T+t] = token t+1 on answer positions, else −100).
// Generation (text-to-image teacher forcing): row b = P prompt tokens then the K image codes as
// inputs, embeddings [embed_tokens(prompt); generation_aligner(generation_embeddings(codes))];
// gen_logits = generation_head(norm(h)) [B·(P+K), num_codes]; generation_loss = mean CE of the
// rows b·T + P−1+k against code k (k < K): the position before each code predicts it.
// The placeholder id is config().image_token_id; the original layout's config has none (-1: the
// inference loader looks it up in the tokenizer), so set it with set_image_token_id() first.
// Losses (understanding_losses / generation_losses): main = the CE above; with an MTP module and
// mtp_lambda > 0, mtp = CE of the MTP prediction of token t+2 at each position t < T−1: the module
// is fed hnorm(h_t) (backbone output after the final norm) and enorm(x_{t+1}) where x are the
// backbone's INPUT embeddings (text embedding, image feature or generation-aligned code: the
// multimodal analogue of V3's embed(token t+1)); its output goes through the same head as the main
// loss (lm_head for understanding, generation_head for t2i), targets mtp_targets(targets).
// total = main + mtp_lambda · mtp (+ balance). balance (balance_alpha > 0 and MoE layers): the
// sequence-wise balance loss α·Σ_l mean_s Σ_i f_i P_i of DeepSeek-V3 (eqs. 17-20) over every MoE
// layer run (the MTP's included), each row one sequence — the same term TrainableModel computes
// (llm/trainable.h). expert_load: tokens per expert of each MoE layer run.
// Errors: kernels::Error naming what was expected and found (ids/pixels/placeholders mismatch,
// no image_token_id).
// Not thread-safe; the model may be moved, not copied.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"
#include "llm/janus_config.h"
#include "llm/trainable_blocks.h"
#include "vision/trainable_vq.h"

namespace janus::llm {

struct JanusLoss {
  kernels::ag::Var total, main, mtp;  // mtp undefined without an MTP module or with mtp_lambda 0
  kernels::ag::Var balance;           // undefined with balance_alpha 0 or no MoE layer
  std::vector<std::vector<int64_t>> expert_load;
};

class TrainableJanus {
 public:
  static TrainableJanus from_checkpoint(const std::string& dir);
  static TrainableJanus random(const JanusConfig& config, uint64_t seed);
  TrainableJanus(TrainableJanus&&) noexcept;
  TrainableJanus& operator=(TrainableJanus&&) noexcept;
  ~TrainableJanus();

  const JanusConfig& config() const;
  void set_image_token_id(int64_t id);
  kernels::ag::ParamList& params();
  const kernels::ag::ParamList& params() const;

  // ids [B·T] row-major; pixels [n_images, C, S, S] (undefined when ids hold no placeholder).
  // → logits [B·T, vocab].
  kernels::ag::Var forward_understanding(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                                         const kernels::ag::Var& pixels) const;
  // prompt [B·P], codes [B·K] → gen_logits [B·(P+K), num_codes].
  kernels::ag::Var forward_generation(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                      int64_t P, int64_t K) const;
  // The backbone on given input embeddings [B·T, hidden] → hidden states after the final norm.
  kernels::ag::Var backbone(const kernels::ag::Var& embeds, int64_t B, int64_t T) const;

  JanusLoss understanding_losses(const std::vector<int64_t>& ids, int64_t B, int64_t T, const kernels::ag::Var& pixels,
                                 const std::vector<int64_t>& targets, double mtp_lambda,
                                 double balance_alpha = 0.0) const;
  JanusLoss generation_losses(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                              int64_t P, int64_t K, double mtp_lambda, double balance_alpha = 0.0) const;
  // The main losses only (mtp_lambda 0).
  kernels::ag::Var understanding_loss(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                                      const kernels::ag::Var& pixels, const std::vector<int64_t>& targets) const;
  kernels::ag::Var generation_loss(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                   int64_t P, int64_t K) const;

  std::vector<NamedBuffer>& buffers();
  const std::vector<NamedBuffer>& buffers() const;
  bool has_mtp() const;
  int64_t num_moe_layers() const;  // including the MTP's

  // The VQ tokenizer (train it with vision::vq_tokenizer_losses).
  const vision::TrainVqModel& vq() const;

 private:
  kernels::ag::Var understanding_embeds(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                                        const kernels::ag::Var& pixels) const;
  kernels::ag::Var generation_embeds(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                     int64_t P, int64_t K) const;
  // Both add their MoE layers' loads to stats->expert_load and (balance_alpha > 0) their balance
  // terms to stats->balance.
  kernels::ag::Var backbone_run(const kernels::ag::Var& embeds, int64_t B, int64_t T, double balance_alpha,
                                JanusLoss* stats) const;
  kernels::ag::Var mtp_hidden(const kernels::ag::Var& hidden, const kernels::ag::Var& embeds, int64_t B, int64_t T,
                              double balance_alpha, JanusLoss* stats) const;
  JanusLoss losses(const kernels::ag::Var& embeds, int64_t B, int64_t T, const std::vector<int64_t>& targets,
                   bool generation, double mtp_lambda, double balance_alpha) const;
  struct Impl;
  explicit TrainableJanus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace janus::llm
