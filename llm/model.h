// A decoder-only language model loaded from an HF folder (config.json + safetensors).
//
// forward() runs n tokens of one sequence at positions cache.length .. cache.length + n - 1,
// appends them to the cache and returns, as asked, the final-norm hidden states [n, H] and the
// logits [n, V] (or only the last row). Batched prefill = one forward() over the whole prompt.
// A loaded Model is immutable: concurrent sequences each use their own KvCache.
//
// MTP (DeepSeek-V3 `num_nextn_predict_layers` = 1, stored as layer L = num_hidden_layers):
// mtp_forward() takes main-model hidden states h_t (after the final norm) and the tokens
// t+1 that followed them, and predicts token t+2:
//   logits = head(norm_head(Layer(eh_proj([enorm(embed(tok_{t+1})); hnorm(h_t)]))))
// with its own cache (MTP position t ↔ (h_t, tok_{t+1})).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "llm/blocks.h"
#include "llm/config.h"
#include "llm/kv_cache.h"
#include "llm/tensor_store.h"

namespace janus::llm {

struct ForwardOutput {
  kernels::Tensor* hidden = nullptr;  // [n, H] f32, filled when non-null
  kernels::Tensor* logits = nullptr;  // [n, V] or [1, V] (last_only) f32, filled when non-null
  bool last_only = false;
};

// Where a backbone's tensors sit in a checkpoint (a multimodal model holds it below a prefix).
struct BackboneNames {
  std::string prefix = "model.";    // <prefix>embed_tokens.weight, <prefix>layers.N..., <prefix>norm.weight
  std::string lm_head = "lm_head";  // <lm_head>.weight
};

class Model {
 public:
  // Loads config.json and the weights of `dir`; every checkpoint tensor must be used. A Janus folder
  // (config.json model_type "janus" or "multi_modality", janus_config.h) loads its language model
  // alone (text_config / language_config, tensors under janus_names()): only the tensors below the
  // language model's prefix and its head must be used, the vision and generation ones are ignored.
  // Throws kernels::Error naming file and tensor.
  static std::unique_ptr<Model> load(const std::string& dir);
  // The backbone described by `config` from `store` under `names` (the store is shared; tensors
  // outside the backbone are left unmarked for the caller's own unused-tensor check).
  static std::unique_ptr<Model> load(ModelConfig config, const TensorStore& store, const BackboneNames& names);

  const ModelConfig& config() const { return config_; }
  const TensorStore& weights() const { return store_; }
  KvCache new_cache() const;
  void forward(KvCache& cache, const int64_t* ids, int64_t n, const ForwardOutput& out) const;
  // As forward(), from input embeddings [n, H] f32 instead of ids (multimodal models splice image
  // embeddings into the sequence). `embeds` is not modified.
  void forward_embeds(KvCache& cache, const kernels::Tensor& embeds, const ForwardOutput& out) const;
  // Several sequences in one pass (batched decode or prefill): sequence i's next counts[i] tokens
  // are the next counts[i] rows of embeds [Σ counts, H] f32, appended to *caches[i] (distinct
  // caches of this model). Every weight is read once for all the rows; each sequence attends to
  // its own cache only, so its rows equal a forward_embeds() of it alone (up to the GEMM's
  // rounding for a different row count). out.hidden / out.logits hold every row, or with
  // last_only each sequence's last row, in sequence order.
  void forward_embeds_batch(const std::vector<KvCache*>& caches, const kernels::Tensor& embeds,
                            const std::vector<int64_t>& counts, const ForwardOutput& out) const;
  // The token embeddings of ids [n] as a new [n, H] f32 tensor (throws for an id out of range).
  kernels::Tensor embed(const int64_t* ids, int64_t n) const;
  // logits [n, V] f32 of final-norm hidden states [n, H].
  kernels::Tensor logits(const kernels::Tensor& hidden) const;

  bool has_mtp() const { return mtp_ != nullptr; }
  KvCache new_mtp_cache() const;
  // hidden [n, H] (rows h_t), next_ids[n] (tok_{t+1}); logits [n, V].
  void mtp_forward(KvCache& mtp_cache, const kernels::Tensor& hidden, const int64_t* next_ids, int64_t n,
                   kernels::Tensor& logits) const;

  // Bytes of weights read per decoded token (all dense weights; for MoE layers only the shared
  // and top-k routed experts' share). For bandwidth figures.
  double weight_bytes_per_token() const;
  uint64_t weight_file_bytes() const { return store_.file_bytes(); }

 private:
  Model(ModelConfig c, TensorStore s) : config_(std::move(c)), store_(std::move(s)) {}
  void logits_from_hidden(const kernels::Tensor& h, kernels::Tensor& logits, const kernels::Weight& head) const;
  // Throws "<who>: embeddings <shape> <dtype>, expected [n, H] f32" unless embeds is that (n >= 1).
  void check_embeds(const kernels::Tensor& embeds, const char* who) const;
  void run_layers(const std::vector<KvCache*>& caches, const std::vector<int64_t>& counts, kernels::Tensor& x,
                  const ForwardOutput& out) const;

  ModelConfig config_;
  TensorStore store_;
  BackboneNames names_;
  kernels::Tensor embed_, final_norm_;
  kernels::Weight lm_head_;
  std::vector<DecoderLayer> layers_;
  struct Mtp {
    kernels::Tensor embed, enorm, hnorm, head_norm;
    kernels::Weight eh_proj, head;
    DecoderLayer layer;
  };
  std::unique_ptr<Mtp> mtp_;
};

}  // namespace janus::llm
