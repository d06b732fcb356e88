// Image batches for VQ tokenizer training (train/run_vq.h): a DataSource whose batches carry one
// pixel tensor instead of tokens.
//
// Sources:
//   shapes scenes  image i of the stream = render_scene(generate_scene(seed, i, size))
//                  (vision/shapes_*.h), generated on the fly; the stream never repeats. Cursor
//                  {epoch 0, index i}.
//   PNG folder     every *.png directly in the folder (sorted by name), converted to 8-bit RGB,
//                  bicubic-resized (vision/resize.h) to size × size when it is not already that;
//                  epoch e visits them in epoch_order(n, seed, e, shuffle) (data.h). Cursor
//                  {epoch, position in that order}.
// Pixels: p ∈ [0, 255] → float32(p / 255) then (x − 0.5) / 0.5, i.e. [-1, 1] as Janus'
// preprocessing (mean = std = 0.5), layout CHW.
//
// Batch: pixel_values = {one f32 tensor [batch, 3, size, size]}; real_tokens = batch ·
// tokens_per_image (latent codes, for the progress line's throughput); examples/tokens empty.
// seek(cursor) then next_batch() returns exactly the batch a straight run would have returned
// there (exact resume). Errors: std::runtime_error naming the folder or file (no PNGs, an
// unreadable image). Not thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "train/data.h"
#include "vision/image.h"

namespace janus::train {

// 8-bit RGB size × size image → f32 [3, size, size] in [-1, 1] written at `dst` (3·size² floats).
void rgb8_to_unit_pixels(const vision::Image& rgb8, float* dst);

class VqImageSource : public DataSource {
 public:
  // On-the-fly shapes scenes.
  static VqImageSource shapes(uint64_t seed, int size, int64_t batch, int64_t tokens_per_image);
  // A folder of PNGs.
  static VqImageSource folder(const std::string& dir, int size, int64_t batch, uint64_t seed, bool shuffle,
                              int64_t tokens_per_image);

  Batch next_batch() override;
  DataCursor cursor() const override { return cursor_; }
  void seek(const DataCursor& c) override { cursor_ = c; }

  int64_t num_files() const { return int64_t(files_.size()); }  // 0 for shapes

 private:
  VqImageSource() = default;
  vision::Image image_at_cursor();  // the image at cursor_, then advances the cursor

  bool shapes_ = true;
  uint64_t seed_ = 0;
  bool shuffle_ = true;
  int size_ = 64;
  int64_t batch_ = 1, tokens_per_image_ = 0;
  std::vector<std::string> files_;
  int64_t order_epoch_ = -1;
  std::vector<int64_t> order_;
  DataCursor cursor_;
};

}  // namespace janus::train
