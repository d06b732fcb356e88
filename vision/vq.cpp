#include "vision/vq.h"

#include <cmath>
#include <limits>

namespace janus::vision {

using kernels::Conv2dOptions;
using kernels::DType;
using kernels::Error;
using kernels::Shape;
using kernels::Tensor;

namespace {

std::string str(int64_t i) { return std::to_string(i); }

VqModel::ResBlock load_res(const WeightSource& src, const std::string& p, int64_t in, int64_t out) {
  VqModel::ResBlock r;
  r.n1_w = get_weight(src, p + "norm1.weight", {in});
  r.n1_b = get_weight(src, p + "norm1.bias", {in});
  r.conv1 = get_conv(src, p + "conv1", out, in, 3);
  r.n2_w = get_weight(src, p + "norm2.weight", {out});
  r.n2_b = get_weight(src, p + "norm2.bias", {out});
  r.conv2 = get_conv(src, p + "conv2", out, out, 3);
  if (in != out) r.nin = get_conv(src, p + "nin_shortcut", out, in, 1);
  return r;
}

kernels::Weight conv1x1_as_linear(const WeightSource& src, const std::string& p, int64_t c) {
  ConvWeight cw = get_conv(src, p, c, c, 1);
  kernels::Weight w;
  w.w = cw.w.contiguous().view({c, c});
  w.bias = cw.bias;
  return w;
}

VqModel::AttnBlock load_attn(const WeightSource& src, const std::string& p, int64_t c) {
  VqModel::AttnBlock a;
  a.n_w = get_weight(src, p + "norm.weight", {c});
  a.n_b = get_weight(src, p + "norm.bias", {c});
  a.q = conv1x1_as_linear(src, p + "q", c);
  a.k = conv1x1_as_linear(src, p + "k", c);
  a.v = conv1x1_as_linear(src, p + "v", c);
  a.proj = conv1x1_as_linear(src, p + "proj_out", c);
  return a;
}

Tensor conv(const Tensor& x, const ConvWeight& cw, const Conv2dOptions& opt) {
  const int64_t kh = cw.w.size(2), kw = cw.w.size(3);
  const int64_t Ho = (x.size(2) + opt.pad_top + opt.pad_bottom - kh) / opt.stride + 1;
  const int64_t Wo = (x.size(3) + opt.pad_left + opt.pad_right - kw) / opt.stride + 1;
  Tensor y = Tensor::empty({x.size(0), cw.w.size(0), Ho, Wo}, DType::F32);
  kernels::conv2d(y, x, cw.w, cw.bias, opt);
  return y;
}
const Conv2dOptions kSame = Conv2dOptions::symmetric(1, 1);
const Conv2dOptions kPointwise = Conv2dOptions{};
const Conv2dOptions kDown = Conv2dOptions{2, 0, 1, 0, 1};  // F.pad(x, (0, 1, 0, 1)) + stride 2

Tensor res_forward(const Tensor& x, const VqModel::ResBlock& r, const VqConfig& c) {
  Tensor h = Tensor::empty(x.shape(), DType::F32);
  kernels::group_norm(h, x, r.n1_w, r.n1_b, c.norm_groups, c.norm_eps, true);
  h = conv(h, r.conv1, kSame);
  kernels::group_norm(h, h, r.n2_w, r.n2_b, c.norm_groups, c.norm_eps, true);
  h = conv(h, r.conv2, kSame);
  kernels::add(h, h, r.nin.w.defined() ? conv(x, r.nin, kPointwise) : x);
  return h;
}

Tensor attn_forward(const Tensor& x, const VqModel::AttnBlock& a, const VqConfig& c) {
  const int64_t B = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
  Tensor h = Tensor::empty(x.shape(), DType::F32);
  kernels::group_norm(h, x, a.n_w, a.n_b, c.norm_groups, c.norm_eps, false);
  Tensor y = x.clone();
  Tensor q = Tensor::empty({P, C}, DType::F32), k = Tensor::empty({P, C}, DType::F32);
  Tensor v = Tensor::empty({P, C}, DType::F32), att = Tensor::empty({P, C}, DType::F32);
  const float scale = float(1.0 / std::sqrt(double(C)));
  for (int64_t b = 0; b < B; ++b) {
    Tensor t = h.select(0, b).view({C, P}).transpose(0, 1).contiguous();  // [P, C] positions as rows
    kernels::linear(q, t, a.q);
    kernels::linear(k, t, a.k);
    kernels::linear(v, t, a.v);
    Tensor att3 = att.view({P, 1, C});
    kernels::attention_full(att3, q.view({P, 1, C}), k.view({P, 1, C}), v.view({P, 1, C}), scale);
    kernels::linear(t, att, a.proj);
    Tensor yb = y.select(0, b).view({C, P});
    kernels::add(yb, yb, t.transpose(0, 1).contiguous());
  }
  return y;
}

Tensor mid_forward(Tensor x, const VqModel::ResBlock& r1, const VqModel::AttnBlock& a, const VqModel::ResBlock& r2,
                   const VqConfig& c) {
  x = res_forward(x, r1, c);
  x = attn_forward(x, a, c);
  return res_forward(x, r2, c);
}

void check_image(const Tensor& x, int64_t channels, const char* what) {
  if (x.dim() != 4 || x.dtype() != DType::F32 || x.size(1) != channels)
    throw Error(std::string("VqModel: ") + what + " " + kernels::shape_str(x.shape()) + ", expected f32 [B, " +
                str(channels) + ", H, W]");
}

}  // namespace

VqModel::VqModel(const VqConfig& cfg, const WeightSource& src, const std::string& prefix, bool with_encoder)
    : cfg_(cfg) {
  const int64_t n = cfg.num_levels(), base = cfg.base_channels, top = base * cfg.channel_multiplier.back();
  if (n < 1) throw Error("VqModel: channel_multiplier is empty");
  if (with_encoder) {
    const std::string e = prefix + "encoder.";
    enc_in_ = get_conv(src, e + "conv_in", base, cfg.in_channels, 3);
    int64_t block_in = base;
    for (int64_t i = 0; i < n; ++i) {
      const std::string l = e + "down." + str(i) + ".";
      const int64_t block_out = base * cfg.channel_multiplier[size_t(i)];
      Level L;
      for (int64_t j = 0; j < cfg.num_res_blocks; ++j) {
        L.res.push_back(load_res(src, l + "block." + str(j) + ".", block_in, block_out));
        block_in = block_out;
        if (i == n - 1) L.attn.push_back(load_attn(src, l + "attn." + str(j) + ".", block_in));
      }
      if (i != n - 1) L.resample = get_conv(src, l + "downsample.conv", block_in, block_in, 3);
      enc_levels_.push_back(std::move(L));
    }
    enc_mid1_ = load_res(src, e + "mid.block_1.", block_in, block_in);
    enc_mid_attn_ = load_attn(src, e + "mid.attn_1.", block_in);
    enc_mid2_ = load_res(src, e + "mid.block_2.", block_in, block_in);
    enc_norm_w_ = get_weight(src, e + "norm_out.weight", {block_in});
    enc_norm_b_ = get_weight(src, e + "norm_out.bias", {block_in});
    enc_out_ = get_conv(src, e + "conv_out", cfg.latent_channels, block_in, 3);
    quant_conv_ = get_conv(src, prefix + "quant_conv", cfg.embed_dim, cfg.latent_channels, 1);
  }
  // Codebook (f32) and its rows / max(‖row‖₂, 1e-12), as F.normalize.
  codebook_ = get_weight_f32(src, prefix + "quantize.embedding.weight", {cfg.num_embeddings, cfg.embed_dim});
  codebook_normed_ = codebook_.clone();
  float* cb = codebook_normed_.data<float>();
  for (int64_t r = 0; r < cfg.num_embeddings; ++r) {
    double ss = 0;
    for (int64_t d = 0; d < cfg.embed_dim; ++d) ss += double(cb[r * cfg.embed_dim + d]) * cb[r * cfg.embed_dim + d];
    const float norm = std::max(float(std::sqrt(ss)), 1e-12f);
    for (int64_t d = 0; d < cfg.embed_dim; ++d) cb[r * cfg.embed_dim + d] /= norm;
  }
  // Decoder
  post_quant_conv_ = get_conv(src, prefix + "post_quant_conv", cfg.latent_channels, cfg.embed_dim, 1);
  const std::string d = prefix + "decoder.";
  dec_in_ = get_conv(src, d + "conv_in", top, cfg.latent_channels, 3);
  dec_mid1_ = load_res(src, d + "mid.block_1.", top, top);
  dec_mid_attn_ = load_attn(src, d + "mid.attn_1.", top);
  dec_mid2_ = load_res(src, d + "mid.block_2.", top, top);
  int64_t block_in = top;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t level = n - 1 - i, block_out = base * cfg.channel_multiplier[size_t(level)];
    const std::string l = d + "up." + str(i) + ".";
    Level L;
    for (int64_t j = 0; j < cfg.num_res_blocks + 1; ++j) {
      L.res.push_back(load_res(src, l + "block." + str(j) + ".", block_in, block_out));
      block_in = block_out;
      if (level == n - 1) L.attn.push_back(load_attn(src, l + "attn." + str(j) + ".", block_in));
    }
    if (level != 0) L.resample = get_conv(src, l + "upsample.conv", block_in, block_in, 3);
    dec_levels_.push_back(std::move(L));
  }
  dec_norm_w_ = get_weight(src, d + "norm_out.weight", {block_in});
  dec_norm_b_ = get_weight(src, d + "norm_out.bias", {block_in});
  dec_out_ = get_conv(src, d + "conv_out", cfg.out_channels, block_in, 3);
}

Tensor VqModel::encode_latents(const Tensor& pixels) const {
  if (!has_encoder()) throw Error("VqModel: loaded without the encoder");
  check_image(pixels, cfg_.in_channels, "pixels");
  const int64_t f = cfg_.downsample_factor();
  if (pixels.size(2) % f != 0 || pixels.size(3) % f != 0 || pixels.size(2) == 0 || pixels.size(3) == 0)
    throw Error("VqModel: image size " + str(pixels.size(2)) + "x" + str(pixels.size(3)) + " is not a multiple of " +
                str(f));
  Tensor x = conv(pixels.contiguous(), enc_in_, kSame);
  for (const Level& L : enc_levels_) {
    for (size_t j = 0; j < L.res.size(); ++j) {
      x = res_forward(x, L.res[j], cfg_);
      if (!L.attn.empty()) x = attn_forward(x, L.attn[j], cfg_);
    }
    if (L.resample.w.defined()) x = conv(x, L.resample, kDown);
  }
  x = mid_forward(x, enc_mid1_, enc_mid_attn_, enc_mid2_, cfg_);
  kernels::group_norm(x, x, enc_norm_w_, enc_norm_b_, cfg_.norm_groups, cfg_.norm_eps, true);
  x = conv(x, enc_out_, kSame);
  return conv(x, quant_conv_, kPointwise);
}

Tensor VqModel::quantize(const Tensor& latents, QuantizeRule rule) const {
  check_image(latents, cfg_.embed_dim, "latents");
  const Tensor z = latents.contiguous();
  const int64_t B = z.size(0), E = cfg_.embed_dim, P = z.size(2) * z.size(3), V = cfg_.num_embeddings;
  const float* zp = z.data<float>();
  const float* cb = (rule == QuantizeRule::kL2Normalized ? codebook_normed_ : codebook_).data<float>();
  std::vector<double> cb_sq(static_cast<size_t>(V), 0.0);
  for (int64_t r = 0; r < V; ++r)
    for (int64_t d = 0; d < E; ++d) cb_sq[size_t(r)] += double(cb[r * E + d]) * cb[r * E + d];
  Tensor codes = Tensor::empty({B, P}, DType::I64);
  int64_t* out = codes.data<int64_t>();
  std::vector<double> v(static_cast<size_t>(E));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t p = 0; p < P; ++p) {
      double ss = 0;
      for (int64_t d = 0; d < E; ++d) {
        v[size_t(d)] = zp[(b * E + d) * P + p];
        ss += v[size_t(d)] * v[size_t(d)];
      }
      if (rule == QuantizeRule::kL2Normalized) {
        const double norm = std::max(std::sqrt(ss), 1e-12);
        for (double& e : v) e /= norm;
        ss = 0;
        for (double e : v) ss += e * e;
      }
      double best = std::numeric_limits<double>::infinity();
      int64_t arg = 0;
      for (int64_t r = 0; r < V; ++r) {
        double dot = 0;
        for (int64_t d = 0; d < E; ++d) dot += v[size_t(d)] * cb[r * E + d];
        const double dist = ss + cb_sq[size_t(r)] - 2 * dot;
        if (dist < best) best = dist, arg = r;  // strict: the first minimum wins, as torch.argmin
      }
      out[b * P + p] = arg;
    }
  return codes;
}

Tensor VqModel::encode(const Tensor& pixels, QuantizeRule rule) const { return quantize(encode_latents(pixels), rule); }

Tensor VqModel::codebook_entries(const Tensor& codes, int64_t gh, int64_t gw) const {
  if (codes.dtype() != DType::I64 || codes.dim() != 2 || codes.size(1) != gh * gw)
    throw Error("VqModel: codes " + kernels::shape_str(codes.shape()) + ", expected i64 [B, " + str(gh * gw) +
                "] for a " + str(gh) + "x" + str(gw) + " grid");
  const std::vector<int64_t> ids = codes.to_i64_vector();
  const int64_t B = codes.size(0), E = cfg_.embed_dim, P = gh * gw;
  Tensor z = Tensor::empty({B, E, gh, gw}, DType::F32);
  float* zp = z.data<float>();
  const float* cb = codebook_normed_.data<float>();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t p = 0; p < P; ++p) {
      const int64_t id = ids[size_t(b * P + p)];
      if (id < 0 || id >= cfg_.num_embeddings)
        throw Error("VqModel: image token " + str(id) + " outside the codebook [0, " + str(cfg_.num_embeddings) + ")");
      for (int64_t d = 0; d < E; ++d) zp[(b * E + d) * P + p] = cb[id * E + d];
    }
  return z;
}

Tensor VqModel::decode(const Tensor& codes) const { return decode(codes, cfg_.num_patches, cfg_.num_patches); }

Tensor VqModel::decode(const Tensor& codes, int64_t gh, int64_t gw) const {
  if (!codebook_.defined()) throw Error("VqModel: not loaded");
  Tensor x = conv(codebook_entries(codes, gh, gw), post_quant_conv_, kPointwise);
  x = conv(x, dec_in_, kSame);
  x = mid_forward(x, dec_mid1_, dec_mid_attn_, dec_mid2_, cfg_);
  for (const Level& L : dec_levels_) {
    for (size_t j = 0; j < L.res.size(); ++j) {
      x = res_forward(x, L.res[j], cfg_);
      if (!L.attn.empty()) x = attn_forward(x, L.attn[j], cfg_);
    }
    if (L.resample.w.defined()) {
      Tensor up = Tensor::empty({x.size(0), x.size(1), 2 * x.size(2), 2 * x.size(3)}, DType::F32);
      kernels::upsample_nearest2x(up, x);
      x = conv(up, L.resample, kSame);
    }
  }
  kernels::group_norm(x, x, dec_norm_w_, dec_norm_b_, cfg_.norm_groups, cfg_.norm_eps, true);
  return conv(x, dec_out_, kSame);
}

}  // namespace janus::vision
