#include "train/vq_eval.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <vector>

#include "train/vq_data.h"
#include "vision/preprocess.h"
#include "vision/shapes_detect.h"
#include "vision/shapes_render.h"
#include "vision/shapes_scene.h"

namespace janus::train {

namespace shapes = vision::shapes;

vision::Image vq_reconstruct(const vision::VqModel& model, const vision::Image& rgb8) {
  const vision::Image img = vision::to_rgb8(rgb8);
  const int64_t f = model.config().downsample_factor();
  std::vector<float> px(size_t(3) * size_t(img.width) * size_t(img.height));
  rgb8_to_unit_pixels(img, px.data());
  const kernels::Tensor codes = model.encode(kernels::Tensor::from_f32({1, 3, img.height, img.width}, px));
  return vision::postprocess(model.decode(codes, img.height / f, img.width / f).select(0, 0));
}

VqShapesEval evaluate_vq_shapes(const vision::VqModel& model, uint64_t seed, int64_t n, int size, int64_t batch) {
  const auto t0 = std::chrono::steady_clock::now();
  VqShapesEval ev;
  ev.codebook_size = model.config().num_embeddings;
  const int64_t f = model.config().downsample_factor(), g = size / f;
  const size_t per = size_t(3) * size_t(size) * size_t(size);
  std::set<int64_t> used;
  double sq = 0;
  batch = std::max<int64_t>(1, batch);
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t B = std::min(batch, n - start);
    std::vector<shapes::Scene> scenes;
    std::vector<float> px(per * size_t(B));
    for (int64_t b = 0; b < B; ++b) {
      scenes.push_back(shapes::generate_scene(seed, uint64_t(start + b), size));
      rgb8_to_unit_pixels(shapes::render_scene(scenes.back()), px.data() + per * size_t(b));
    }
    const kernels::Tensor pixels = kernels::Tensor::from_f32({B, 3, size, size}, px);
    const kernels::Tensor codes = model.encode(pixels);
    for (int64_t c : codes.to_i64_vector()) used.insert(c);
    const kernels::Tensor out = model.decode(codes, g, g);
    const std::vector<float> rec = out.to_f32_vector();
    for (size_t i = 0; i < rec.size(); ++i) sq += double(rec[i] - px[i]) * double(rec[i] - px[i]);
    for (int64_t b = 0; b < B; ++b) {
      const shapes::Scene found = shapes::detect_scene(vision::postprocess(out.select(0, b))).scene;
      const shapes::Scene& want = scenes[size_t(b)];
      ev.exact += found == want;
      ev.objects += int64_t(want.objects.size());
      for (const auto& o : want.objects) {
        ev.objects_right += std::find(found.objects.begin(), found.objects.end(), o) != found.objects.end();
        auto same_cell = [&](const shapes::Object& d) { return d.row == o.row && d.col == o.col; };
        const auto d = std::find_if(found.objects.begin(), found.objects.end(), same_cell);
        if (d == found.objects.end()) {
          ++ev.missing;
          continue;
        }
        ev.wrong_shape += d->shape != o.shape;
        ev.wrong_shape_of[int(o.shape)][int(o.size)] += d->shape != o.shape;
        ev.wrong_colour += d->colour != o.colour;
        ev.wrong_size += d->size != o.size;
      }
      for (const auto& d : found.objects) {
        auto same_cell = [&](const shapes::Object& o) { return d.row == o.row && d.col == o.col; };
        ev.extra += std::find_if(want.objects.begin(), want.objects.end(), same_cell) == want.objects.end();
      }
    }
  }
  ev.scenes = n;
  ev.mse = n ? sq / double(per * size_t(n)) : 0;
  ev.codes_used = int64_t(used.size());
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ev;
}

}  // namespace janus::train
