#include "train/vq_data.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "vision/resize.h"
#include "vision/shapes_render.h"
#include "vision/shapes_scene.h"

namespace janus::train {

namespace fs = std::filesystem;

void rgb8_to_unit_pixels(const vision::Image& img, float* dst) {
  const size_t plane = size_t(img.width) * size_t(img.height);
  for (size_t i = 0; i < plane; ++i)
    for (size_t c = 0; c < 3; ++c) {
      const float x = float(double(img.data[i * 3 + c]) / 255.0);  // Janus: rescale 1/255, then normalise
      dst[c * plane + i] = (x - 0.5f) / 0.5f;
    }
}

VqImageSource VqImageSource::shapes(uint64_t seed, int size, int64_t batch, int64_t tokens_per_image) {
  if (batch < 1) throw std::runtime_error("VqImageSource: batch must be >= 1");
  VqImageSource s;
  s.shapes_ = true;
  s.seed_ = seed;
  s.size_ = size;
  s.batch_ = batch;
  s.tokens_per_image_ = tokens_per_image;
  return s;
}

VqImageSource VqImageSource::folder(const std::string& dir, int size, int64_t batch, uint64_t seed, bool shuffle,
                                    int64_t tokens_per_image) {
  if (batch < 1) throw std::runtime_error("VqImageSource: batch must be >= 1");
  VqImageSource s;
  s.shapes_ = false;
  s.seed_ = seed;
  s.shuffle_ = shuffle;
  s.size_ = size;
  s.batch_ = batch;
  s.tokens_per_image_ = tokens_per_image;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw std::runtime_error("VqImageSource: '" + dir + "' is not a folder");
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (e.is_regular_file() && ext == ".png") s.files_.push_back(e.path().string());
  }
  std::sort(s.files_.begin(), s.files_.end());
  if (s.files_.empty()) throw std::runtime_error("VqImageSource: no .png files in '" + dir + "'");
  return s;
}

vision::Image VqImageSource::image_at_cursor() {
  vision::Image img;
  if (shapes_) {
    img = vision::shapes::render_scene(vision::shapes::generate_scene(seed_, uint64_t(cursor_.index), size_));
    ++cursor_.index;
    return img;
  }
  const int64_t n = int64_t(files_.size());
  if (cursor_.index >= n) cursor_ = {cursor_.epoch + 1, 0};
  if (order_epoch_ != cursor_.epoch) {
    order_ = epoch_order(n, seed_, cursor_.epoch, shuffle_);
    order_epoch_ = cursor_.epoch;
  }
  const std::string& path = files_[size_t(order_[size_t(cursor_.index)])];
  img = vision::to_rgb8(vision::load_image(path));  // load_image's errors name the file
  if (img.width != size_ || img.height != size_) img = vision::resize_bicubic(img, size_, size_);
  if (++cursor_.index >= n) cursor_ = {cursor_.epoch + 1, 0};
  return img;
}

Batch VqImageSource::next_batch() {
  Batch b;
  const size_t per = size_t(3) * size_t(size_) * size_t(size_);
  std::vector<float> px(per * size_t(batch_));
  for (int64_t i = 0; i < batch_; ++i) rgb8_to_unit_pixels(image_at_cursor(), px.data() + per * size_t(i));
  b.pixel_values.push_back(kernels::Tensor::from_f32({batch_, 3, size_, size_}, px));
  b.rows = batch_;
  b.real_tokens = b.target_tokens = batch_ * tokens_per_image_;
  return b;
}

}  // namespace janus::train
