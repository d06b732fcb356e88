// PIL-compatible resampling: resize_bicubic reproduces Pillow's Image.resize(size, Image.BICUBIC)
// (no box, no reducing_gap) on 8-bit gray ("L") and RGB images bit for bit.
//
// The algorithm (Pillow's ImagingResample, described here from its documented behaviour):
// separable convolution, horizontal pass first into an 8-bit intermediate, then vertical.
// - For an axis of in -> out samples: scale = in / out, filterscale = max(scale, 1) (antialiasing:
//   the kernel is stretched by the downscale factor), support = 2 * filterscale.
// - Output sample i is centred at c = (i + 0.5) * scale; its window is [lo, hi) with
//   lo = max(0, int(c - support + 0.5)), hi = min(in, int(c + support + 0.5)); tap j has weight
//   k((lo + j - c + 0.5) / filterscale) with the cubic kernel a = -0.5
//   (|x| < 1: (a+2)|x|^3 - (a+3)|x|^2 + 1; |x| < 2: a(|x|^3 - 5|x|^2 + 8|x| - 4); else 0);
//   weights are divided by their sum.
// - 8-bit path: weights become integers round-half-away(w * 2^22) (PRECISION_BITS = 32 - 8 - 2),
//   each output is (2^21 + sum(pixel * weight)) >> 22, clamped to [0, 255].
// - An axis whose size does not change is not resampled (no pass).
// - Pass order (Pillow 13, python-pillow/Pillow#9549 "If height is scaled down significantly more
//   than width, resize vertically first"): the vertical pass goes first when both axes change,
//   new_h < h and (h - new_h) > 2 * (w - new_w); otherwise horizontal first. The rule was measured
//   against Pillow 13.0.0 (tools/.venv) on ~400 random size pairs plus full maps of the decision
//   for several input sizes (zero mismatches). Older Pillow always goes horizontal first:
//   PassOrder::kHorizontalFirst reproduces it.
//
// Contract: img is 8-bit with 1 or 3 channels (RGBA is refused: PIL resizes it premultiplied);
// new_width, new_height >= 1. Returns a new image; throws kernels::Error otherwise.
#pragma once
#include "vision/image.h"

namespace janus::vision {

enum class PassOrder { kPillow13, kHorizontalFirst };

Image resize_bicubic(const Image& img, int new_width, int new_height, PassOrder order = PassOrder::kPillow13);

}  // namespace janus::vision
