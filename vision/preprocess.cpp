// Janus-Pro preprocessing and postprocessing (see preprocess.h for the exact rules followed).
#include "vision/preprocess.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "vision/resize.h"

namespace janus::vision {

using kernels::Error;

std::pair<int, int> janus_resized_size(int width, int height, const PreprocessOptions& opt) {
  if (width < 1 || height < 1) {
    throw Error("janus_resized_size: bad image size " + std::to_string(width) + "x" + std::to_string(height));
  }
  const int max_side = std::max(width, height);
  const int s = opt.image_size;
  auto side = [&](int v) {
    double r = opt.size_rule == SizeRule::kTransformers
                   ? std::nearbyint(double(v) * (double(s) / double(max_side)))  // round half to even
                   : std::trunc(double(v) / double(max_side) * double(s));
    return std::max(int(r), opt.min_size);
  };
  return {side(width), side(height)};
}

Image resize_and_pad(const Image& rgb8, const PreprocessOptions& opt) {
  if (rgb8.channels != 3 || rgb8.bit_depth != 8 || rgb8.empty()) {
    throw Error("preprocess: expected a non-empty 8-bit RGB image (use to_rgb8), got " + std::to_string(rgb8.width) +
                "x" + std::to_string(rgb8.height) + "x" + std::to_string(rgb8.channels) + " " +
                std::to_string(rgb8.bit_depth) + "-bit");
  }
  if (opt.image_size < opt.min_size || opt.image_size < 1 || opt.min_size < 1) {
    throw Error("preprocess: image_size " + std::to_string(opt.image_size) + " must be >= min_size " +
                std::to_string(opt.min_size) + " >= 1");
  }
  auto [nw, nh] = janus_resized_size(rgb8.width, rgb8.height, opt);
  Image r = resize_bicubic(rgb8, nw, nh);
  if (nw == nh) return r;
  const int side = std::max(nw, nh);
  Image out = Image::make(side, side, 3);
  for (size_t i = 0; i < size_t(side) * side; ++i) {
    std::copy(opt.background.begin(), opt.background.end(), out.data.begin() + 3 * i);
  }
  const int x0 = nw > nh ? 0 : (side - nw) / 2;
  const int y0 = nw > nh ? (side - nh) / 2 : 0;
  for (int y = 0; y < nh; ++y) {
    std::copy(r.data.begin() + size_t(y) * nw * 3, r.data.begin() + size_t(y + 1) * nw * 3, out.at(x0, y0 + y));
  }
  return out;
}

kernels::Tensor preprocess(const Image& rgb8, const PreprocessOptions& opt) {
  Image sq = resize_and_pad(rgb8, opt);
  const int s = sq.width;
  kernels::Tensor t = kernels::Tensor::empty({3, s, s}, kernels::DType::F32);
  float* dst = t.data<float>();
  float lut[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      float x = float(double(v) * opt.rescale_factor);
      lut[c][v] = (x - opt.mean[c]) / opt.std[c];
    }
  }
  const size_t plane = size_t(s) * s;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) dst[c * plane + i] = lut[c][sq.data[3 * i + c]];
  }
  return t;
}

Image postprocess(const kernels::Tensor& chw) {
  if (chw.dim() != 3 || chw.size(0) != 3 || chw.size(1) < 1 || chw.size(2) < 1 ||
      chw.device() != kernels::Device::CPU) {
    throw Error("postprocess: expected a CPU tensor [3, H, W], got " + kernels::shape_str(chw.shape()));
  }
  kernels::Tensor f = chw.dtype() == kernels::DType::F32 ? chw.contiguous() : chw.to(kernels::DType::F32);
  const int h = int(f.size(1)), w = int(f.size(2));
  const float* src = f.data<float>();
  Image out = Image::make(w, h, 3);
  const size_t plane = size_t(h) * w;
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      float v = (src[c * plane + i] + 1.0f) / 2.0f * 255.0f;
      v = std::isnan(v) ? 0.0f : std::min(std::max(v, 0.0f), 255.0f);
      out.data[3 * i + c] = uint8_t(v);  // truncation, as numpy's float -> uint8 cast
    }
  }
  return out;
}

}  // namespace janus::vision
