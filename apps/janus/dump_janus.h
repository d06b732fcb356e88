// `janus dump` for Janus multimodal models (DESIGN §4). Inputs (any subset, from one safetensors
// file) and what each produces:
//   pixel_values  f32 [Bi, 3, S, S]  → image_embeds f32 [Bi, N, H]
//   input_ids     i64 [B, T]         → logits [B, T, V], hidden_states [B, T, H], gen_logits [B, T, K];
//                                      with pixel_values, the placeholder runs of all rows (row-major)
//                                      take the images in order (transformers' batching)
//   image_tokens  i64 [B, n]         → decoded_images f32 [B, 3, S', S'], gen_embeds f32 [B, n, H]
//   vq_pixels     f32 [B, 3, S', S'] → vq_codes i64 [B, n] (the release's L2-normalised rule)
//   hidden_states f32 [..., H]       → gen_logits [..., K] (when input_ids is absent)
// Throws std::runtime_error naming the inputs file and the problem; nothing is written on error.
#pragma once
#include <string>

namespace janus::app {

void dump_janus(const std::string& model_dir, const std::string& inputs_path, const std::string& out_path);

}  // namespace janus::app
