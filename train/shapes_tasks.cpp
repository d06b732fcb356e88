// Shapes-world text tasks: captions, caption parser, VQA and reasoning questions.
#include "train/shapes_tasks.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <sstream>

namespace janus::train::shapes {

using namespace vision::shapes;

namespace {

std::string describe(const Object& o) { return std::string(colour_name(o.colour)) + " " + shape_name(o.shape); }
std::string where(const Object& o) { return std::string(shape_name(o.shape)) + " in the " + cell_name(o.row, o.col); }

// Salt separating question draws from the scene draw of the same (seed, index).
constexpr uint64_t kVqaSalt = 0x7661710000000000ull, kReasonSalt = 0x72736e0000000000ull;

std::string join_sum(const std::vector<int>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? " + " : "") + std::to_string(v[i]);
  return s;
}

int count_if_obj(const Scene& s, const std::function<bool(const Object&)>& f) {
  return int(std::count_if(s.objects.begin(), s.objects.end(), f));
}

}  // namespace

std::string caption(const Scene& scene) {
  std::string out;
  for (size_t i = 0; i < scene.objects.size(); ++i) {
    const Object& o = scene.objects[i];
    out +=
        (i ? ", a " : "a ") + std::string(size_name(o.size)) + " " + describe(o) + " in the " + cell_name(o.row, o.col);
  }
  return out + ".";
}

bool parse_caption(const std::string& text, Scene* out, std::string* error, int canvas) {
  auto fail = [&](const std::string& m) {
    if (error) *error = m;
    return false;
  };
  std::string t;
  for (char c : text) t += char(std::tolower(static_cast<unsigned char>(c)));
  // Items are separated by "," and/or the word "and"; words by whitespace.
  for (char& c : t)
    if (c == '.' || c == ';' || c == '\n') c = ',';
  std::vector<std::vector<std::string>> items(1);
  std::istringstream ws(t);
  std::string w;
  auto split_commas = [&](const std::string& tok) {
    std::string cur;
    for (char c : tok) {
      if (c == ',') {
        if (!cur.empty()) items.back().push_back(cur);
        cur.clear();
        if (!items.back().empty()) items.emplace_back();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) items.back().push_back(cur);
  };
  while (ws >> w) {
    if (w == "and") {
      if (!items.back().empty()) items.emplace_back();
      continue;
    }
    split_commas(w);
  }
  if (items.back().empty()) items.pop_back();
  if (items.empty()) return fail("empty caption");
  Scene s;
  s.canvas = canvas;
  for (const auto& it : items) {
    std::string item;
    for (const auto& x : it) item += (item.empty() ? "" : " ") + x;
    // a|an|one <size> <colour> <shape> in the <cell words>
    if (it.size() < 6) return fail("item \"" + item + "\" is not \"a <size> <colour> <shape> in the <place>\"");
    if (it[0] != "a" && it[0] != "an" && it[0] != "one") return fail("item \"" + item + "\" does not start with \"a\"");
    Object o;
    if (!parse_size(it[1], &o.size)) return fail("unknown size \"" + it[1] + "\" in \"" + item + "\"");
    if (!parse_colour(it[2], &o.colour)) return fail("unknown colour \"" + it[2] + "\" in \"" + item + "\"");
    if (!parse_shape(it[3], &o.shape)) return fail("unknown shape \"" + it[3] + "\" in \"" + item + "\"");
    if (it[4] != "in" || it[5] != "the") return fail("expected \"in the\" in \"" + item + "\"");
    std::string cell;
    for (size_t k = 6; k < it.size(); ++k) cell += (cell.empty() ? "" : " ") + (it[k] == "centre" ? "center" : it[k]);
    if (!parse_cell(cell, &o.row, &o.col)) return fail("unknown place \"" + cell + "\" in \"" + item + "\"");
    s.objects.push_back(o);
  }
  const std::string err = validate(s);
  if (!err.empty()) return fail(err);
  canonicalise(&s);
  *out = s;
  return true;
}

std::vector<QA> vqa_questions(const Scene& scene, uint64_t seed, uint64_t index, int count) {
  SplitMix64 rng(seed ^ kVqaSalt, index + 1);
  const auto& objs = scene.objects;
  std::vector<QA> out;
  if (objs.empty()) return out;
  std::vector<std::string> kinds = {"colour",       "shape",       "size",     "count",
                                    "count_colour", "count_shape", "position", "exist"};
  // Random order of kinds (Fisher–Yates), then take the first `count` that apply.
  for (size_t i = kinds.size(); i > 1; --i) std::swap(kinds[i - 1], kinds[rng.below(uint32_t(i))]);
  for (const std::string& kind : kinds) {
    if (int(out.size()) >= count) break;
    const Object& o = objs[rng.below(uint32_t(objs.size()))];
    QA q{kind, "", ""};
    if (kind == "colour") {
      q.question = "What colour is the " + where(o) + "?";
      q.answer = colour_name(o.colour);
    } else if (kind == "shape") {
      q.question = std::string("What shape is in the ") + cell_name(o.row, o.col) + "?";
      q.answer = shape_name(o.shape);
    } else if (kind == "size") {
      q.question = "What size is the " + where(o) + "?";
      q.answer = size_name(o.size);
    } else if (kind == "count") {
      q.question = "How many shapes are there?";
      q.answer = std::to_string(objs.size());
    } else if (kind == "count_colour") {
      // Half the time a colour in the scene, otherwise any colour (often a 0 answer).
      const Colour c = rng.below(2) ? o.colour : Colour(rng.below(kNumColours));
      q.question = std::string("How many ") + colour_name(c) + " shapes are there?";
      q.answer = std::to_string(count_if_obj(scene, [&](const Object& x) { return x.colour == c; }));
    } else if (kind == "count_shape") {
      const Shape s = rng.below(2) ? o.shape : Shape(rng.below(kNumShapes));
      q.question = std::string("How many ") + shape_name(s) + "s are there?";
      q.answer = std::to_string(count_if_obj(scene, [&](const Object& x) { return x.shape == s; }));
    } else if (kind == "position") {
      if (count_if_obj(scene, [&](const Object& x) { return x.shape == o.shape && x.colour == o.colour; }) != 1)
        continue;  // ambiguous reference: take the next kind
      q.question = "Where is the " + describe(o) + "?";
      q.answer = cell_name(o.row, o.col);
    } else {  // exist
      Object ask = o;
      if (rng.below(2)) {
        // Draw an absent (colour, shape); give up after a few tries and ask about a present one.
        for (int tries = 0; tries < 16; ++tries) {
          ask.colour = Colour(rng.below(kNumColours));
          ask.shape = Shape(rng.below(kNumShapes));
          if (!count_if_obj(scene, [&](const Object& x) { return x.shape == ask.shape && x.colour == ask.colour; }))
            break;
        }
      }
      const bool present =
          count_if_obj(scene, [&](const Object& x) { return x.shape == ask.shape && x.colour == ask.colour; }) > 0;
      q.question = "Is there a " + describe(ask) + "?";
      q.answer = present ? "yes" : "no";
    }
    out.push_back(q);
  }
  return out;
}

std::vector<QA> reasoning_questions(const Scene& scene, uint64_t seed, uint64_t index, int count) {
  SplitMix64 rng(seed ^ kReasonSalt, index + 1);
  const auto& objs = scene.objects;
  std::vector<std::string> kinds = {"sides", "colour_sum", "compare", "row"};
  for (size_t i = kinds.size(); i > 1; --i) std::swap(kinds[i - 1], kinds[rng.below(uint32_t(i))]);
  std::vector<QA> out;
  for (const std::string& kind : kinds) {
    if (int(out.size()) >= count || objs.empty()) break;
    QA q{kind, "", ""};
    std::string trace, answer;
    if (kind == "sides") {
      q.question = "How many sides do the shapes have in total?";
      std::vector<int> v;
      for (const Object& o : objs) {
        v.push_back(shape_sides(o.shape));
        trace +=
            (trace.empty() ? "" : ", ") + std::string(shape_name(o.shape)) + ": " + std::to_string(v.back()) + " sides";
      }
      int total = 0;
      for (int x : v) total += x;
      trace += ". total = " + join_sum(v) + (v.size() > 1 ? " = " + std::to_string(total) : "") + ".";
      answer = std::to_string(total);
    } else if (kind == "colour_sum") {
      const Colour a = objs[rng.below(uint32_t(objs.size()))].colour;
      Colour b = Colour(rng.below(kNumColours - 1));
      if (int(b) >= int(a)) b = Colour(int(b) + 1);  // b != a
      const Colour first = std::min(a, b), second = std::max(a, b);
      const int na = count_if_obj(scene, [&](const Object& x) { return x.colour == first; });
      const int nb = count_if_obj(scene, [&](const Object& x) { return x.colour == second; });
      q.question = std::string("How many shapes are ") + colour_name(first) + " or " + colour_name(second) + "?";
      trace = std::string(colour_name(first)) + ": " + std::to_string(na) + ", " + colour_name(second) + ": " +
              std::to_string(nb) + ". total = " + std::to_string(na) + " + " + std::to_string(nb) + " = " +
              std::to_string(na + nb) + ".";
      answer = std::to_string(na + nb);
    } else if (kind == "compare") {
      const int nl = count_if_obj(scene, [](const Object& x) { return x.size == Size::kLarge; });
      const int ns = int(objs.size()) - nl;
      q.question = "Are there more large shapes than small shapes?";
      const char* rel = nl > ns ? " > " : nl < ns ? " < " : " = ";
      trace = "large: " + std::to_string(nl) + ", small: " + std::to_string(ns) + ". " + std::to_string(nl) + rel +
              std::to_string(ns) + ".";
      answer = nl > ns ? "yes" : "no";
    } else {  // row
      const int row = int(rng.below(kGrid));
      static const char* const kRows[kGrid] = {"top", "middle", "bottom"};
      q.question = std::string("How many shapes are in the ") + kRows[row] + " row?";
      std::string list;
      int n = 0;
      for (const Object& o : objs)
        if (o.row == row) list += (n++ ? ", " : "") + describe(o);
      trace = std::string(kRows[row]) + " row: " + (n ? list : "none") + ". count = " + std::to_string(n) + ".";
      answer = std::to_string(n);
    }
    q.answer = "<think>" + trace + "</think> " + answer;
    out.push_back(q);
  }
  return out;
}

}  // namespace janus::train::shapes
