// LlamaGen VQ model (Janus' image tokenizer for generation; transformers JanusVQVAE).
//
// Blocks (GroupNorm = 32 groups, eps 1e-6, affine; swish = x·sigmoid(x)):
//   ResnetBlock(in, out): h = conv1(swish(norm1(x))); h = conv2(swish(norm2(h)));
//                         return (in ≠ out ? nin_shortcut(x) : x) + h        (3×3 pad 1, nin 1×1)
//   AttnBlock(C): h = norm(x); q, k, v = 1×1 convs; single-head attention over the H·W positions
//                 with scale C^-1/2; return x + proj_out(attention)
//   Downsample: zero pad right and bottom by 1, conv 3×3 stride 2 (no other padding)
//   Upsample: nearest 2×, conv 3×3 pad 1
// Encoder: conv_in; level i (channels base·mult[i], input base·(1, mult…)[i]): num_res_blocks
// ResnetBlocks, each followed by an AttnBlock at the last level; Downsample except at the last
// level; mid = Res, Attn, Res; swish(norm_out); conv_out → latent_channels; quant_conv → embed_dim.
// Decoder (mirror): post_quant_conv; conv_in; mid; for level n−1 … 0: num_res_blocks + 1
// ResnetBlocks (+ AttnBlock each at level n−1), Upsample except at level 0; swish(norm_out);
// conv_out → out_channels. Spatial factor 2^(n−1).
//
// Quantizer. Decode: z = codebook[id] / max(‖codebook[id]‖₂, 1e-12) (both layouts agree).
// Encode (nearest code of each latent vector, row-major over the latent grid, first minimum on
// ties) has two rules:
//   kL2Normalized — the original LlamaGen/Janus VectorQuantizer (codebook_l2_norm=True): z and the
//                   codebook rows are both L2-normalised, argmin ‖ẑ − ê‖² (the default; the
//                   codebook was trained this way and decoding normalises too).
//   kRaw          — transformers' JanusVQVAEVectorQuantizer.forward (from Chameleon): raw z and
//                   raw codebook, argmin ‖z − e‖². Kept for parity checks against transformers.
//
// Weight names below `prefix` (e.g. "model.vqmodel."), transformers layout:
//   encoder.conv_in, encoder.down.{i}.block.{j}.{norm1,conv1,norm2,conv2,nin_shortcut},
//   encoder.down.{i}.attn.{j}.{norm,q,k,v,proj_out}, encoder.down.{i}.downsample.conv,
//   encoder.mid.{block_1,attn_1,block_2}, encoder.norm_out, encoder.conv_out, quant_conv,
//   quantize.embedding.weight [num_embeddings, embed_dim], post_quant_conv,
//   decoder.conv_in, decoder.mid.*, decoder.up.{i}.block.{j}.*, decoder.up.{i}.attn.{j}.*,
//   decoder.up.{i}.upsample.conv, decoder.norm_out, decoder.conv_out
//   (decoder.up.0 is the lowest resolution, level n−1). Each is .weight + .bias.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "vision/vision_config.h"
#include "vision/weight_source.h"

namespace janus::vision {

enum class QuantizeRule { kL2Normalized, kRaw };

class VqModel {
 public:
  VqModel() = default;
  // Loads and shape-checks the decoder, quantizer and (when with_encoder) the encoder weights.
  VqModel(const VqConfig& cfg, const WeightSource& src, const std::string& prefix, bool with_encoder = true);

  // pixels [B, in_channels, H, W] f32 in [-1, 1] with H, W multiples of 2^(n−1) →
  // quant_conv(encoder(x)) [B, embed_dim, H/f, W/f] f32.
  kernels::Tensor encode_latents(const kernels::Tensor& pixels) const;
  // latents [B, embed_dim, h, w] → codes [B, h·w] i64.
  kernels::Tensor quantize(const kernels::Tensor& latents, QuantizeRule rule = QuantizeRule::kL2Normalized) const;
  // encode_latents then quantize.
  kernels::Tensor encode(const kernels::Tensor& pixels, QuantizeRule rule = QuantizeRule::kL2Normalized) const;

  // codes [B, gh·gw] i64 (each in [0, num_embeddings)) → normalised codebook entries
  // [B, embed_dim, gh, gw] f32.
  kernels::Tensor codebook_entries(const kernels::Tensor& codes, int64_t gh, int64_t gw) const;
  // codes [B, gh·gw] → images [B, out_channels, gh·f, gw·f] f32 (decoder output, no clamping).
  kernels::Tensor decode(const kernels::Tensor& codes, int64_t gh, int64_t gw) const;
  // As above on the config's num_patches × num_patches grid.
  kernels::Tensor decode(const kernels::Tensor& codes) const;

  const VqConfig& config() const { return cfg_; }
  bool has_encoder() const { return !enc_levels_.empty(); }

  struct ResBlock {
    kernels::Tensor n1_w, n1_b, n2_w, n2_b;
    ConvWeight conv1, conv2, nin;  // nin undefined when in == out
  };
  struct AttnBlock {
    kernels::Tensor n_w, n_b;
    kernels::Weight q, k, v, proj;  // 1×1 convs as [C, C] linears
  };
  struct Level {
    std::vector<ResBlock> res;
    std::vector<AttnBlock> attn;  // empty or one per ResBlock
    ConvWeight resample;          // downsample / upsample conv; undefined when absent
  };

 private:
  VqConfig cfg_;
  // Encoder
  ConvWeight enc_in_, enc_out_, quant_conv_;
  std::vector<Level> enc_levels_;
  ResBlock enc_mid1_, enc_mid2_;
  AttnBlock enc_mid_attn_;
  kernels::Tensor enc_norm_w_, enc_norm_b_;
  // Quantizer (f32 copy) and its L2-normalised rows
  kernels::Tensor codebook_, codebook_normed_;
  // Decoder
  ConvWeight post_quant_conv_, dec_in_, dec_out_;
  std::vector<Level> dec_levels_;  // dec_levels_[0] = lowest resolution
  ResBlock dec_mid1_, dec_mid2_;
  AttnBlock dec_mid_attn_;
  kernels::Tensor dec_norm_w_, dec_norm_b_;
};

}  // namespace janus::vision
