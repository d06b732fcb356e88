// Janus text-to-image generation with classifier-free guidance (../shared/reference/janus.md §5).
//
// For each of the P images two rows run through the backbone, each with its own KV cache, all
// rows batched into one backbone pass per step (Model::forward_embeds_batch):
//   conditional    the prompt ids (ending with <begin_of_image>)
//   unconditional  the same length: BOS kept at 0, the last id kept, everything between → pad
//                  (attended to: no mask, as the release does)
// Step i (0 … n−1, n = vq grid²): code logits = gen_head(final hidden of each row);
//   l = u + cfg · (c − u)  (cfg = 1 keeps the formula; conditional_only skips the u rows),
//   code = sample(l) with kernels::sample_token (temperature, top-k, top-p; temperature 0 = argmax),
//   from ONE std::mt19937_64(seed) drawn in image order at every step,
//   then gen_aligner(gen_embed(code)) is fed to both rows of that image at position T + i.
// Codes are decoded by the VQ decoder `decode_chunk` images at a time.
// Deterministic: the same model, prompt and options give the same codes and images.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/sampling.h"
#include "llm/generate.h"
#include "llm/janus_model.h"

namespace janus::llm {

struct ImageGenOptions {
  int64_t num_images = 1;
  float cfg_weight = 5.0f;
  bool conditional_only = false;  // no unconditional rows (l = c)
  kernels::SamplingParams sampling{1.0f, 0, 1.0f, 0.0f};
  uint64_t seed = 0;
  int64_t decode_chunk = 1;
  bool decode = true;  // false: codes only
  // When non-empty ([num_images][n]): these codes are fed instead of sampling (the loop still runs).
  std::vector<std::vector<int64_t>> forced_codes;
  std::function<void(int64_t done, int64_t total)> on_progress;  // after every step
  const std::atomic<bool>* cancel = nullptr;                     // checked before every step
};

struct ImageGenResult {
  kernels::Tensor codes;   // [P, n] i64
  kernels::Tensor images;  // [P, 3, S, S] f32 in ~[-1, 1] (undefined when !decode or cancelled)
  bool cancelled = false;
  double prefill_seconds = 0, sample_seconds = 0, decode_seconds = 0;
};

// The unconditional prompt: BOS (index 0) and the last id kept, the rest replaced by pad_id.
std::vector<int64_t> unconditional_prompt(const std::vector<int64_t>& prompt, int64_t pad_id);

// Throws kernels::Error for an empty prompt, ids outside the vocabulary, bad options or
// forced_codes of the wrong shape.
ImageGenResult generate_images(const JanusModel& model, const std::vector<int64_t>& prompt, int64_t pad_id,
                               const ImageGenOptions& opt);

// Understanding: answers a prompt whose ids hold one run of image placeholders per image of
// `images` (image embeddings [B, N, H] from JanusModel::image_embeds, computed once per
// conversation; undefined for text only). Prefills the spliced embeddings, then
// decodes token by token as llm::generate does (sampling, stop tokens, on_token, cancel,
// max_new_tokens; speculative decoding is not supported here).
GenerateResult janus_answer(const JanusModel& model, const std::vector<int64_t>& prompt, const kernels::Tensor& images,
                            const GenerateOptions& opt);

}  // namespace janus::llm
