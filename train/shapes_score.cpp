// Shapes-world scoring: answer normalisation and GenEval-style image scores.
#include "train/shapes_score.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <tuple>
#include <vector>

#include "train/shapes_tasks.h"

namespace janus::train::shapes {

using namespace vision::shapes;

std::string normalize_answer(const std::string& text) {
  std::string lower;
  for (char c : text) lower += char(std::tolower(static_cast<unsigned char>(c)));
  std::istringstream ws(lower);
  std::vector<std::string> words;
  for (std::string w; ws >> w;) words.push_back(w);
  while (!words.empty()) {  // trailing punctuation (possibly a lone ".")
    std::string& last = words.back();
    while (!last.empty() && (last.back() == '.' || last.back() == '!' || last.back() == '?')) last.pop_back();
    if (!last.empty()) break;
    words.pop_back();
  }
  if (words.size() > 1 && (words[0] == "a" || words[0] == "an" || words[0] == "the")) words.erase(words.begin());
  static const char* const kNumbers[] = {"zero", "one",   "two",   "three", "four", "five",
                                         "six",  "seven", "eight", "nine",  "ten"};
  std::string out;
  for (std::string& w : words) {
    for (int k = 0; k <= 10; ++k)
      if (w == kNumbers[k]) w = std::to_string(k);
    if (w == "centre") w = "center";
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

std::string final_answer(const std::string& text) {
  const size_t p = text.rfind("</think>");
  return p == std::string::npos ? text : text.substr(p + 8);
}

bool has_think_trace(const std::string& text) {
  const size_t open = text.find("<think>");
  return open != std::string::npos && text.find("</think>", open + 7) != std::string::npos;
}

bool answer_correct(const std::string& task, const std::string& prediction, const std::string& truth) {
  if (task == "caption") {
    Scene p, t;
    return parse_caption(prediction, &p) && parse_caption(truth, &t) && p == t;
  }
  return normalize_answer(final_answer(prediction)) == normalize_answer(final_answer(truth));
}

namespace {
template <typename Key>
bool same_multiset(const Scene& a, const Scene& b, Key key) {
  using K = decltype(key(Object{}));
  std::vector<K> ka, kb;
  for (const Object& o : a.objects) ka.push_back(key(o));
  for (const Object& o : b.objects) kb.push_back(key(o));
  std::sort(ka.begin(), ka.end());
  std::sort(kb.begin(), kb.end());
  return ka == kb;
}
}  // namespace

ImageScore score_image(const Scene& prompt, const Scene& detected) {
  ImageScore s;
  s.count = prompt.objects.size() == detected.objects.size();
  s.object = same_multiset(prompt, detected, [](const Object& o) { return int(o.shape); });
  s.colour =
      same_multiset(prompt, detected, [](const Object& o) { return std::make_pair(int(o.shape), int(o.colour)); });
  s.position =
      same_multiset(prompt, detected, [](const Object& o) { return std::make_tuple(int(o.shape), o.row, o.col); });
  s.size = same_multiset(prompt, detected, [](const Object& o) { return std::make_pair(int(o.shape), int(o.size)); });
  Scene p = prompt, d = detected;
  canonicalise(&p);
  canonicalise(&d);
  s.exact = p == d;
  return s;
}

void ImageTally::add(const ImageScore& s) {
  ++n;
  count += s.count;
  object += s.object;
  colour += s.colour;
  position += s.position;
  size += s.size;
  exact += s.exact;
}

nlohmann::json ImageTally::to_json() const {
  return {{"n", n},
          {"object", rate(object)},
          {"count", rate(count)},
          {"colour", rate(colour)},
          {"position", rate(position)},
          {"size", rate(size)},
          {"exact", rate(exact)},
          {"overall", overall()}};
}

}  // namespace janus::train::shapes
