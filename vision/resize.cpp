// PIL-compatible bicubic resampling (see resize.h for the algorithm and its rounding rules).
#include "vision/resize.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace janus::vision {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Fixed-point weights for one axis: output i reads inputs [lo[i], lo[i] + len[i]) with the
// weights k[i * ksize ...].
struct AxisWeights {
  int ksize = 0;
  std::vector<int> lo, len;
  std::vector<int32_t> k;
};

AxisWeights axis_weights(int in_size, int out_size) {
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  AxisWeights w;
  w.ksize = int(std::ceil(support)) * 2 + 1;
  w.lo.resize(out_size);
  w.len.resize(out_size);
  w.k.assign(size_t(out_size) * w.ksize, 0);
  std::vector<double> kd(w.ksize);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    int lo = int(center - support + 0.5);  // truncation toward zero, then clamped
    if (lo < 0) lo = 0;
    int hi = int(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int len = std::min(hi - lo, w.ksize);
    double sum = 0.0;
    for (int j = 0; j < len; ++j) {
      kd[j] = bicubic((j + lo - center + 0.5) / filterscale);
      sum += kd[j];
    }
    for (int j = 0; j < len; ++j) {
      double v = sum != 0.0 ? kd[j] / sum : kd[j];
      double s = v * double(1 << kPrecisionBits);
      w.k[size_t(i) * w.ksize + j] = int32_t(v < 0 ? -0.5 + s : 0.5 + s);
    }
    w.lo[i] = lo;
    w.len[i] = std::max(len, 0);
  }
  return w;
}

inline uint8_t clip8(int64_t acc) {
  int64_t v = acc >> kPrecisionBits;  // arithmetic shift: floor
  return uint8_t(v < 0 ? 0 : v > 255 ? 255 : v);
}

Image resample_horizontal(const Image& in, int out_w) {
  const AxisWeights w = axis_weights(in.width, out_w);
  const int c = in.channels;
  Image out = Image::make(out_w, in.height, c);
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* row = in.data.data() + size_t(y) * in.width * c;
    uint8_t* dst = out.data.data() + size_t(y) * out_w * c;
    for (int x = 0; x < out_w; ++x) {
      const int32_t* k = w.k.data() + size_t(x) * w.ksize;
      for (int ch = 0; ch < c; ++ch) {
        int64_t acc = 1 << (kPrecisionBits - 1);
        const uint8_t* s = row + size_t(w.lo[x]) * c + ch;
        for (int j = 0; j < w.len[x]; ++j) acc += int64_t(s[size_t(j) * c]) * k[j];
        dst[size_t(x) * c + ch] = clip8(acc);
      }
    }
  }
  return out;
}

Image resample_vertical(const Image& in, int out_h) {
  const AxisWeights w = axis_weights(in.height, out_h);
  const int c = in.channels;
  const size_t row_len = size_t(in.width) * c;
  Image out = Image::make(in.width, out_h, c);
  std::vector<int64_t> acc(row_len);
  for (int y = 0; y < out_h; ++y) {
    const int32_t* k = w.k.data() + size_t(y) * w.ksize;
    std::fill(acc.begin(), acc.end(), int64_t(1) << (kPrecisionBits - 1));
    for (int j = 0; j < w.len[y]; ++j) {
      const uint8_t* s = in.data.data() + size_t(w.lo[y] + j) * row_len;
      const int64_t kj = k[j];
      for (size_t i = 0; i < row_len; ++i) acc[i] += int64_t(s[i]) * kj;
    }
    uint8_t* dst = out.data.data() + size_t(y) * row_len;
    for (size_t i = 0; i < row_len; ++i) dst[i] = clip8(acc[i]);
  }
  return out;
}

}  // namespace

Image resize_bicubic(const Image& img, int new_width, int new_height, PassOrder order) {
  if (img.bit_depth != 8 || (img.channels != 1 && img.channels != 3) || img.empty() ||
      img.data.size() != size_t(img.width) * size_t(img.height) * size_t(img.channels)) {
    throw kernels::Error("resize_bicubic: expected a non-empty 8-bit gray or RGB image, got " +
                         std::to_string(img.width) + "x" + std::to_string(img.height) + "x" +
                         std::to_string(img.channels) + " " + std::to_string(img.bit_depth) + "-bit");
  }
  if (new_width < 1 || new_height < 1) {
    throw kernels::Error("resize_bicubic: bad target size " + std::to_string(new_width) + "x" +
                         std::to_string(new_height));
  }
  const bool horizontal = new_width != img.width, vertical = new_height != img.height;
  if (!horizontal && !vertical) return img;
  if (!horizontal) return resample_vertical(img, new_height);
  if (!vertical) return resample_horizontal(img, new_width);
  const bool vertical_first = order == PassOrder::kPillow13 && new_height < img.height &&
                              int64_t(img.height) - new_height > 2 * (int64_t(img.width) - new_width);
  if (vertical_first) return resample_horizontal(resample_vertical(img, new_height), new_width);
  return resample_vertical(resample_horizontal(img, new_width), new_height);
}

}  // namespace janus::vision
