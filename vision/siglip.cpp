#include "vision/siglip.h"

#include <cmath>

#include "vision/aligner.h"

namespace janus::vision {

using kernels::DType;
using kernels::Error;
using kernels::Tensor;

SiglipVisionModel::SiglipVisionModel(const SiglipConfig& cfg, const WeightSource& src, const std::string& prefix)
    : cfg_(cfg) {
  const int64_t D = cfg.hidden_size, I = cfg.intermediate_size, p = cfg.patch_size;
  patch_w_ = get_weight(src, prefix + "embeddings.patch_embedding.weight", {D, cfg.num_channels, p, p});
  patch_b_ = get_weight(src, prefix + "embeddings.patch_embedding.bias", {D});
  pos_ = get_weight_f32(src, prefix + "embeddings.position_embedding.weight", {cfg.num_patches(), D});
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    const std::string l = prefix + "encoder.layers." + std::to_string(i) + ".";
    Layer L;
    L.ln1_w = get_weight(src, l + "layer_norm1.weight", {D});
    L.ln1_b = get_weight(src, l + "layer_norm1.bias", {D});
    L.ln2_w = get_weight(src, l + "layer_norm2.weight", {D});
    L.ln2_b = get_weight(src, l + "layer_norm2.bias", {D});
    L.q = get_linear(src, l + "self_attn.q_proj", D, D, cfg.attention_bias);
    L.k = get_linear(src, l + "self_attn.k_proj", D, D, cfg.attention_bias);
    L.v = get_linear(src, l + "self_attn.v_proj", D, D, cfg.attention_bias);
    L.proj = get_linear(src, l + "self_attn.projection_layer", D, D, true);
    L.fc1 = get_linear(src, l + "mlp.fc1", I, D, true);
    L.fc2 = get_linear(src, l + "mlp.fc2", D, I, true);
    layers_.push_back(std::move(L));
  }
  post_w_ = get_weight(src, prefix + "post_layernorm.weight", {D});
  post_b_ = get_weight(src, prefix + "post_layernorm.bias", {D});
}

Tensor SiglipVisionModel::forward(const Tensor& pixels) const {
  if (!patch_w_.defined()) throw Error("SiglipVisionModel: not loaded");
  const int64_t S = cfg_.image_size, C = cfg_.num_channels;
  if (pixels.dim() != 4 || pixels.size(1) != C || pixels.size(2) != S || pixels.size(3) != S ||
      pixels.dtype() != DType::F32)
    throw Error("SiglipVisionModel: pixel_values " + kernels::shape_str(pixels.shape()) + ", expected f32 [B, " +
                std::to_string(C) + ", " + std::to_string(S) + ", " + std::to_string(S) +
                "] (no position-embedding interpolation)");
  const int64_t B = pixels.size(0), G = cfg_.grid(), N = G * G, D = cfg_.hidden_size, M = B * N;
  const int64_t H = cfg_.num_heads, hd = cfg_.head_dim(), I = cfg_.intermediate_size;

  // Patch embedding → [B, D, G, G] → tokens [B, N, D] (row-major over the grid) + positions.
  Tensor grid = Tensor::empty({B, D, G, G}, DType::F32);
  kernels::conv2d(grid, pixels.contiguous(), patch_w_, patch_b_,
                  kernels::Conv2dOptions::symmetric(int(cfg_.patch_size), 0));
  Tensor x = grid.view({B, D, N}).transpose(1, 2).contiguous();
  for (int64_t b = 0; b < B; ++b) {
    Tensor xb = x.select(0, b);
    kernels::add(xb, xb, pos_);
  }
  x = x.view({M, D});

  Tensor h = Tensor::empty({M, D}, DType::F32), q = Tensor::empty({M, D}, DType::F32);
  Tensor k = Tensor::empty({M, D}, DType::F32), v = Tensor::empty({M, D}, DType::F32);
  Tensor att = Tensor::empty({M, D}, DType::F32), f = Tensor::empty({M, I}, DType::F32);
  const float scale = 1.0f / std::sqrt(float(hd));
  for (const Layer& L : layers_) {
    kernels::layer_norm(h, x, L.ln1_w, L.ln1_b, cfg_.layer_norm_eps);
    kernels::linear(q, h, L.q);
    kernels::linear(k, h, L.k);
    kernels::linear(v, h, L.v);
    for (int64_t b = 0; b < B; ++b) {
      Tensor ob = att.view({B, N, H, hd}).select(0, b);
      kernels::attention_full(ob, q.view({B, N, H, hd}).select(0, b), k.view({B, N, H, hd}).select(0, b),
                              v.view({B, N, H, hd}).select(0, b), scale);
    }
    kernels::linear(h, att, L.proj);
    kernels::add(x, x, h);
    kernels::layer_norm(h, x, L.ln2_w, L.ln2_b, cfg_.layer_norm_eps);
    kernels::linear(f, h, L.fc1);
    activate(f, cfg_.act);
    kernels::linear(h, f, L.fc2);
    kernels::add(x, x, h);
  }
  Tensor out = Tensor::empty({M, D}, DType::F32);
  kernels::layer_norm(out, x, post_w_, post_b_, cfg_.layer_norm_eps);
  return out.view({B, N, D});
}

}  // namespace janus::vision
