// Trainable LlamaGen VQ model (vq.h's architecture and weight names over autograd Vars) and the VQ
// tokenizer training losses. Parameters: see trainable_vision.h (ParamMaker, f32, transformers
// `janus` names below the prefix, e.g. "model.vqmodel.").
//
// Quantizer (LlamaGen VectorQuantizer with codebook_l2_norm = True; rows of the latent grid in
// row-major order, b·h·w + y·w + x):
//   z   = quant_conv(encoder(x))                    latent vectors [B·h·w, E]
//   ẑ   = z / max(‖z‖₂, 1e-12)                      (F.normalize)
//   ê_j = e_j / max(‖e_j‖₂, 1e-12)                  (normalised codebook rows)
//   k   = argmin_j ‖ẑ − ê_j‖²                       (first minimum; not differentiated)
//   q   = ê_k                                       (gradient reaches the codebook through ê)
//   z_st = ẑ + sg(q − ẑ)                            straight-through estimator: value q, gradient
//                                                   d/dẑ = identity (sg = stop-gradient, detach)
//   x̂   = decoder(post_quant_conv(z_st))
//
// Losses (LlamaGen/VQGAN generator step without the perceptual and adversarial terms, which we
// skip, and without the optional entropy loss); means are over all elements:
//   reconstruction = mean((x̂ − x)²)                 L2 (LlamaGen's default reconstruction_loss)
//   codebook       = mean((q − sg(ẑ))²)             moves the codebook toward the (normalised) latents
//   commitment     = β · mean((sg(q) − ẑ)²)         β = 0.25; moves the encoder toward its codes
//   total          = reconstruction_weight · reconstruction + codebook_weight · codebook + commitment
// (LlamaGen's codebook_weight 1, reconstruction_weight 1.)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"
#include "vision/trainable_vision.h"
#include "vision/vision_config.h"

namespace janus::vision {

class TrainVqModel {
 public:
  TrainVqModel() = default;
  // Builds the encoder + quant_conv (when with_encoder), the codebook `quantize.embedding.weight`,
  // post_quant_conv and the decoder, in checkpoint-name order.
  TrainVqModel(const VqConfig& cfg, ParamMaker& pm, const std::string& prefix, bool with_encoder = true);

  // pixels [B, in_channels, H, W] (H, W multiples of 2^(levels−1)) → z [B, embed_dim, h, w].
  kernels::ag::Var encode_latents(const kernels::ag::Var& pixels) const;

  struct Quantized {
    std::vector<int64_t> codes;  // [B·h·w] k
    kernels::ag::Var z_normed;   // ẑ [B·h·w, E]
    kernels::ag::Var q;          // ê_k [B·h·w, E]
    kernels::ag::Var z_st;       // straight-through latents [B, E, h, w] (decoder input)
  };
  // latents [B, E, h, w] → Quantized (see the header comment).
  Quantized quantize(const kernels::ag::Var& latents) const;
  // latents [B, E, h, w] → ẑ [B·h·w, E], the L2-normalised rows quantize() matches (no code search).
  kernels::ag::Var normed_latents(const kernels::ag::Var& latents) const;

  // latents [B, E, h, w] → post_quant_conv + decoder → images [B, out_channels, h·f, w·f].
  kernels::ag::Var decode_latents(const kernels::ag::Var& latents) const;
  // codes [B·gh·gw] → normalised codebook rows → decode_latents (as VqModel::decode).
  kernels::ag::Var decode(const std::vector<int64_t>& codes, int64_t batch, int64_t gh, int64_t gw) const;

  const VqConfig& config() const { return cfg_; }
  const kernels::ag::Var& codebook() const { return codebook_; }

  struct ResBlock {
    kernels::ag::Var n1_w, n1_b, n2_w, n2_b;
    ParamMaker::Linear conv1, conv2, nin;  // nin.w undefined when in == out
  };
  struct AttnBlock {
    kernels::ag::Var n_w, n_b;
    ParamMaker::Linear q, k, v, proj;  // 1×1 convs [C, C, 1, 1]
  };
  struct Level {
    std::vector<ResBlock> res;
    std::vector<AttnBlock> attn;
    ParamMaker::Linear resample;  // w undefined when absent
  };

 private:
  kernels::ag::Var res_forward(const kernels::ag::Var& x, const ResBlock& r) const;
  kernels::ag::Var attn_forward(const kernels::ag::Var& x, const AttnBlock& a) const;
  ResBlock make_res(ParamMaker& pm, const std::string& p, int64_t in, int64_t out) const;
  AttnBlock make_attn(ParamMaker& pm, const std::string& p, int64_t c) const;

  VqConfig cfg_;
  ParamMaker::Linear enc_in_, enc_out_, quant_conv_, post_quant_conv_, dec_in_, dec_out_;
  std::vector<Level> enc_levels_, dec_levels_;  // dec_levels_[0] = lowest resolution
  ResBlock enc_mid1_, enc_mid2_, dec_mid1_, dec_mid2_;
  AttnBlock enc_mid_attn_, dec_mid_attn_;
  kernels::ag::Var enc_norm_w_, enc_norm_b_, dec_norm_w_, dec_norm_b_, codebook_;
};

struct VqLossOptions {
  double beta = 0.25;
  double codebook_weight = 1.0;
  double reconstruction_weight = 1.0;
  // false: the decoder reads ẑ itself (a quantisation warm-up, train/run_vq.h "quantize_after");
  // codes, codebook and commitment terms are still computed and reported, total = reconstruction +
  // codebook (the commitment term would pull ẑ towards codes about to be replaced).
  bool quantize = true;
};

struct VqLosses {
  kernels::ag::Var total, reconstruction, codebook, commitment;  // each [1]
  kernels::ag::Var reconstruction_image;                         // x̂ [B, C, H, W]
  std::vector<int64_t> codes;                                    // [B·h·w]
  kernels::ag::Var z_normed;                                     // ẑ [B·h·w, E] (e.g. codebook restarts)
};

// One generator-side training forward of the VQ tokenizer on pixels [B, C, H, W] in [-1, 1].
// Throws kernels::Error when the model has no encoder or the image size does not fit.
VqLosses vq_tokenizer_losses(const TrainVqModel& model, const kernels::ag::Var& pixels,
                             const VqLossOptions& options = {});

}  // namespace janus::vision
