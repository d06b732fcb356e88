// The shapes-world detector: recovers a Scene (shapes_scene.h) from an image's pixels. It is the
// evaluator behind `janus shapes eval` (GenEval-style scoring of generated images).
//
// Pipeline (image S×S, cell c = S/3, small-object radius r = 0.25·c, see shapes_render.h):
//  1. Foreground = pixels whose RGB distance from kBackground exceeds `foreground_threshold`
//     (default 120 = half the distance of the palette colour closest to white, so a blurred edge
//     counts on the side of the 50 % blend and object areas survive blur).
//  2. 8-connected components of the foreground; components with fewer than
//     `min_area_fraction`·r² pixels are ignored (noise, specks).
//  3. Colour = majority vote over the component's pixels that lie within `colour_tolerance` of a
//     palette colour (nearest palette colour); a component without such pixels is ignored.
//  4. Cell = the cell holding the component's centroid; with several components in one cell the
//     largest wins (the others are counted in `ignored`).
//  5. Shape and size: first the canonical templates (each shape and size rasterised exactly as
//     the renderer draws it in that cell); one identical to the component pixel for pixel decides
//     (IoU 1: rendered scenes). Otherwise (generated, noisy, shifted, scaled or rotated objects)
//     each shape is rasterised at rotations k·rotation_step_deg within ±max_rotation_deg, scaled
//     to the component's area and centred on its centroid, and the shape with the highest IoU
//     against the component's mask, less an area prior, wins (ties: first in shape order):
//       score = IoU − area_penalty · max(0, |ln(A / A_s)| − ln(1 + area_slack)),
//     A the component's area, A_s the nearer (in log) of the shape's canonical small and large
//     areas. IoU compares form (circularity, convexity and corners all show in the overlap; more
//     robust at 64 px than contour approximation); the prior keeps a blurred small star, which
//     has lost its points, from passing for a circle of twice its area. The size follows from
//     the area: small when it is below the geometric mean of that shape's canonical small and
//     large areas. Components whose best IoU is below `min_iou` are not objects (`ignored`).
// Exact on rendered scenes: an unshifted template reproduces a rendered object pixel for pixel
// (IoU 1). Accuracy under noise, blur, shift, scale and rotation is measured (and
// printed) by tests/shapes/test_shapes_vision.cpp.
//
// Input: any Image (converted with to_rgb8), square, side in [kMinCanvas, kMaxCanvas]; otherwise
// std::runtime_error "detect_scene: ...". Thread-safety: reentrant.
#pragma once
#include <vector>

#include "vision/image.h"
#include "vision/shapes_scene.h"

namespace janus::vision::shapes {

struct DetectOptions {
  double foreground_threshold = 120;                    // RGB distance from the background
  double colour_tolerance = 90;                         // RGB distance to the nearest palette colour for a vote
  double min_area_fraction = 0.3;                       // of r² (small-object radius squared)
  double min_iou = 0.35;                                // best template IoU below this: not an object
  double max_rotation_deg = 15, rotation_step_deg = 5;  // rotations tried for non-canonical objects
  double area_penalty = 1.0, area_slack = 0.35;         // area prior of step 5
};

struct Detection {
  Object object;
  int area = 0;           // pixels in the component
  double cx = 0, cy = 0;  // centroid, pixel-centre coordinates
  double iou = 0;         // IoU with the chosen template
};

struct DetectResult {
  Scene scene;                        // canonical; canvas = image side
  std::vector<Detection> detections;  // one per scene object, same order
  int ignored = 0;                    // components dropped in steps 2–5
};

DetectResult detect_scene(const Image& image, const DetectOptions& options = {});

}  // namespace janus::vision::shapes
