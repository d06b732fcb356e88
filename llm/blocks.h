// The shared building blocks every architecture assembles: attention (GQA, MLA), feed-forward
// (dense SwiGLU, DeepSeek MoE) and the pre-norm decoder layer.
//
// All forward() calls take activations x [n, hidden] f32 and write [n, hidden]. Attention and the
// decoder layer see the rows as one or more sequences (SeqRows): rows [row0, row0 + n) are the
// next n tokens of one sequence, at absolute positions pos0 … pos0 + n − 1 of its cache. The
// projections and feed-forward run once over all rows (the weights are read once for a batch of
// sequences: batched decode); RoPE, the cache append and the attention itself run per sequence.
// The single-sequence overloads are one SeqRows covering every row. Blocks own views of the
// checkpoint weights (no copies). A block is immutable after loading, so one model can serve
// several sequences from different threads as long as each has its own KvCache.
#pragma once
#include <memory>
#include <vector>

#include "kernels/ops.h"
#include "llm/config.h"
#include "llm/kv_cache.h"

namespace janus::llm {

// One sequence's rows of a (batched) forward; `cache` is its entry for the layer being run.
struct SeqRows {
  LayerCache* cache = nullptr;
  int64_t pos0 = 0, row0 = 0, n = 0;
};

class Attention {
 public:
  virtual ~Attention() = default;
  // The sequences' rows must tile x's rows in order (row0 = the previous row0 + n, from 0).
  virtual void forward(kernels::Tensor& out, const kernels::Tensor& x, const std::vector<SeqRows>& seqs) = 0;
  void forward(kernels::Tensor& out, const kernels::Tensor& x, LayerCache& cache, int64_t pos0) {
    forward(out, x, {SeqRows{&cache, pos0, 0, x.size(0)}});
  }
  virtual KvCache::LayerShape cache_shape() const = 0;
};

// Multi-head / grouped-query attention with RoPE (Llama, Qwen2).
class GqaAttention : public Attention {
 public:
  GqaAttention(const ModelConfig& c, kernels::Weight q, kernels::Weight k, kernels::Weight v, kernels::Weight o);
  using Attention::forward;
  void forward(kernels::Tensor& out, const kernels::Tensor& x, const std::vector<SeqRows>& seqs) override;
  KvCache::LayerShape cache_shape() const override;

 private:
  const ModelConfig& c_;
  kernels::Weight q_, k_, v_, o_;
  kernels::RopeTable rope_;
};

// Multi-head latent attention (DeepSeek V2/V3). Prefill of many tokens runs the "naive" form
// (per-head keys/values expanded from the latent); short chunks (decode, speculative verify)
// run the "absorbed" form directly over the latent cache. Both read the same cache; the form
// is chosen per sequence of a batch.
class MlaAttention : public Attention {
 public:
  struct Weights {
    kernels::Weight q, q_a, q_b, kv_a, kv_b, o;  // q when q_lora_rank == 0, else q_a/q_b
    kernels::Tensor q_a_norm, kv_a_norm;
  };
  enum class Mode { kAuto, kNaive, kAbsorbed };
  MlaAttention(const ModelConfig& c, Weights w);
  using Attention::forward;
  void forward(kernels::Tensor& out, const kernels::Tensor& x, const std::vector<SeqRows>& seqs) override;
  KvCache::LayerShape cache_shape() const override;
  static void set_mode(Mode m);  // testing hook: force one form (process-wide)
  static constexpr int64_t kAbsorbedMaxTokens = 8;

 private:
  const ModelConfig& c_;
  Weights w_;
  kernels::RopeTable rope_;
};

class FeedForward {
 public:
  virtual ~FeedForward() = default;
  virtual void forward(kernels::Tensor& out, const kernels::Tensor& x) = 0;
};

// down(silu(gate(x)) * up(x))
class DenseMlp : public FeedForward {
 public:
  DenseMlp(kernels::Weight gate, kernels::Weight up, kernels::Weight down);
  void forward(kernels::Tensor& out, const kernels::Tensor& x) override;

 private:
  kernels::Weight gate_, up_, down_;
};

// DeepSeek MoE: shared experts on every token + top-k routed experts weighted by the router.
class MoeFfn : public FeedForward {
 public:
  MoeFfn(const ModelConfig& c, kernels::Weight router, kernels::Tensor router_bias,
         std::vector<std::unique_ptr<DenseMlp>> experts, std::unique_ptr<DenseMlp> shared);
  void forward(kernels::Tensor& out, const kernels::Tensor& x) override;
  // Tokens routed to each expert by the last forward() (load statistics; not synchronised).
  const std::vector<int64_t>& last_load() const { return load_; }

 private:
  const ModelConfig& c_;
  kernels::Weight router_;
  kernels::Tensor bias_;
  std::vector<std::unique_ptr<DenseMlp>> experts_;
  std::unique_ptr<DenseMlp> shared_;
  std::vector<int64_t> load_;
};

struct DecoderLayer {
  kernels::Tensor input_norm, post_attention_norm;
  std::unique_ptr<Attention> attn;
  std::unique_ptr<FeedForward> ffn;
  float eps = 1e-6f;
  // x [n, H] updated in place: x += attn(norm(x)); x += ffn(norm(x)).
  void forward(kernels::Tensor& x, const std::vector<SeqRows>& seqs) const;
  void forward(kernels::Tensor& x, LayerCache& cache, int64_t pos0) const {
    forward(x, {SeqRows{&cache, pos0, 0, x.size(0)}});
  }
};

}  // namespace janus::llm
