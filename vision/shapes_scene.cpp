// Shapes-world scenes: vocabulary, validation, seeded generation, JSON.
#include "vision/shapes_scene.h"

#include <algorithm>
#include <stdexcept>

namespace janus::vision::shapes {

namespace {
const char* const kShapeNames[kNumShapes] = {"circle", "square", "triangle", "diamond", "star"};
const char* const kColourNames[kNumColours] = {"red", "green", "blue", "yellow", "purple", "orange"};
const char* const kSizeNames[kNumSizes] = {"small", "large"};
const char* const kCellNames[kGrid][kGrid] = {{"top left", "top middle", "top right"},
                                              {"middle left", "center", "middle right"},
                                              {"bottom left", "bottom middle", "bottom right"}};

template <typename E, int N>
bool lookup(const char* const (&names)[N], const std::string& word, E* out) {
  for (int i = 0; i < N; ++i)
    if (word == names[i]) {
      *out = E(i);
      return true;
    }
  return false;
}
}  // namespace

const char* shape_name(Shape s) { return int(s) < kNumShapes ? kShapeNames[int(s)] : "?"; }
const char* colour_name(Colour c) { return int(c) < kNumColours ? kColourNames[int(c)] : "?"; }
const char* size_name(Size s) { return int(s) < kNumSizes ? kSizeNames[int(s)] : "?"; }
const char* cell_name(int row, int col) {
  return (row >= 0 && row < kGrid && col >= 0 && col < kGrid) ? kCellNames[row][col] : "?";
}
bool parse_shape(const std::string& w, Shape* out) { return lookup(kShapeNames, w, out); }
bool parse_colour(const std::string& w, Colour* out) { return lookup(kColourNames, w, out); }
bool parse_size(const std::string& w, Size* out) { return lookup(kSizeNames, w, out); }
bool parse_cell(const std::string& w, int* row, int* col) {
  for (int r = 0; r < kGrid; ++r)
    for (int c = 0; c < kGrid; ++c)
      if (w == kCellNames[r][c]) {
        *row = r;
        *col = c;
        return true;
      }
  return false;
}

int shape_sides(Shape s) {
  switch (s) {
    case Shape::kCircle: return 0;
    case Shape::kTriangle: return 3;
    case Shape::kSquare:
    case Shape::kDiamond: return 4;
    case Shape::kStar: return 10;
  }
  return 0;
}

void canonicalise(Scene* scene) {
  std::stable_sort(scene->objects.begin(), scene->objects.end(),
                   [](const Object& a, const Object& b) { return a.row * kGrid + a.col < b.row * kGrid + b.col; });
}

std::string validate(const Scene& scene) {
  if (scene.canvas < kMinCanvas || scene.canvas > kMaxCanvas)
    return "canvas " + std::to_string(scene.canvas) + " outside [" + std::to_string(kMinCanvas) + ", " +
           std::to_string(kMaxCanvas) + "]";
  bool used[kGrid][kGrid] = {};
  for (size_t i = 0; i < scene.objects.size(); ++i) {
    const Object& o = scene.objects[i];
    const std::string at = "object " + std::to_string(i) + ": ";
    if (int(o.shape) >= kNumShapes) return at + "shape out of range";
    if (int(o.colour) >= kNumColours) return at + "colour out of range";
    if (int(o.size) >= kNumSizes) return at + "size out of range";
    if (o.row < 0 || o.row >= kGrid || o.col < 0 || o.col >= kGrid)
      return at + "cell (" + std::to_string(o.row) + ", " + std::to_string(o.col) + ") outside the 3x3 grid";
    if (used[o.row][o.col]) return at + "second object in cell " + cell_name(o.row, o.col);
    used[o.row][o.col] = true;
  }
  return "";
}

uint64_t SplitMix64::next() {
  uint64_t z = (x_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint32_t SplitMix64::below(uint32_t n) {
  if (n <= 1) return 0;
  // Reject the top partial block of 2^32 so every residue is equally likely.
  const uint32_t limit = uint32_t(-n) % n;  // 2^32 mod n
  for (;;) {
    const uint32_t v = uint32_t(next() >> 32);
    if (v >= limit) return v % n;
  }
}

Scene generate_scene(uint64_t seed, uint64_t index, int canvas) {
  SplitMix64 rng(seed, index + 1);
  Scene s;
  s.canvas = canvas;
  const int n = 1 + int(rng.below(kMaxObjects));
  int cells[kGrid * kGrid];
  for (int i = 0; i < kGrid * kGrid; ++i) cells[i] = i;
  for (int i = 0; i < n; ++i) {  // partial Fisher–Yates: n distinct cells
    const int j = i + int(rng.below(uint32_t(kGrid * kGrid - i)));
    std::swap(cells[i], cells[j]);
    Object o;
    o.row = cells[i] / kGrid;
    o.col = cells[i] % kGrid;
    o.shape = Shape(rng.below(kNumShapes));
    o.colour = Colour(rng.below(kNumColours));
    o.size = Size(rng.below(kNumSizes));
    s.objects.push_back(o);
  }
  canonicalise(&s);
  const std::string err = validate(s);
  if (!err.empty()) throw std::runtime_error("generate_scene: " + err);
  return s;
}

nlohmann::json scene_to_json(const Scene& scene) {
  nlohmann::json objs = nlohmann::json::array();
  for (const Object& o : scene.objects)
    objs.push_back({{"shape", shape_name(o.shape)},
                    {"colour", colour_name(o.colour)},
                    {"size", size_name(o.size)},
                    {"row", o.row},
                    {"col", o.col}});
  return {{"canvas", scene.canvas}, {"objects", objs}};
}

Scene scene_from_json(const nlohmann::json& j) {
  auto fail = [](const std::string& m) -> void { throw std::runtime_error("scene: " + m); };
  if (!j.is_object()) fail("expected a JSON object");
  Scene s;
  if (j.contains("canvas")) {
    if (!j["canvas"].is_number_integer()) fail("\"canvas\" must be an integer");
    s.canvas = j["canvas"].get<int>();
  }
  if (!j.contains("objects") || !j["objects"].is_array()) fail("\"objects\" must be an array");
  for (const auto& jo : j["objects"]) {
    if (!jo.is_object()) fail("object must be a JSON object");
    auto str = [&](const char* key) {
      if (!jo.contains(key) || !jo[key].is_string()) fail(std::string("object needs string \"") + key + "\"");
      return jo[key].get<std::string>();
    };
    auto integer = [&](const char* key) {
      if (!jo.contains(key) || !jo[key].is_number_integer()) fail(std::string("object needs integer \"") + key + "\"");
      return jo[key].get<int>();
    };
    Object o;
    const std::string sh = str("shape"), co = str("colour"), sz = str("size");
    if (!parse_shape(sh, &o.shape)) fail("unknown shape \"" + sh + "\"");
    if (!parse_colour(co, &o.colour)) fail("unknown colour \"" + co + "\"");
    if (!parse_size(sz, &o.size)) fail("unknown size \"" + sz + "\"");
    o.row = integer("row");
    o.col = integer("col");
    s.objects.push_back(o);
  }
  const std::string err = validate(s);
  if (!err.empty()) fail(err);
  canonicalise(&s);
  return s;
}

}  // namespace janus::vision::shapes
