// Shapes-world detector: foreground segmentation, components, palette vote, template IoU.
#include "vision/shapes_detect.h"

#include <cmath>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "vision/shapes_raster.h"

namespace janus::vision::shapes {

namespace {

double dist2(const uint8_t* p, const Rgb& c) {
  const double dr = double(p[0]) - c.r, dg = double(p[1]) - c.g, db = double(p[2]) - c.b;
  return dr * dr + dg * dg + db * db;
}

struct Centroid {
  double x = 0, y = 0;
  int n = 0;
};
Centroid centroid(const cv::Mat& mask) {
  Centroid c;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* row = mask.ptr<uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x)
      if (row[x]) {
        c.x += x;
        c.y += y;
        ++c.n;
      }
  }
  if (c.n) c.x /= c.n, c.y /= c.n;
  return c;
}

double iou(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat i, u;
  cv::bitwise_and(a, b, i);
  cv::bitwise_or(a, b, u);
  const int nu = cv::countNonZero(u);
  return nu ? double(cv::countNonZero(i)) / nu : 0.0;
}

}  // namespace

DetectResult detect_scene(const Image& image, const DetectOptions& opt) {
  if (image.empty() || image.width != image.height || image.width < kMinCanvas || image.width > kMaxCanvas)
    throw std::runtime_error("detect_scene: expected a square image with side in [" + std::to_string(kMinCanvas) +
                             ", " + std::to_string(kMaxCanvas) + "], got " + std::to_string(image.width) + "x" +
                             std::to_string(image.height));
  const Image rgb = (image.channels == 3 && image.bit_depth == 8) ? Image() : to_rgb8(image);
  const Image& im = rgb.empty() ? image : rgb;
  const int n = im.width;
  const double cell = double(n) / kGrid;

  // 1. foreground and per-pixel palette votes (-1: no vote).
  cv::Mat fg(n, n, CV_8U, cv::Scalar(0));
  cv::Mat vote(n, n, CV_8S, cv::Scalar(-1));
  const double fg2 = opt.foreground_threshold * opt.foreground_threshold;
  const double tol2 = opt.colour_tolerance * opt.colour_tolerance;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const uint8_t* p = im.at(x, y);
      if (dist2(p, kBackground) <= fg2) continue;
      fg.at<uint8_t>(y, x) = 255;
      int best = -1;
      double bd = tol2;
      for (int k = 0; k < kNumColours; ++k) {
        const double d = dist2(p, kPalette[k]);
        if (d <= bd) bd = d, best = k;
      }
      vote.at<int8_t>(y, x) = int8_t(best);
    }

  // 2. components.
  cv::Mat labels, stats, cents;
  const int nl = cv::connectedComponentsWithStats(fg, labels, stats, cents, 8, CV_32S);
  const double r_small = detail::object_radius(Size::kSmall, n);
  const int min_area = int(std::ceil(opt.min_area_fraction * r_small * r_small));

  DetectResult res;
  res.scene.canvas = n;
  struct Candidate {
    int label, area, colour;
  };
  std::vector<Candidate> best_in_cell(kGrid * kGrid, Candidate{-1, 0, -1});
  for (int l = 1; l < nl; ++l) {
    const int area = stats.at<int>(l, cv::CC_STAT_AREA);
    if (area < min_area) {
      ++res.ignored;
      continue;
    }
    // 3. colour vote.
    int counts[kNumColours] = {};
    const int x0 = stats.at<int>(l, cv::CC_STAT_LEFT), y0 = stats.at<int>(l, cv::CC_STAT_TOP);
    const int x1 = x0 + stats.at<int>(l, cv::CC_STAT_WIDTH), y1 = y0 + stats.at<int>(l, cv::CC_STAT_HEIGHT);
    for (int y = y0; y < y1; ++y) {
      const int* lr = labels.ptr<int>(y);
      const int8_t* vr = vote.ptr<int8_t>(y);
      for (int x = x0; x < x1; ++x)
        if (lr[x] == l && vr[x] >= 0) ++counts[vr[x]];
    }
    int colour = -1;
    for (int k = 0; k < kNumColours; ++k)
      if (counts[k] > 0 && (colour < 0 || counts[k] > counts[colour])) colour = k;
    if (colour < 0) {
      ++res.ignored;
      continue;
    }
    // 4. cell from the centroid.
    const double cx = cents.at<double>(l, 0), cy = cents.at<double>(l, 1);
    const int col = std::min(kGrid - 1, std::max(0, int(std::floor((cx + 0.5) / cell))));
    const int row = std::min(kGrid - 1, std::max(0, int(std::floor((cy + 0.5) / cell))));
    Candidate& slot = best_in_cell[row * kGrid + col];
    if (slot.label >= 0) ++res.ignored;
    if (area > slot.area) slot = Candidate{l, area, colour};
  }

  // 5. shape and size by template IoU.
  for (int c = 0; c < kGrid * kGrid; ++c) {
    const Candidate& cand = best_in_cell[c];
    if (cand.label < 0) continue;
    const int row = c / kGrid, col = c % kGrid;
    cv::Mat mask = (labels == cand.label);
    const Centroid mc = centroid(mask);
    const double ncx = (col + 0.5) * cell - 0.5, ncy = (row + 0.5) * cell - 0.5;
    Detection det;
    det.object.row = row;
    det.object.col = col;
    det.object.colour = Colour(cand.colour);
    det.area = cand.area;
    det.cx = mc.x;
    det.cy = mc.y;
    det.iou = -1;
    // 5a. Canonical templates in this cell: a rendered object matches one pixel for pixel.
    int canonical_area[kNumShapes][kNumSizes];
    cv::Mat t(n, n, CV_8U), diff;
    for (int s = 0; s < kNumShapes && det.iou < 1; ++s)
      for (int z = 0; z < kNumSizes && det.iou < 1; ++z) {
        t.setTo(0);
        detail::draw_shape(t, Shape(s), detail::object_radius(Size(z), n), ncx, ncy, cv::Scalar(255));
        canonical_area[s][z] = cv::countNonZero(t);
        cv::compare(t, mask, diff, cv::CMP_NE);
        if (cv::countNonZero(diff) == 0) {
          det.iou = 1;
          det.object.shape = Shape(s);
          det.object.size = Size(z);
        }
      }
    // 5b. Otherwise every shape at rotations within ±max_rotation_deg, scaled to the component's
    // area and centred on its centroid (so only the form is compared); the size then follows from
    // the area, split at the geometric mean of the canonical small and large areas of that shape.
    if (det.iou < 1) {
      const double kDeg = 3.14159265358979323846 / 180;
      const double r0 = detail::object_radius(Size::kLarge, n);
      double best_score = -1e9;
      for (int s = 0; s < kNumShapes; ++s) {
        // Area prior: shapes differ in area at the same radius (a blurred star is a blob, but a
        // small one), so an area far from both canonical areas of a shape costs score.
        const double log_ratio = std::min(std::abs(std::log(double(cand.area) / canonical_area[s][0])),
                                          std::abs(std::log(double(cand.area) / canonical_area[s][1])));
        const double penalty = opt.area_penalty * std::max(0.0, log_ratio - std::log(1 + opt.area_slack));
        const int steps = (Shape(s) == Shape::kCircle || opt.rotation_step_deg <= 0)
                              ? 0
                              : int(std::floor(opt.max_rotation_deg / opt.rotation_step_deg + 1e-9));
        for (int k = -steps; k <= steps; ++k) {
          const double angle = k * opt.rotation_step_deg * kDeg;
          t.setTo(0);
          detail::draw_shape(t, Shape(s), r0, ncx, ncy, cv::Scalar(255), angle);
          const Centroid tc = centroid(t);
          if (tc.n == 0) continue;
          const double f = std::sqrt(double(cand.area) / tc.n);
          t.setTo(0);
          detail::draw_shape(t, Shape(s), r0 * f, mc.x - (tc.x - ncx) * f, mc.y - (tc.y - ncy) * f, cv::Scalar(255),
                             angle);
          const double v = iou(t, mask);
          if (v - penalty > best_score) {
            best_score = v - penalty;
            det.iou = v;
            det.object.shape = Shape(s);
          }
        }
      }
      const int sh = int(det.object.shape);
      det.object.size = double(cand.area) * cand.area < double(canonical_area[sh][0]) * canonical_area[sh][1]
                            ? Size::kSmall
                            : Size::kLarge;
    }
    if (det.iou < opt.min_iou) {
      ++res.ignored;
      continue;
    }
    res.scene.objects.push_back(det.object);
    res.detections.push_back(det);
  }
  return res;  // cells visited in reading order: already canonical
}

}  // namespace janus::vision::shapes
