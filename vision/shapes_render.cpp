// Shapes-world rendering (OpenCV drawing, LINE_8) and image degradation for robustness tests.
#include "vision/shapes_render.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "vision/shapes_raster.h"

namespace janus::vision::shapes {

namespace detail {

namespace {
constexpr int kShift = 4;  // fractional bits of the drawing coordinates
constexpr double kOne = 1 << kShift;
cv::Point fixed(double x, double y) { return {int(std::lround(x * kOne)), int(std::lround(y * kOne))}; }
}  // namespace

double object_radius(Size size, int canvas) { return (size == Size::kLarge ? 0.40 : 0.25) * canvas / kGrid; }

void draw_shape(cv::Mat& img, Shape shape, double r, double cx, double cy, const cv::Scalar& colour, double angle) {
  const double kPi = 3.14159265358979323846;
  if (shape == Shape::kCircle) {
    cv::circle(img, fixed(cx, cy), int(std::lround(r * kOne)), colour, cv::FILLED, cv::LINE_8, kShift);
    return;
  }
  std::vector<cv::Point2d> local;  // offsets from the centre, y down
  switch (shape) {
    case Shape::kCircle: break;
    case Shape::kSquare: {
      const double h = 0.85 * r;
      local = {{-h, -h}, {h, -h}, {h, h}, {-h, h}};
      break;
    }
    case Shape::kTriangle: {
      const double s = r * std::sqrt(3.0) / 2;
      local = {{0, -r}, {s, r / 2}, {-s, r / 2}};
      break;
    }
    case Shape::kDiamond: local = {{0, -r}, {0.75 * r, 0}, {0, r}, {-0.75 * r, 0}}; break;
    case Shape::kStar:
      for (int k = 0; k < 10; ++k) {
        const double a = -kPi / 2 + k * kPi / 5, rr = (k % 2 == 0) ? r : 0.45 * r;
        local.push_back({rr * std::cos(a), rr * std::sin(a)});
      }
      break;
  }
  std::vector<cv::Point> pts;
  const double c = std::cos(angle), s = std::sin(angle);
  for (const cv::Point2d& q : local)
    pts.push_back(angle == 0 ? fixed(cx + q.x, cy + q.y) : fixed(cx + c * q.x - s * q.y, cy + s * q.x + c * q.y));
  const cv::Point* p = pts.data();
  const int n = int(pts.size());
  cv::fillPoly(img, &p, &n, 1, colour, cv::LINE_8, kShift);
}

}  // namespace detail

Image render_scene(const Scene& scene, const RenderJitter& jitter, uint64_t seed) {
  const std::string err = validate(scene);
  if (!err.empty()) throw std::runtime_error("render_scene: " + err);
  const int n = scene.canvas;
  cv::Mat img(n, n, CV_8UC3, cv::Scalar(kBackground.r, kBackground.g, kBackground.b));  // RGB order
  const double cell = double(n) / kGrid;
  const bool jittered = jitter.max_shift_px > 0 || jitter.scale > 0 || jitter.rotation_deg > 0;
  SplitMix64 rng(seed, 0x6a6974746572ull);
  auto uniform = [&](double a) { return a * (2.0 * double(rng.next() >> 11) / 9007199254740992.0 - 1.0); };
  for (const Object& o : scene.objects) {
    const Rgb c = kPalette[int(o.colour)];
    double r = detail::object_radius(o.size, n), cx = (o.col + 0.5) * cell - 0.5, cy = (o.row + 0.5) * cell - 0.5;
    double angle = 0;
    if (jittered) {
      r *= 1 + uniform(jitter.scale);
      angle = uniform(jitter.rotation_deg) * 3.14159265358979323846 / 180;
      // Keep the object's bounding circle ≥ 1 px inside the cell (when there is room).
      const double bound = o.shape == Shape::kSquare ? 0.85 * std::sqrt(2.0) * r : r;  // square corners
      const double room = std::max(0.0, std::min(jitter.max_shift_px, 0.5 * cell - bound - 1.0));
      cx += uniform(room);
      cy += uniform(room);
    }
    detail::draw_shape(img, o.shape, r, cx, cy, cv::Scalar(c.r, c.g, c.b), angle);
  }
  Image out = Image::make(n, n, 3);
  for (int y = 0; y < n; ++y) std::memcpy(out.at(0, y), img.ptr<uint8_t>(y), size_t(n) * 3);
  return out;
}

Image render_scene(const Scene& scene) { return render_scene(scene, RenderJitter{}, 0); }

Image degrade_image(const Image& rgb8, double noise_sigma, double blur_sigma, uint64_t seed) {
  if (rgb8.channels != 3 || rgb8.bit_depth != 8 || rgb8.empty())
    throw std::runtime_error("degrade_image: expected a non-empty 8-bit RGB image");
  cv::Mat img(rgb8.height, rgb8.width, CV_8UC3, const_cast<uint8_t*>(rgb8.data.data()));
  cv::Mat work = img.clone();
  if (blur_sigma > 0) {
    const int k = 2 * int(std::ceil(3 * blur_sigma)) + 1;
    cv::GaussianBlur(img, work, cv::Size(k, k), blur_sigma, blur_sigma, cv::BORDER_REPLICATE);
  }
  Image out = Image::make(rgb8.width, rgb8.height, 3);
  std::memcpy(out.data.data(), work.data, out.data.size());
  if (noise_sigma > 0) {
    SplitMix64 rng(seed, 0x6e6f697365ull);
    const double kTwoPi = 6.28318530717958647692;
    for (size_t i = 0; i < out.data.size(); i += 2) {
      // Box–Muller: two uniform (0, 1] → two independent standard normals.
      const double u1 = (double(rng.next() >> 11) + 1.0) / 9007199254740992.0;
      const double u2 = double(rng.next() >> 11) / 9007199254740992.0;
      const double m = std::sqrt(-2.0 * std::log(u1));
      const double z[2] = {m * std::cos(kTwoPi * u2), m * std::sin(kTwoPi * u2)};
      for (size_t j = 0; j < 2 && i + j < out.data.size(); ++j) {
        const double v = std::round(out.data[i + j] + noise_sigma * z[j]);
        out.data[i + j] = uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
  return out;
}

uint64_t image_hash(const Image& img) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&](uint64_t b) {
    h ^= b;
    h *= 0x100000001b3ull;
  };
  for (int v : {img.width, img.height, img.channels, img.bit_depth})
    for (int k = 0; k < 4; ++k) mix(uint8_t(uint32_t(v) >> (8 * k)));
  for (uint8_t b : img.data) mix(b);
  return h;
}

}  // namespace janus::vision::shapes
