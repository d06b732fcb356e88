// JanusModel: the Janus multimodal architecture — vision pathways spliced into a backbone.
//
//   understanding: pixels [B, 3, S, S] → SigLIP → aligner → image embeddings [B, N, H]; in the
//                  token sequence each run of N `image_token_id` placeholders is replaced by one
//                  image's embeddings, then the backbone runs on the embeddings (Model::forward_embeds).
//   generation:    backbone final hidden → gen_head → code logits; a chosen code → gen_embed →
//                  gen_aligner → the next input embedding (janus_generate.h runs the CFG loop);
//                  codes [B, n] → VQ decoder → images [B, 3, S', S'] in [-1, 1].
//
// load() reads config.json (janus_config.h, both layouts) and the weights (safetensors or
// pytorch_model*.bin, see tensor_store.h); every checkpoint tensor must be used except the
// release's dead weights (attn_pool, codebook_used). The backbone is any llm::Model architecture.
// Immutable after load; all methods are const and may run concurrently (each with its own caches).
// Errors: kernels::Error naming the folder/tensor or the bad input shape.
#pragma once
#include <memory>
#include <string>

#include "llm/janus_config.h"
#include "llm/model.h"
#include "vision/aligner.h"
#include "vision/gen_head.h"
#include "vision/siglip.h"
#include "vision/vq.h"

namespace janus::llm {

class JanusModel {
 public:
  static std::unique_ptr<JanusModel> load(const std::string& dir);

  const JanusConfig& config() const { return cfg_; }
  const Model& language_model() const { return *lm_; }
  // The placeholder id: config.json's image_token_id, else "<image_placeholder>" of the folder's
  // tokenizer.json; -1 when neither exists.
  int64_t image_token_id() const { return image_token_id_; }

  // pixels [B, 3, S, S] f32 (preprocessed) → [B, N, H] f32.
  kernels::Tensor image_embeds(const kernels::Tensor& pixels) const;
  // Input embeddings [T, H] f32 for ids[T]: token embeddings, except that the k-th run of
  // placeholder ids takes images[k] ([B, N, H]). Throws unless there are exactly B runs, each of
  // length N (an undefined `images` requires no placeholder).
  kernels::Tensor splice(const int64_t* ids, int64_t T, const kernels::Tensor& images) const;
  // Full multimodal forward of one sequence (fresh cache): hidden [T, H] and logits [T, V] as
  // asked in `out` (last_only is honoured).
  void forward(const int64_t* ids, int64_t T, const kernels::Tensor& pixels, const ForwardOutput& out) const;

  // hidden [..., H] → code logits [..., num_codes].
  kernels::Tensor gen_logits(const kernels::Tensor& hidden) const { return gen_head_.forward(hidden); }
  // codes i64 [...] → input embeddings [..., H].
  kernels::Tensor gen_embeds(const kernels::Tensor& codes) const { return gen_embed_.forward(codes); }
  // codes i64 [B, g·g] (g = vq.num_patches) → images [B, 3, g·f, g·f] f32, decoded `chunk` images
  // at a time so peak memory stays bounded (chunk >= 1).
  kernels::Tensor decode_images(const kernels::Tensor& codes, int64_t chunk = 1) const;
  // pixels [B, 3, H, W] in [-1, 1] → codes [B, (H/f)·(W/f)] i64 (L2-normalised rule, as the release).
  kernels::Tensor encode_images(const kernels::Tensor& pixels,
                                vision::QuantizeRule rule = vision::QuantizeRule::kL2Normalized) const;

 private:
  JanusModel() = default;
  JanusConfig cfg_;
  std::unique_ptr<Model> lm_;
  vision::SiglipVisionModel siglip_;
  vision::MlpAligner aligner_;
  vision::VqModel vq_;
  vision::GenEmbedding gen_embed_;
  vision::GenHead gen_head_;
  int64_t image_token_id_ = -1;
};

}  // namespace janus::llm
