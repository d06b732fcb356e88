// Deterministic rendering of shapes-world scenes (shapes_scene.h) with OpenCV drawing.
//
// Geometry, for a canvas of S px and cell size c = S/3: each object is centred on its cell centre
// ((col + ½)·c, (row + ½)·c) with "radius" R = 0.40·c (large) or 0.25·c (small):
//   circle   radius R
//   square   axis-aligned, half side 0.85·R
//   triangle equilateral, pointing up, circumradius R (circumcentre on the cell centre)
//   diamond  vertices (0, ±R), (±0.75·R, 0)
//   star     5 points, outer radius R, inner radius 0.45·R, first point straight up
// so every shape stays ≥ 0.1·c inside its cell (never touches a cell border or another object).
// Fills are LINE_8 (no anti-aliasing) with 4 fractional bits of sub-pixel precision, so every
// pixel is exactly the background or one palette colour, and the output is the same bit for bit
// on every machine with the same OpenCV major version.
// Errors: std::runtime_error when the scene is invalid (see validate()).
#pragma once
#include <cstdint>

#include "vision/image.h"
#include "vision/shapes_scene.h"

namespace janus::vision::shapes {

// 8-bit RGB image of scene.canvas × scene.canvas pixels, background kBackground.
Image render_scene(const Scene& scene);

// Off-canonical renders, for robustness tests and augmentation (never the canonical data): each
// object independently gets a radius × (1 + u·scale), a rotation of u·rotation_deg degrees and a
// shift of u·max_shift_px on each axis (u uniform in [-1, 1] from SplitMix64(seed); the shift is
// clamped so the object's bounding circle stays ≥ 1 px inside its cell where it fits).
struct RenderJitter {
  double max_shift_px = 0, scale = 0, rotation_deg = 0;
};
Image render_scene(const Scene& scene, const RenderJitter& jitter, uint64_t seed);

// A degraded copy for robustness tests and augmentation: Gaussian blur with standard deviation
// `blur_sigma` px (≤ 0: none; kernel 2·⌈3σ⌉+1), then i.i.d. Gaussian noise N(0, noise_sigma²) per
// sample (≤ 0: none), rounded and clamped to [0, 255]. The noise comes from SplitMix64(seed)
// through Box–Muller, so the result is deterministic. Input: 8-bit RGB.
Image degrade_image(const Image& rgb8, double noise_sigma, double blur_sigma, uint64_t seed);

// FNV-1a 64-bit hash of the pixel bytes with width/height/channels (for determinism checks).
uint64_t image_hash(const Image& img);

}  // namespace janus::vision::shapes
