// Scoring for the shapes world: answers against ground truth (VQA, reasoning, captions) and
// generated images against their prompt scenes (GenEval-style), plus the per-task tallies that
// `janus shapes eval` prints.
//
// Answers:
//   normalize_answer: lower case; whitespace collapsed and trimmed; trailing ".", "!", "?"
//     removed; a leading "a ", "an " or "the " removed; number words zero..ten → digits;
//     "centre" → "center".
//   final_answer: the text after the last "</think>" (the whole text when there is none).
//   answer_correct(task, prediction, truth):
//     "caption"   both parse (parse_caption) to the same scene (exact-scene accuracy);
//     otherwise   normalize_answer(final_answer(prediction)) == normalize_answer(final_answer(truth)).
//   has_think_trace: the prediction holds "<think>" followed later by "</think>".
//
// Images (one generated image, its detected scene D = detect_scene(image) and the prompt scene P;
// every comparison is between multisets, so order and extra detail do not matter):
//   count     |D| == |P|
//   object    multiset of shapes of D == that of P
//   colour    multiset of (shape, colour) pairs equal (attribute binding)
//   position  multiset of (shape, cell) pairs equal
//   size      multiset of (shape, size) pairs equal (reported, not part of overall)
//   exact     D == P (every attribute of every object)
// Accuracy of a category = fraction of images for which it holds; overall = the mean of the
// object, count, colour and position accuracies (as GenEval's overall is the mean over its
// tasks). Every image generated for a prompt counts as one sample.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "vision/shapes_scene.h"

namespace janus::train::shapes {

using vision::shapes::Scene;

std::string normalize_answer(const std::string& text);
std::string final_answer(const std::string& text);
bool has_think_trace(const std::string& text);
bool answer_correct(const std::string& task, const std::string& prediction, const std::string& truth);

struct ImageScore {
  bool count = false, object = false, colour = false, position = false, size = false, exact = false;
};
ImageScore score_image(const Scene& prompt, const Scene& detected);

struct ImageTally {
  int64_t n = 0, count = 0, object = 0, colour = 0, position = 0, size = 0, exact = 0;
  void add(const ImageScore& s);
  double rate(int64_t k) const { return n ? double(k) / double(n) : 0.0; }
  double overall() const { return (rate(object) + rate(count) + rate(colour) + rate(position)) / 4; }
  nlohmann::json to_json() const;  // {"n", "object", "count", "colour", "position", "size", "exact", "overall"}
};

struct AnswerTally {
  int64_t n = 0, correct = 0;
  int64_t think = 0;  // predictions with a think trace (reasoning tasks)
  double accuracy() const { return n ? double(correct) / double(n) : 0.0; }
};

}  // namespace janus::train::shapes
