// Text tasks of the shapes world (DESIGN §5): captions (and their parser), VQA, text-to-image
// prompts and reasoning questions with <think> traces, all derived deterministically from a
// vision::shapes::Scene. Scoring is in shapes_score.h, data-set files in shapes_dataset.h.
//
// Caption (canonical, reading order of cells, lower case, one sentence):
//   "a large red circle in the top left, a small blue square in the center."
//   = "a <size> <colour> <shape> in the <cell>" joined by ", " and ended by ".".
// parse_caption accepts the canonical form and small variations (any case, "an"/"one" for "a",
// "and" or ", and" between items, "centre", extra spaces, missing final period, any item order).
//
// VQA (answers are one canonical word, a cell name or a digit string):
//   colour    "What colour is the <shape> in the <cell>?"          -> "red"
//   shape     "What shape is in the <cell>?"                        -> "circle"
//   size      "What size is the <shape> in the <cell>?"             -> "small" | "large"
//   count     "How many shapes are there?"                          -> "2"
//   count_colour "How many <colour> shapes are there?"              -> "0".."3"
//   count_shape  "How many <shape>s are there?"                     -> "0".."3"
//   position  "Where is the <colour> <shape>?" (only when unique)   -> "top left"
//   exist     "Is there a <colour> <shape>?"                        -> "yes" | "no" (balanced)
// Reasoning (answer = "<think>trace</think> final"):
//   sides   "How many sides do the shapes have in total?"
//           -> "<think>triangle: 3 sides, square: 4 sides. total = 3 + 4 = 7.</think> 7"
//   colour_sum "How many shapes are red or blue?"
//           -> "<think>red: 1, blue: 0. total = 1 + 0 = 1.</think> 1"
//   compare "Are there more large shapes than small shapes?"
//           -> "<think>large: 2, small: 1. 2 > 1.</think> yes"   (2 = 2 / 1 < 2 -> no)
//   row     "How many shapes are in the top row?"
//           -> "<think>top row: red circle, blue square. count = 2.</think> 2"
//           (no objects: "<think>top row: none. count = 0.</think> 0")
// Which questions a scene gets is drawn from SplitMix64(seed, index) (a stream separate from the
// scene's own), so a data set is a pure function of (seed, n, canvas).
// Thread-safety: pure functions.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vision/shapes_scene.h"

namespace janus::train::shapes {

using vision::shapes::Scene;

struct QA {
  std::string kind;  // "colour", "count", ..., "sides", ...
  std::string question, answer;
};

std::string caption(const Scene& scene);
// Parses a caption into a canonical scene (canvas = `canvas`). Returns false and sets *error
// (when given) to the reason when the text is not a caption of a valid scene.
bool parse_caption(const std::string& text, Scene* out, std::string* error = nullptr, int canvas = 64);

constexpr const char* kCaptionPrompt = "Describe the image.";

// `count` questions of distinct kinds for scene `index` of data set `seed`.
std::vector<QA> vqa_questions(const Scene& scene, uint64_t seed, uint64_t index, int count = 4);
std::vector<QA> reasoning_questions(const Scene& scene, uint64_t seed, uint64_t index, int count = 2);

}  // namespace janus::train::shapes
