// The shapes world (DESIGN §5): scenes of 1–3 coloured shapes on a 3×3 grid, generated
// deterministically from a seed. Rendering is in shapes_render.h, recovery from pixels in
// shapes_detect.h, text tasks and scoring in train/shapes_tasks.h.
//
// A Scene is a square canvas (default 64 px) split into a 3×3 grid of cells; cell (row, col)
// covers [col·S/3, (col+1)·S/3) × [row·S/3, (row+1)·S/3). Each object sits centred in its own
// cell: at most one object per cell, so objects never overlap or touch.
// Vocabulary (names are the words used in every caption, question and answer):
//   shapes  circle, square, triangle (pointing up), diamond, star (5 points)
//   colours red, green, blue, yellow, purple, orange (well separated RGB values, kPalette)
//   sizes   small, large
//   cells   "top left", "top middle", "top right", "middle left", "center", "middle right",
//           "bottom left", "bottom middle", "bottom right"
// Canonical order of objects = reading order of their cells (row, then column); canonicalise()
// sorts into it, and generated / detected scenes are always canonical.
//
// Generation: scene `index` of a data set with seed `seed` comes from SplitMix64(seed, index),
// integer arithmetic only, so every machine and compiler gives the same scenes (no
// std::*_distribution, whose output is implementation-defined).
//
// JSON: {"canvas": 64, "objects": [{"shape": "circle", "colour": "red", "size": "large",
// "row": 0, "col": 2}, ...]}. scene_from_json throws std::runtime_error naming the bad field.
// Thread-safety: everything here is pure / reentrant.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace janus::vision::shapes {

enum class Shape : uint8_t { kCircle, kSquare, kTriangle, kDiamond, kStar };
enum class Colour : uint8_t { kRed, kGreen, kBlue, kYellow, kPurple, kOrange };
enum class Size : uint8_t { kSmall, kLarge };
constexpr int kNumShapes = 5, kNumColours = 6, kNumSizes = 2, kGrid = 3, kMaxObjects = 3;
constexpr int kDefaultCanvas = 64, kMinCanvas = 48, kMaxCanvas = 1024;

struct Rgb {
  uint8_t r, g, b;
};
// Palette: index = Colour value. Pairwise RGB distances ≥ 80 (yellow–orange is the closest pair);
// every colour is ≥ 240 from the background (yellow is the closest).
constexpr Rgb kPalette[kNumColours] = {{220, 30, 30},  {30, 160, 50},  {30, 70, 220},
                                       {240, 205, 20}, {140, 50, 180}, {250, 125, 20}};
constexpr Rgb kBackground = {255, 255, 255};

const char* shape_name(Shape s);          // "circle", ...
const char* colour_name(Colour c);        // "red", ...
const char* size_name(Size s);            // "small" / "large"
const char* cell_name(int row, int col);  // "top left", ..., "center", ...; row/col in 0..2
// Reverse look-ups: false when the word is not in the vocabulary.
bool parse_shape(const std::string& word, Shape* out);
bool parse_colour(const std::string& word, Colour* out);
bool parse_size(const std::string& word, Size* out);
bool parse_cell(const std::string& words, int* row, int* col);
// Number of straight sides: circle 0, triangle 3, square 4, diamond 4, star 10.
int shape_sides(Shape s);

struct Object {
  Shape shape = Shape::kCircle;
  Colour colour = Colour::kRed;
  Size size = Size::kSmall;
  int row = 0, col = 0;
  bool operator==(const Object& o) const {
    return shape == o.shape && colour == o.colour && size == o.size && row == o.row && col == o.col;
  }
  bool operator!=(const Object& o) const { return !(*this == o); }
};

struct Scene {
  int canvas = kDefaultCanvas;  // width = height in pixels
  std::vector<Object> objects;  // canonical: reading order of cells
  // Same objects (canvas is not compared: a scene is the same at any resolution).
  bool operator==(const Scene& o) const { return objects == o.objects; }
  bool operator!=(const Scene& o) const { return !(*this == o); }
};

void canonicalise(Scene* scene);
// "" when the scene is valid (canvas in [kMinCanvas, kMaxCanvas], enums and cells in range, at
// most one object per cell, at most 9 objects), else a message naming the problem.
std::string validate(const Scene& scene);

// splitmix64 (Steele et al. 2014): 64-bit state, one add and three xor-shift-multiplies a step.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed, uint64_t stream = 0) : x_(seed ^ (stream * 0xd1b54a32d192ed03ull)) { next(); }
  uint64_t next();
  // Uniform in [0, n) (n ≥ 1) by rejection, so exactly uniform and machine-independent.
  uint32_t below(uint32_t n);

 private:
  uint64_t x_;
};

// Scene `index` of data set `seed`: 1–3 objects in distinct cells, uniform shape / colour / size.
Scene generate_scene(uint64_t seed, uint64_t index, int canvas = kDefaultCanvas);

nlohmann::json scene_to_json(const Scene& scene);
// Validates and canonicalises; throws std::runtime_error "scene: <problem>".
Scene scene_from_json(const nlohmann::json& j);

}  // namespace janus::vision::shapes
