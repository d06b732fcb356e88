// How well a VQ image tokenizer reconstructs shapes-world scenes (DESIGN §5): the measure behind
// the "Shapes VQ tokenizer" section of bench/RESULTS.md.
//
// For scenes i = 0 … n−1 of generate_scene(seed, i, image_size) (a seed never used for training:
// held out): render (8-bit RGB) → pixels in [-1, 1] (vq_data.h) → VqModel::encode (L2-normalised
// rule) → codes → VqModel::decode → postprocess (vision/preprocess.h: clip, ×255, truncate) →
// detect_scene (vision/shapes_detect.h), compared with the generated scene.
//   mse            mean over all scenes and elements of (decoded − pixels)², in [-1, 1] units
//                  (the training reconstruction loss, before postprocessing)
//   codes_used     distinct codes over all scenes' latent grids; usage = codes_used / codebook size
//   exact          scenes whose detection equals the scene (every object's shape, colour, size, cell)
//   objects_right  detected objects that match an object of the scene exactly, over all scene objects
//   wrong_*        scene objects whose cell holds a detection with another shape / colour / size (an
//                  object can count in several), missing = no detection in its cell, extra =
//                  detections in empty cells
// Errors: kernels::Error / std::runtime_error from the model (wrong image size). Thread-safe as
// VqModel's const methods.
#pragma once
#include <cstdint>

#include "vision/image.h"
#include "vision/shapes_scene.h"
#include "vision/vq.h"

namespace janus::train {

struct VqShapesEval {
  int64_t scenes = 0;
  double mse = 0;
  int64_t codes_used = 0, codebook_size = 0;
  int64_t exact = 0;
  int64_t objects = 0, objects_right = 0;
  int64_t wrong_shape = 0, wrong_colour = 0, wrong_size = 0, missing = 0, extra = 0;
  int64_t wrong_shape_of[vision::shapes::kNumShapes][vision::shapes::kNumSizes] = {};  // by true shape, size
  double seconds = 0;

  double usage() const { return codebook_size ? double(codes_used) / double(codebook_size) : 0; }
  double exact_rate() const { return scenes ? double(exact) / double(scenes) : 0; }
};

// 8-bit RGB S×S image → encode → decode → postprocess: what the tokenizer keeps of it.
vision::Image vq_reconstruct(const vision::VqModel& model, const vision::Image& rgb8);

// `batch` scenes are encoded and decoded together (memory vs speed only; results do not depend
// on it beyond float summation order).
VqShapesEval evaluate_vq_shapes(const vision::VqModel& model, uint64_t seed, int64_t n, int image_size,
                                int64_t batch = 16);

}  // namespace janus::train
