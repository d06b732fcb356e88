// Janus-Pro image preprocessing (understanding path) and postprocessing (generated images).
//
// preprocess() reproduces transformers' JanusImageProcessorPil (transformers 5.24, the PIL backend;
// the Janus-Pro preprocessor_config: size 384, min_size 14, mean = std = 0.5, rescale 1/255):
//  1. new size: S / max(w, h) = d (float64); new_h = max(round(h * d), min_size),
//     new_w = max(round(w * d), min_size) with Python's round (half to even). The original Janus code
//     computes int(h / max * S) instead (truncation, other operation order) — SizeRule::kOriginal;
//     they differ for some sizes (e.g. 161x483 -> 128 vs 127 rows at S = 384).
//  2. PIL-exact bicubic resize (resize.h).
//  3. pad to a square of side max(new_w, new_h) filled with `background` (transformers:
//     int(mean * 255) = 127); the image goes at row (side - new_h) / 2 (landscape) or column
//     (side - new_w) / 2 (portrait), integer division.
//  4. x = float32(float64(p) * rescale_factor); y = (x - mean) / std in float32, CHW.
// Output: f32 CPU tensor [3, S, S] (S = image_size; image_size >= min_size is required).
//
// postprocess() turns a generated image in [-1, 1] into 8-bit RGB as the original Janus code does
// (generation_inference.py): np.clip((x + 1) / 2 * 255, 0, 255) in float32, then a uint8 cast,
// which TRUNCATES. transformers' JanusImageProcessor.postprocess computes (x + 1) / 2 in float32,
// multiplies by 1 / (1/255) = 255.00000000000003 in float64, rounds to float32, clips and truncates.
// The two give the same bytes for every float32 input: checked exhaustively for (x + 1) / 2 over the
// binade [0.5, 1) (8.4M values, 0 differences; other binades scale by powers of two, values above 1
// clip to 255 in both), and on the fixture values in tests/vision.
// NaN maps to 0.
#pragma once
#include <array>
#include <utility>

#include "kernels/tensor.h"
#include "vision/image.h"

namespace janus::vision {

enum class SizeRule { kTransformers, kOriginal };

struct PreprocessOptions {
  int image_size = 384;
  int min_size = 14;
  SizeRule size_rule = SizeRule::kTransformers;
  std::array<uint8_t, 3> background = {127, 127, 127};
  double rescale_factor = 0.00392156862745098;  // 1/255 as written in preprocessor_config.json
  std::array<float, 3> mean = {0.5f, 0.5f, 0.5f};
  std::array<float, 3> std = {0.5f, 0.5f, 0.5f};
};

// (new_width, new_height) of step 1 for a width x height input.
std::pair<int, int> janus_resized_size(int width, int height, const PreprocessOptions& opt = {});
// Steps 1-3: the padded 8-bit RGB square (side image_size).
Image resize_and_pad(const Image& rgb8, const PreprocessOptions& opt = {});
// Steps 1-4: f32 [3, S, S]. `rgb8` must be 8-bit RGB (use to_rgb8 first); throws kernels::Error
// otherwise.
kernels::Tensor preprocess(const Image& rgb8, const PreprocessOptions& opt = {});

// f32 [3, H, W] (any strides, CPU) -> 8-bit RGB H x W (see above). Throws on another shape/dtype.
Image postprocess(const kernels::Tensor& chw);

}  // namespace janus::vision
