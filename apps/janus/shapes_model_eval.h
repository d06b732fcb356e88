// `janus shapes eval --model`: runs a Janus model on a shapes-world data set (train/shapes_dataset.h)
// and writes the files the file-based eval scores. In OUT:
//   truth/{captions,vqa,reasoning,t2i}.jsonl   the records evaluated: the first n lines of each
//                                              selected task file of DATA (all when n < 0), verbatim
//   answers_<task>.jsonl   {"id", "answer"} per understanding record (caption, vqa, reasoning), the
//                          answer generated greedily exactly as `janus chat --image IMG "prompt"`
//                          (default system prompt, stop at EOS) with max_new_tokens
//   images/<id>_<k>.png    k < images_per_prompt per t2i prompt, exactly as `janus generate
//                          --prompt P -n K --cfg C --temperature T --seed S` (every prompt uses seed S;
//                          C and T default to the model folder's, as in `janus generate`)
// Every file is written atomically once complete, so a file present is whole; the PNGs already in
// OUT/images are removed before t2i starts, so stale samples are never scored. Scoring is left to
// evaluate_answers(truth, answer_files) and evaluate_images(images, prompts).
// Errors: std::runtime_error naming the file (a missing task file or image of DATA, an unknown
// task, a bad record) before the model is loaded; model loading errors name the model folder or
// file. Nothing is written to OUT before the model has loaded.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/janus/janus_session.h"

namespace janus::app {

struct ShapesModelEvalOptions {
  std::string model, data, out;
  int64_t n = -1;  // records per task file; < 0: all
  int64_t images_per_prompt = 4;
  // Image sampling; unset: the model folder's defaults (JanusSession::image_sampling).
  std::optional<float> cfg, temperature;
  uint64_t seed = 0;
  int64_t max_new_tokens = 96;
  std::vector<std::string> tasks = {"caption", "vqa", "reasoning", "t2i"};
};

struct ShapesModelEvalFiles {
  std::string truth;                      // OUT/truth
  std::vector<std::string> answer_files;  // OUT/answers_<task>.jsonl of the understanding tasks run
  std::string images, prompts;            // OUT/images, OUT/truth/t2i.jsonl (empty without t2i)
  std::string model_dir;                  // the resolved model folder
  ImageSampling sampling;                 // the image sampling used (source: where it came from)
};

// progress(unit, done, total) after every record ("records") and every t2i prompt ("prompts").
ShapesModelEvalFiles run_shapes_model_eval(const ShapesModelEvalOptions& opt,
                                           const std::function<void(const char*, int64_t, int64_t)>& progress = {});

}  // namespace janus::app
