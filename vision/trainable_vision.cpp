#include "vision/trainable_vision.h"

#include <cmath>

namespace janus::vision {

namespace ag = kernels::ag;
using ag::Var;
using kernels::DType;
using kernels::Error;
using kernels::Shape;
using kernels::Tensor;

// ---------------------------------------------------------------- parameters

double ParamMaker::normal() {
  // SplitMix64 → two uniforms in (0, 1) → Box-Muller (one value per call; simple and portable).
  auto next = [this] {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  const double u1 = (double(next() >> 11) + 0.5) / 9007199254740992.0;
  const double u2 = (double(next() >> 11) + 0.5) / 9007199254740992.0;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

Tensor ParamMaker::value(const std::string& name, const Shape& shape, InitKind kind) {
  Tensor t;
  if (src_) {
    t = get_weight_f32(*src_, name, shape);
  } else {
    t = Tensor::empty(shape, DType::F32);
    int64_t fan_in = 1;
    for (size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
    const double std = kind == InitKind::kMatrix ? 1.0 / std::sqrt(double(fan_in)) : 1.0;
    float* v = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i)
      v[i] = kind == InitKind::kNormWeight ? 1.0f : kind == InitKind::kBias ? 0.0f : float(std * normal());
  }
  return t;
}

Var ParamMaker::make(const std::string& name, const Shape& shape, InitKind kind) {
  for (const auto& p : params_)
    if (p.name == name) throw Error("ParamMaker: parameter '" + name + "' created twice");
  Var var = Var::leaf(value(name, shape, kind), true);
  params_.push_back({name, var, true});
  return var;
}

ParamMaker::Linear ParamMaker::linear(const std::string& prefix, int64_t out, int64_t in, bool bias) {
  Linear l;
  l.w = make(prefix + ".weight", {out, in}, InitKind::kMatrix);
  if (bias) l.b = make(prefix + ".bias", {out}, InitKind::kBias);
  return l;
}

ParamMaker::Linear ParamMaker::conv(const std::string& prefix, int64_t out, int64_t in, int64_t k) {
  Linear l;
  l.w = make(prefix + ".weight", {out, in, k, k}, InitKind::kMatrix);
  l.b = make(prefix + ".bias", {out}, InitKind::kBias);
  return l;
}

Var activate(const Var& x, Activation act) { return ag::gelu(x, act == Activation::kGeluTanh); }

namespace {
void check_last(const Var& x, int64_t d, const char* what) {
  if (!x.defined() || x.value().dim() < 1 || x.size(-1) != d)
    throw Error(std::string(what) + ": input " + (x.defined() ? kernels::shape_str(x.shape()) : "undefined") +
                ", expected [..., " + std::to_string(d) + "]");
}
Var rows(const Var& x, int64_t d) { return ag::reshape(x, {x.numel() / d, d}); }
Var unrows(const Var& y, Shape s, int64_t d) {
  s.back() = d;
  return ag::reshape(y, s);
}
}  // namespace

// ---------------------------------------------------------------- aligner

TrainMlpAligner::TrainMlpAligner(const MlpAlignerConfig& cfg, ParamMaker& pm, const std::string& prefix) : cfg_(cfg) {
  layers_.push_back(pm.linear(prefix + "fc1", cfg.out_dim, cfg.in_dim));
  for (int64_t i = 1; i < cfg.depth; ++i)
    layers_.push_back(pm.linear(prefix + "hidden_layers." + std::to_string(i - 1), cfg.out_dim, cfg.out_dim));
}

Var TrainMlpAligner::forward(const Var& x) const {
  if (layers_.empty()) throw Error("TrainMlpAligner: not built");
  check_last(x, cfg_.in_dim, "TrainMlpAligner");
  Var h = layers_[0](rows(x, cfg_.in_dim));
  for (size_t i = 1; i < layers_.size(); ++i) h = layers_[i](activate(h, cfg_.act));
  return unrows(h, x.shape(), cfg_.out_dim);
}

// ---------------------------------------------------------------- SigLIP

TrainSiglip::TrainSiglip(const SiglipConfig& cfg, ParamMaker& pm, const std::string& prefix) : cfg_(cfg) {
  const int64_t D = cfg.hidden_size, I = cfg.intermediate_size;
  patch_ = pm.conv(prefix + "embeddings.patch_embedding", D, cfg.num_channels, cfg.patch_size);
  pos_ = pm.make(prefix + "embeddings.position_embedding.weight", {cfg.num_patches(), D}, InitKind::kEmbedding);
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    const std::string l = prefix + "encoder.layers." + std::to_string(i) + ".";
    Layer L;
    L.ln1_w = pm.make(l + "layer_norm1.weight", {D}, InitKind::kNormWeight);
    L.ln1_b = pm.make(l + "layer_norm1.bias", {D}, InitKind::kBias);
    L.q = pm.linear(l + "self_attn.q_proj", D, D, cfg.attention_bias);
    L.k = pm.linear(l + "self_attn.k_proj", D, D, cfg.attention_bias);
    L.v = pm.linear(l + "self_attn.v_proj", D, D, cfg.attention_bias);
    L.proj = pm.linear(l + "self_attn.projection_layer", D, D);
    L.ln2_w = pm.make(l + "layer_norm2.weight", {D}, InitKind::kNormWeight);
    L.ln2_b = pm.make(l + "layer_norm2.bias", {D}, InitKind::kBias);
    L.fc1 = pm.linear(l + "mlp.fc1", I, D);
    L.fc2 = pm.linear(l + "mlp.fc2", D, I);
    layers_.push_back(std::move(L));
  }
  post_w_ = pm.make(prefix + "post_layernorm.weight", {D}, InitKind::kNormWeight);
  post_b_ = pm.make(prefix + "post_layernorm.bias", {D}, InitKind::kBias);
}

Var TrainSiglip::forward(const Var& pixels) const {
  if (!pos_.defined()) throw Error("TrainSiglip: not built");
  const int64_t S = cfg_.image_size, C = cfg_.num_channels;
  if (!pixels.defined() || pixels.value().dim() != 4 || pixels.size(1) != C || pixels.size(2) != S ||
      pixels.size(3) != S)
    throw Error("TrainSiglip: pixel_values " + (pixels.defined() ? kernels::shape_str(pixels.shape()) : "undefined") +
                ", expected [B, " + std::to_string(C) + ", " + std::to_string(S) + ", " + std::to_string(S) + "]");
  const int64_t B = pixels.size(0), N = cfg_.num_patches(), D = cfg_.hidden_size;
  const int64_t H = cfg_.num_heads, hd = cfg_.head_dim();
  // Patch embedding [B, D, G, G] → tokens [B, N, D] + learned positions (broadcast over B).
  Var g = ag::conv2d(pixels, patch_.w, patch_.b, kernels::Conv2dOptions::symmetric(int(cfg_.patch_size), 0));
  Var x = ag::transpose(ag::reshape(g, {B, D, N}), 1, 2);
  x = ag::reshape(ag::add_row(ag::reshape(x, {B, N * D}), ag::reshape(pos_, {N * D})), {B * N, D});
  const double scale = 1.0 / std::sqrt(double(hd));
  for (const Layer& L : layers_) {
    Var h = ag::layer_norm(x, L.ln1_w, L.ln1_b, cfg_.layer_norm_eps);
    Var q = ag::reshape(L.q(h), {B, N, H, hd}), k = ag::reshape(L.k(h), {B, N, H, hd});
    Var v = ag::reshape(L.v(h), {B, N, H, hd});
    x = ag::add(x, L.proj(ag::reshape(ag::attention(q, k, v, scale, false), {B * N, D})));
    h = ag::layer_norm(x, L.ln2_w, L.ln2_b, cfg_.layer_norm_eps);
    x = ag::add(x, L.fc2(activate(L.fc1(h), cfg_.act)));
  }
  return ag::reshape(ag::layer_norm(x, post_w_, post_b_, cfg_.layer_norm_eps), {B, N, D});
}

// ---------------------------------------------------------------- generation embedding / head

TrainGenEmbedding::TrainGenEmbedding(const MlpAlignerConfig& aligner, int64_t num_embeddings, ParamMaker& pm,
                                     const std::string& table_name, const std::string& aligner_prefix)
    : table_(pm.make(table_name, {num_embeddings, aligner.in_dim}, InitKind::kEmbedding)),
      aligner_(aligner, pm, aligner_prefix) {}

Var TrainGenEmbedding::forward(const std::vector<int64_t>& ids) const {
  if (!table_.defined()) throw Error("TrainGenEmbedding: not built");
  return aligner_.forward(ag::embedding(table_, ids));
}

TrainGenHead::TrainGenHead(const GenHeadConfig& cfg, ParamMaker& pm, const std::string& prefix)
    : cfg_(cfg),
      proj_out_(pm.linear(prefix + "proj_out", cfg.hidden, cfg.in_dim)),
      vision_head_(pm.linear(prefix + "vision_head", cfg.num_codes, cfg.hidden)) {}

Var TrainGenHead::forward(const Var& hidden) const {
  if (!proj_out_.w.defined()) throw Error("TrainGenHead: not built");
  check_last(hidden, cfg_.in_dim, "TrainGenHead");
  Var y = vision_head_(activate(proj_out_(rows(hidden, cfg_.in_dim)), cfg_.act));
  return unrows(y, hidden.shape(), cfg_.num_codes);
}

}  // namespace janus::vision
