// The trainable counterparts of blocks.h: the same attention (GQA, MLA naive form), feed-forward
// (dense SwiGLU, DeepSeek MoE) and pre-norm decoder layer, written over autograd Vars
// (kernels/autograd) so a backward pass reaches every parameter. Used by trainable.h; the math
// follows blocks.cpp / transformers exactly (see trainable.h for what is differentiated).
//
// Activations are [N, hidden] f32 Vars for the N = B·T tokens of a batch, rows b·T + t.
// Parameters are f32 leaf Vars registered under their checkpoint (HF) names.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"
#include "kernels/rope_freqs.h"
#include "llm/config.h"

namespace janus::llm {

// A non-gradient state tensor of the model (DeepSeek-V3 e_score_correction_bias), by name.
// `value` is a handle on the model's own buffer: writes through it change later forwards.
struct NamedBuffer {
  std::string name;
  kernels::Tensor value;
};

// What a parameter is, for random initialisation.
enum class ParamKind { kMatrix, kNorm, kBias, kBuffer };

// Supplies the f32 value of each parameter / buffer by name (checkpoint or random init).
class ParamSource {
 public:
  virtual ~ParamSource() = default;
  // A fresh, owned, contiguous f32 tensor of exactly `shape`. Throws kernels::Error naming the
  // tensor when it is missing or has another shape.
  virtual kernels::Tensor fetch(const std::string& name, const kernels::Shape& shape, ParamKind kind) = 0;
};

// Creates the leaves of a model and records them, in creation order.
struct ParamRegistry {
  ParamSource& source;
  kernels::ag::ParamList& params;
  std::vector<NamedBuffer>& buffers;
  kernels::ag::Var param(const std::string& name, const kernels::Shape& shape, ParamKind kind);
  kernels::Tensor buffer(const std::string& name, const kernels::Shape& shape);
};

// Per-forward facts shared by all layers, and what MoE layers report back.
struct TrainContext {
  int64_t batch = 0, seq = 0;     // B, T (N = B·T rows)
  std::vector<int64_t> pos;       // [N] RoPE position of each row
  std::vector<int32_t> segments;  // [N] packing segment ids, or empty
  kernels::ag::GemmPrecision gemm = kernels::ag::GemmPrecision::kFull;
  double seq_balance_alpha = 0.0;        // > 0: MoE layers add their sequence-wise balance term
  std::vector<int64_t> sequence_of_row;  // [N] balance-loss sequence index (row b, or (b, segment))
  int64_t num_sequences = 0;
  // outputs
  std::vector<std::vector<int64_t>> expert_load;  // one entry per MoE layer run, in order
  std::vector<kernels::ag::Var> balance_terms;    // one [1] term per MoE layer run
};

struct TrainLinear {
  kernels::ag::Var w, b;  // b undefined without bias
  kernels::ag::Var operator()(const kernels::ag::Var& x,
                              kernels::ag::GemmPrecision p = kernels::ag::GemmPrecision::kFull) const {
    return kernels::ag::linear(x, w, b, p);
  }
};
TrainLinear make_linear(ParamRegistry& r, const std::string& prefix, int64_t out, int64_t in, bool bias = false);

class TrainAttention {
 public:
  virtual ~TrainAttention() = default;
  virtual kernels::ag::Var forward(const kernels::ag::Var& x, TrainContext& ctx) const = 0;
};

class TrainFfn {
 public:
  virtual ~TrainFfn() = default;
  virtual kernels::ag::Var forward(const kernels::ag::Var& x, TrainContext& ctx) const = 0;
};

// GQA with RoPE (kHalf for Llama/Qwen2), optional q/k/v (and o) bias.
std::unique_ptr<TrainAttention> make_gqa_attention(const ModelConfig& c, ParamRegistry& r, const std::string& prefix);
// MLA, naive form (per-head keys and values expanded from the normalised latent).
std::unique_ptr<TrainAttention> make_mla_attention(const ModelConfig& c, ParamRegistry& r, const std::string& prefix);

// down(silu(gate(x)) * up(x)); prefix ends with '.', e.g. "model.layers.0.mlp.".
class TrainMlp : public TrainFfn {
 public:
  TrainMlp(ParamRegistry& r, const std::string& prefix, int64_t hidden, int64_t inter, bool bias);
  kernels::ag::Var forward(const kernels::ag::Var& x, TrainContext& ctx) const override;

 private:
  TrainLinear gate_, up_, down_;
};

// DeepSeek MoE (see trainable.h for the routing / gradient contract). The correction bias is a
// buffer (`<prefix>gate.e_score_correction_bias`), undefined for V2.
class TrainMoe : public TrainFfn {
 public:
  TrainMoe(const ModelConfig& c, ParamRegistry& r, const std::string& prefix);
  kernels::ag::Var forward(const kernels::ag::Var& x, TrainContext& ctx) const override;
  const kernels::Tensor& router_bias() const { return bias_; }

 private:
  const ModelConfig& c_;
  kernels::ag::Var router_;
  kernels::Tensor bias_;
  std::vector<std::unique_ptr<TrainMlp>> experts_;
  std::unique_ptr<TrainMlp> shared_;
};

struct TrainLayer {
  kernels::ag::Var input_norm, post_attention_norm;
  std::unique_ptr<TrainAttention> attn;
  std::unique_ptr<TrainFfn> ffn;
  const TrainMoe* moe = nullptr;  // ffn when it is an MoE layer
  double eps = 1e-6;
  // x + attn(norm(x)), then + ffn(norm(·)).
  kernels::ag::Var forward(const kernels::ag::Var& x, TrainContext& ctx) const;
};

// Decoder layer `prefix` (e.g. "model.layers.3") of index `layer` for any supported model_type.
TrainLayer build_train_layer(const ModelConfig& c, ParamRegistry& r, const std::string& prefix, int64_t layer);

}  // namespace janus::llm
