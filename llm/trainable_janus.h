// TrainableJanus: the Janus multimodal model with f32 autograd parameters (one forward +
// kernels::ag::backward() gives every parameter's gradient), for both image paths.
//
// Parts (parameters named as transformers' `janus` checkpoint, in this order):
//   model.language_model.{embed_tokens, layers.i.*, norm}, lm_head   text backbone (any decoder
//       layer build_train_layer() supports: Llama for Janus-Pro, DeepSeek for janus_r1; MTP weights of
//       a checkpoint are ignored and the MoE balance loss is not wired here)
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
#include "vision/trainable_vq.h"

namespace janus::llm {

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

  kernels::ag::Var understanding_loss(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                                      const kernels::ag::Var& pixels, const std::vector<int64_t>& targets) const;
  kernels::ag::Var generation_loss(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                   int64_t P, int64_t K) const;

  // The VQ tokenizer (train it with vision::vq_tokenizer_losses).
  const vision::TrainVqModel& vq() const;

 private:
  struct Impl;
  explicit TrainableJanus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace janus::llm
