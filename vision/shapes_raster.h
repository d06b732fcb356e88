// Internal to vision/: draws one shapes-world object into an OpenCV image (used by the renderer
// and by the detector's templates, so both share one rasterisation).
#pragma once
#include <opencv2/core.hpp>

#include "vision/shapes_scene.h"

namespace janus::vision::shapes::detail {

// Object radius R in px for a canvas of `canvas` px (see shapes_render.h).
double object_radius(Size size, int canvas);
// Fills `shape` of radius `radius` centred at (cx, cy) (pixel coordinates, pixel centres at
// integers) into `img` with `colour` (LINE_8, 4 fractional bits), rotated by `angle` radians
// (clockwise on screen; 0 = the canonical pose, drawn bit-exactly as render_scene draws it).
void draw_shape(cv::Mat& img, Shape shape, double radius, double cx, double cy, const cv::Scalar& colour,
                double angle = 0);

}  // namespace janus::vision::shapes::detail
