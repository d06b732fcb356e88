#include "vision/trainable_vq.h"

#include <cmath>
#include <limits>

namespace janus::vision {

namespace ag = kernels::ag;
using ag::Var;
using kernels::Conv2dOptions;
using kernels::Error;
using kernels::Tensor;

namespace {

std::string str(int64_t i) { return std::to_string(i); }

const Conv2dOptions kSame = Conv2dOptions::symmetric(1, 1);
const Conv2dOptions kPointwise = Conv2dOptions{};
const Conv2dOptions kDown = Conv2dOptions{2, 0, 1, 0, 1};  // F.pad(x, (0, 1, 0, 1)) + stride 2

Var conv(const Var& x, const ParamMaker::Linear& c, const Conv2dOptions& opt) { return ag::conv2d(x, c.w, c.b, opt); }

// [B, E, h, w] ↔ rows [B·h·w, E] (row-major over the grid).
Var nchw_to_rows(const Var& x) {
  const int64_t B = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
  return ag::reshape(ag::transpose(ag::reshape(x, {B, C, P}), 1, 2), {B * P, C});
}
Var rows_to_nchw(const Var& r, int64_t B, int64_t h, int64_t w) {
  const int64_t C = r.size(1);
  return ag::reshape(ag::transpose(ag::reshape(r, {B, h * w, C}), 1, 2), {B, C, h, w});
}

}  // namespace

TrainVqModel::ResBlock TrainVqModel::make_res(ParamMaker& pm, const std::string& p, int64_t in, int64_t out) const {
  ResBlock r;
  r.n1_w = pm.make(p + "norm1.weight", {in}, InitKind::kNormWeight);
  r.n1_b = pm.make(p + "norm1.bias", {in}, InitKind::kBias);
  r.conv1 = pm.conv(p + "conv1", out, in, 3);
  r.n2_w = pm.make(p + "norm2.weight", {out}, InitKind::kNormWeight);
  r.n2_b = pm.make(p + "norm2.bias", {out}, InitKind::kBias);
  r.conv2 = pm.conv(p + "conv2", out, out, 3);
  if (in != out) r.nin = pm.conv(p + "nin_shortcut", out, in, 1);
  return r;
}

TrainVqModel::AttnBlock TrainVqModel::make_attn(ParamMaker& pm, const std::string& p, int64_t c) const {
  AttnBlock a;
  a.n_w = pm.make(p + "norm.weight", {c}, InitKind::kNormWeight);
  a.n_b = pm.make(p + "norm.bias", {c}, InitKind::kBias);
  a.q = pm.conv(p + "q", c, c, 1);
  a.k = pm.conv(p + "k", c, c, 1);
  a.v = pm.conv(p + "v", c, c, 1);
  a.proj = pm.conv(p + "proj_out", c, c, 1);
  return a;
}

TrainVqModel::TrainVqModel(const VqConfig& cfg, ParamMaker& pm, const std::string& prefix, bool with_encoder)
    : cfg_(cfg) {
  const int64_t n = cfg.num_levels(), base = cfg.base_channels;
  if (n < 1) throw Error("TrainVqModel: channel_multiplier is empty");
  const int64_t top = base * cfg.channel_multiplier.back();
  if (with_encoder) {
    const std::string e = prefix + "encoder.";
    enc_in_ = pm.conv(e + "conv_in", base, cfg.in_channels, 3);
    int64_t block_in = base;
    for (int64_t i = 0; i < n; ++i) {
      const std::string l = e + "down." + str(i) + ".";
      const int64_t block_out = base * cfg.channel_multiplier[size_t(i)];
      Level L;
      for (int64_t j = 0; j < cfg.num_res_blocks; ++j) {
        L.res.push_back(make_res(pm, l + "block." + str(j) + ".", block_in, block_out));
        block_in = block_out;
        if (i == n - 1) L.attn.push_back(make_attn(pm, l + "attn." + str(j) + ".", block_in));
      }
      if (i != n - 1) L.resample = pm.conv(l + "downsample.conv", block_in, block_in, 3);
      enc_levels_.push_back(std::move(L));
    }
    enc_mid1_ = make_res(pm, e + "mid.block_1.", block_in, block_in);
    enc_mid_attn_ = make_attn(pm, e + "mid.attn_1.", block_in);
    enc_mid2_ = make_res(pm, e + "mid.block_2.", block_in, block_in);
    enc_norm_w_ = pm.make(e + "norm_out.weight", {block_in}, InitKind::kNormWeight);
    enc_norm_b_ = pm.make(e + "norm_out.bias", {block_in}, InitKind::kBias);
    enc_out_ = pm.conv(e + "conv_out", cfg.latent_channels, block_in, 3);
    quant_conv_ = pm.conv(prefix + "quant_conv", cfg.embed_dim, cfg.latent_channels, 1);
  }
  codebook_ = pm.make(prefix + "quantize.embedding.weight", {cfg.num_embeddings, cfg.embed_dim}, InitKind::kEmbedding);
  post_quant_conv_ = pm.conv(prefix + "post_quant_conv", cfg.latent_channels, cfg.embed_dim, 1);
  const std::string d = prefix + "decoder.";
  dec_in_ = pm.conv(d + "conv_in", top, cfg.latent_channels, 3);
  dec_mid1_ = make_res(pm, d + "mid.block_1.", top, top);
  dec_mid_attn_ = make_attn(pm, d + "mid.attn_1.", top);
  dec_mid2_ = make_res(pm, d + "mid.block_2.", top, top);
  int64_t block_in = top;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t level = n - 1 - i, block_out = base * cfg.channel_multiplier[size_t(level)];
    const std::string l = d + "up." + str(i) + ".";
    Level L;
    for (int64_t j = 0; j < cfg.num_res_blocks + 1; ++j) {
      L.res.push_back(make_res(pm, l + "block." + str(j) + ".", block_in, block_out));
      block_in = block_out;
      if (level == n - 1) L.attn.push_back(make_attn(pm, l + "attn." + str(j) + ".", block_in));
    }
    if (level != 0) L.resample = pm.conv(l + "upsample.conv", block_in, block_in, 3);
    dec_levels_.push_back(std::move(L));
  }
  dec_norm_w_ = pm.make(d + "norm_out.weight", {block_in}, InitKind::kNormWeight);
  dec_norm_b_ = pm.make(d + "norm_out.bias", {block_in}, InitKind::kBias);
  dec_out_ = pm.conv(d + "conv_out", cfg.out_channels, block_in, 3);
}

Var TrainVqModel::res_forward(const Var& x, const ResBlock& r) const {
  Var h = ag::silu(ag::group_norm(x, r.n1_w, r.n1_b, cfg_.norm_groups, cfg_.norm_eps));
  h = conv(h, r.conv1, kSame);
  h = ag::silu(ag::group_norm(h, r.n2_w, r.n2_b, cfg_.norm_groups, cfg_.norm_eps));
  h = conv(h, r.conv2, kSame);
  return ag::add(r.nin.w.defined() ? conv(x, r.nin, kPointwise) : x, h);
}

// Single-head attention over the h·w positions, scale C^-1/2, 1×1 convs as linears on rows.
Var TrainVqModel::attn_forward(const Var& x, const AttnBlock& a) const {
  const int64_t B = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
  Var t = nchw_to_rows(ag::group_norm(x, a.n_w, a.n_b, cfg_.norm_groups, cfg_.norm_eps));
  auto lin = [&](const ParamMaker::Linear& l, const Var& in) { return ag::linear(in, ag::reshape(l.w, {C, C}), l.b); };
  Var q = ag::reshape(lin(a.q, t), {B, P, 1, C}), k = ag::reshape(lin(a.k, t), {B, P, 1, C});
  Var v = ag::reshape(lin(a.v, t), {B, P, 1, C});
  Var o = lin(a.proj, ag::reshape(ag::attention(q, k, v, 1.0 / std::sqrt(double(C)), false), {B * P, C}));
  return ag::add(x, rows_to_nchw(o, B, x.size(2), x.size(3)));
}

Var TrainVqModel::encode_latents(const Var& pixels) const {
  if (enc_levels_.empty()) throw Error("TrainVqModel: built without the encoder");
  const int64_t f = cfg_.downsample_factor();
  if (!pixels.defined() || pixels.value().dim() != 4 || pixels.size(1) != cfg_.in_channels || pixels.size(2) == 0 ||
      pixels.size(3) == 0 || pixels.size(2) % f != 0 || pixels.size(3) % f != 0)
    throw Error("TrainVqModel: pixels " + (pixels.defined() ? kernels::shape_str(pixels.shape()) : "undefined") +
                ", expected [B, " + str(cfg_.in_channels) + ", H, W] with H, W multiples of " + str(f));
  Var x = conv(pixels, enc_in_, kSame);
  for (const Level& L : enc_levels_) {
    for (size_t j = 0; j < L.res.size(); ++j) {
      x = res_forward(x, L.res[j]);
      if (!L.attn.empty()) x = attn_forward(x, L.attn[j]);
    }
    if (L.resample.w.defined()) x = conv(x, L.resample, kDown);
  }
  x = res_forward(attn_forward(res_forward(x, enc_mid1_), enc_mid_attn_), enc_mid2_);
  x = ag::silu(ag::group_norm(x, enc_norm_w_, enc_norm_b_, cfg_.norm_groups, cfg_.norm_eps));
  return conv(conv(x, enc_out_, kSame), quant_conv_, kPointwise);
}

Var TrainVqModel::normed_latents(const Var& latents) const {
  if (!latents.defined() || latents.value().dim() != 4 || latents.size(1) != cfg_.embed_dim)
    throw Error("TrainVqModel::quantize: latents " +
                (latents.defined() ? kernels::shape_str(latents.shape()) : "undefined") + ", expected [B, " +
                str(cfg_.embed_dim) + ", h, w]");
  return ag::l2_normalize(nchw_to_rows(latents), 1e-12);
}

TrainVqModel::Quantized TrainVqModel::quantize(const Var& latents) const {
  Quantized out;
  out.z_normed = normed_latents(latents);
  const int64_t B = latents.size(0), h = latents.size(2), w = latents.size(3), E = cfg_.embed_dim;
  const int64_t V = cfg_.num_embeddings;
  Var cb = ag::l2_normalize(codebook_, 1e-12);
  // Nearest normalised code (in double, first minimum as torch.argmin): not differentiated.
  const std::vector<float> z = out.z_normed.value().to_f32_vector(), e = cb.value().to_f32_vector();
  std::vector<double> e_sq(size_t(V), 0.0);
  for (int64_t r = 0; r < V; ++r)
    for (int64_t d = 0; d < E; ++d) e_sq[size_t(r)] += double(e[size_t(r * E + d)]) * e[size_t(r * E + d)];
  const int64_t M = B * h * w;
  out.codes.resize(size_t(M));
  for (int64_t i = 0; i < M; ++i) {
    double best = std::numeric_limits<double>::infinity();
    int64_t arg = 0;
    for (int64_t r = 0; r < V; ++r) {
      double dot = 0;
      for (int64_t d = 0; d < E; ++d) dot += double(z[size_t(i * E + d)]) * e[size_t(r * E + d)];
      const double dist = e_sq[size_t(r)] - 2 * dot;  // ‖ẑ‖² is common to every code
      if (dist < best) best = dist, arg = r;
    }
    out.codes[size_t(i)] = arg;
  }
  out.q = ag::gather_rows(cb, out.codes);
  Var st = ag::add(out.z_normed, ag::detach(ag::sub(out.q, out.z_normed)));
  out.z_st = rows_to_nchw(st, B, h, w);
  return out;
}

Var TrainVqModel::decode_latents(const Var& latents) const {
  if (!latents.defined() || latents.value().dim() != 4 || latents.size(1) != cfg_.embed_dim)
    throw Error("TrainVqModel::decode_latents: latents " +
                (latents.defined() ? kernels::shape_str(latents.shape()) : "undefined") + ", expected [B, " +
                str(cfg_.embed_dim) + ", h, w]");
  Var x = conv(conv(latents, post_quant_conv_, kPointwise), dec_in_, kSame);
  x = res_forward(attn_forward(res_forward(x, dec_mid1_), dec_mid_attn_), dec_mid2_);
  for (const Level& L : dec_levels_) {
    for (size_t j = 0; j < L.res.size(); ++j) {
      x = res_forward(x, L.res[j]);
      if (!L.attn.empty()) x = attn_forward(x, L.attn[j]);
    }
    if (L.resample.w.defined()) x = conv(ag::upsample_nearest2x(x), L.resample, kSame);
  }
  x = ag::silu(ag::group_norm(x, dec_norm_w_, dec_norm_b_, cfg_.norm_groups, cfg_.norm_eps));
  return conv(x, dec_out_, kSame);
}

Var TrainVqModel::decode(const std::vector<int64_t>& codes, int64_t batch, int64_t gh, int64_t gw) const {
  if (batch <= 0 || gh <= 0 || gw <= 0 || int64_t(codes.size()) != batch * gh * gw)
    throw Error("TrainVqModel::decode: " + str(int64_t(codes.size())) + " codes for B=" + str(batch) + " on a " +
                str(gh) + "x" + str(gw) + " grid");
  Var q = ag::embedding(ag::l2_normalize(codebook_, 1e-12), codes);  // throws for a code out of range
  return decode_latents(rows_to_nchw(q, batch, gh, gw));
}

VqLosses vq_tokenizer_losses(const TrainVqModel& m, const Var& pixels, const VqLossOptions& o) {
  VqLosses l;
  const Var latents = m.encode_latents(pixels);
  TrainVqModel::Quantized qz = m.quantize(latents);
  l.codes = qz.codes;
  l.z_normed = qz.z_normed;
  l.reconstruction_image = m.decode_latents(
      o.quantize ? qz.z_st : rows_to_nchw(qz.z_normed, latents.size(0), latents.size(2), latents.size(3)));
  l.reconstruction = ag::mean(ag::square(ag::sub(l.reconstruction_image, pixels)));
  l.codebook = ag::mean(ag::square(ag::sub(qz.q, ag::detach(qz.z_normed))));
  l.commitment = ag::scale(ag::mean(ag::square(ag::sub(ag::detach(qz.q), qz.z_normed))), o.beta);
  l.total = ag::add(ag::scale(l.reconstruction, o.reconstruction_weight), ag::scale(l.codebook, o.codebook_weight));
  if (o.quantize) l.total = ag::add(l.total, l.commitment);
  return l;
}

}  // namespace janus::vision
