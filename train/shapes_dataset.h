// Shapes-world data sets on disk (`janus shapes gen` / `janus shapes eval`).
//
// Layout of a data set folder DIR (generate_dataset):
//   DIR/meta.json            {"generator": "janus-shapes-v1", "seed", "n", "canvas"}
//   DIR/images/NNNNNN.png    scene NNNNNN rendered (render_scene), tEXt "scene" = its JSON
//   DIR/scenes.jsonl         {"id": "NNNNNN", "image": "images/NNNNNN.png", "scene": {...}}
//   DIR/captions.jsonl       task "caption",   id "NNNNNN-cap",     prompt kCaptionPrompt
//   DIR/vqa.jsonl            task "vqa",       id "NNNNNN-vqa-K",   K = 0..vqa_per_scene-1
//   DIR/reasoning.jsonl      task "reasoning", id "NNNNNN-rsn-K",   answer "<think>…</think> A"
//   DIR/t2i.jsonl            task "t2i",       id "NNNNNN",         prompt = caption, answer ""
// Every record line is the train/data.h schema plus extras (ignored by the loader):
//   {"id", "task", "kind", "prompt", "answer", "images": ["images/NNNNNN.png"], "scene": {...}}
// For "t2i" the image is the generation target, not an input.
// Deterministic: the folder is a pure function of (seed, n, canvas). Resumable: images already
// present are kept (they are written atomically, so a present file is complete); the JSONL files
// and meta.json are rewritten atomically at the end. A folder made with another seed or canvas
// is refused (std::runtime_error naming meta.json), so data sets never mix.
//
// Evaluation:
//  evaluate_answers: ground truth = every record of DIR/{captions,vqa,reasoning}.jsonl by id;
//    answer files are JSONL {"id", "answer"} (a data set's own JSONL files qualify, scoring 100 %).
//    Each answered id is scored with answer_correct under its record's task; ids not in the data
//    set are counted in `unknown`; ground-truth records of an answered task without an answer
//    count as wrong (`missing`). Tallies per task and per (task, kind).
//  evaluate_images: prompts = JSONL records with "id" and "prompt" (a caption) and optionally
//    "scene" (used when present, else the caption is parsed). The images for prompt id X are
//    IMAGES/X.png and IMAGES/X_K.png (K digits, e.g. 4 samples per prompt); each is one sample.
//    Prompts without images count in `missing_prompts` (not scored). An image the detector
//    refuses (not square, side outside [kMinCanvas, kMaxCanvas]) is scored as detecting nothing
//    and counted in `undetectable` (both evaluate_images functions).
//  evaluate_images_for_prompt: every PNG of a folder against one prompt scene.
// Errors: std::runtime_error naming the file (and line) and the problem.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/shapes_score.h"

namespace janus::train::shapes {

struct GenOptions {
  std::string out;  // DIR
  int64_t n = 1000;
  uint64_t seed = 0;
  int canvas = 64;
  int vqa_per_scene = 4, reasoning_per_scene = 2;
};
struct GenStats {
  int64_t written = 0, kept = 0;  // images written now / already present
};
// progress(done, total) after each scene.
GenStats generate_dataset(const GenOptions& opt, const std::function<void(int64_t, int64_t)>& progress = {});

// The records of scene `index` (all tasks), as JSON objects in the schema above.
std::vector<nlohmann::json> scene_records(uint64_t seed, int64_t index, int canvas, int vqa_per_scene = 4,
                                          int reasoning_per_scene = 2);
std::string scene_id(int64_t index);  // "000123"

struct AnswerReport {
  std::map<std::string, AnswerTally> per_task;  // "caption", "vqa", "reasoning"
  std::map<std::string, AnswerTally> per_kind;  // "vqa/colour", "reasoning/sides", ...
  int64_t missing = 0, unknown = 0;
  nlohmann::json to_json() const;
};
AnswerReport evaluate_answers(const std::string& data_dir, const std::vector<std::string>& answer_files);

struct ImageReport {
  ImageTally all;
  std::map<int, ImageTally> by_objects;  // by the prompt's object count
  int64_t prompts = 0, missing_prompts = 0;
  int64_t undetectable = 0;  // images of a size the detector refuses (scored as detecting nothing)
  double mean_iou = 0;       // mean template IoU of detected objects
  nlohmann::json to_json() const;
};
ImageReport evaluate_images(const std::string& images_dir, const std::string& prompts_file);

// Every *.png directly in `images_dir` (sorted by name) scored as a sample of one prompt scene
// (e.g. the images `janus generate` wrote for one caption). `verdicts` (optional) receives one
// entry per image. Throws when the folder holds no PNG.
struct ImageVerdict {
  std::string file;
  Scene detected;
  ImageScore score;
};
ImageReport evaluate_images_for_prompt(const std::string& images_dir, const Scene& prompt,
                                       std::vector<ImageVerdict>* verdicts = nullptr);

}  // namespace janus::train::shapes
