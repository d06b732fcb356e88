// Shapes-world text tasks and scoring (train/shapes_tasks.h, train/shapes_score.h).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "train/shapes_dataset.h"
#include "train/shapes_score.h"
#include "train/shapes_tasks.h"

namespace janus::train::shapes {
namespace {

using namespace vision::shapes;
constexpr uint64_t kHeldOutSeed = 0x5eed0f7e57ull;

Object obj(Shape s, Colour c, Size z, int row, int col) { return Object{s, c, z, row, col}; }
Scene scene(std::vector<Object> objs) {
  Scene s;
  s.objects = std::move(objs);
  canonicalise(&s);
  return s;
}

TEST(ShapesCaption, CanonicalSentence) {
  const Scene s = scene(
      {obj(Shape::kSquare, Colour::kBlue, Size::kSmall, 1, 1), obj(Shape::kCircle, Colour::kRed, Size::kLarge, 0, 0)});
  EXPECT_EQ(caption(s), "a large red circle in the top left, a small blue square in the center.");
}

TEST(ShapesCaption, ParserRoundTripsOneThousandScenes) {
  int ok = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    const Scene s = generate_scene(kHeldOutSeed, i);
    Scene back;
    std::string err;
    ASSERT_TRUE(parse_caption(caption(s), &back, &err)) << caption(s) << ": " << err;
    ok += back == s;
  }
  std::printf("caption -> scene round trip exact on %d / 1000 scenes\n", ok);
  EXPECT_EQ(ok, 1000);
}

TEST(ShapesCaption, ParserAcceptsVariationsAndRejectsNonCaptions) {
  const Scene want = scene(
      {obj(Shape::kCircle, Colour::kRed, Size::kLarge, 0, 0), obj(Shape::kStar, Colour::kYellow, Size::kSmall, 1, 1)});
  Scene got;
  std::string err;
  for (const char* text : {"a large red circle in the top left, a small yellow star in the center.",
                           "A small yellow star in the centre and a large red circle in the top left",
                           "  a large red circle in the top left ,  and a small yellow star in the center . ",
                           "one large red circle in the top left. a small yellow star in the center."}) {
    ASSERT_TRUE(parse_caption(text, &got, &err)) << text << ": " << err;
    EXPECT_EQ(got, want) << text;
  }
  EXPECT_FALSE(parse_caption("a large red hexagon in the top left.", &got, &err));
  EXPECT_NE(err.find("unknown shape \"hexagon\""), std::string::npos) << err;
  EXPECT_FALSE(parse_caption("a large red circle in the top left, a small red star in the top left.", &got, &err));
  EXPECT_NE(err.find("second object in cell top left"), std::string::npos) << err;
  EXPECT_FALSE(parse_caption("a large red circle somewhere", &got, &err));
  EXPECT_FALSE(parse_caption("", &got, &err));
  EXPECT_FALSE(parse_caption("a large red circle in the top", &got, &err));
}

TEST(ShapesTasks, QuestionsOfAFixedSceneAreDeterministicAndCorrect) {
  const Scene s = scene({obj(Shape::kTriangle, Colour::kGreen, Size::kLarge, 0, 2),
                         obj(Shape::kSquare, Colour::kBlue, Size::kSmall, 2, 0)});
  const auto a = vqa_questions(s, 3, 11), b = vqa_questions(s, 3, 11);
  ASSERT_EQ(a.size(), 4u);
  std::set<std::string> kinds;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].question, b[i].question);
    EXPECT_EQ(a[i].answer, b[i].answer);
    kinds.insert(a[i].kind);
  }
  EXPECT_EQ(kinds.size(), 4u) << "kinds are distinct";
  const auto r = reasoning_questions(s, 3, 11, 4);  // all four kinds
  std::map<std::string, std::string> by_kind;
  for (const auto& q : r) by_kind[q.kind] = q.question + " => " + q.answer;
  ASSERT_EQ(by_kind.size(), 4u);
  EXPECT_EQ(by_kind["sides"],
            "How many sides do the shapes have in total? => "
            "<think>triangle: 3 sides, square: 4 sides. total = 3 + 4 = 7.</think> 7");
  EXPECT_EQ(by_kind["compare"],
            "Are there more large shapes than small shapes? => <think>large: 1, small: 1. 1 = 1.</think> no");
  EXPECT_NE(by_kind["colour_sum"].find("</think> "), std::string::npos);
  EXPECT_NE(by_kind["row"].find(" row: "), std::string::npos);
}

// Every generated answer is checked against the scene by an independent count.
TEST(ShapesTasks, AnswersAgreeWithTheSceneOnOneThousandScenes) {
  int yes = 0, no = 0, questions = 0;
  for (uint64_t i = 0; i < 1000; ++i) {
    const Scene s = generate_scene(kHeldOutSeed, i);
    for (const QA& q : vqa_questions(s, kHeldOutSeed, i)) {
      ++questions;
      if (q.kind == "count") {
        EXPECT_EQ(q.answer, std::to_string(s.objects.size()));
      }
      if (q.kind == "exist") (q.answer == "yes" ? yes : no)++;
      if (q.kind == "position") {
        int row = -1, col = -1;
        ASSERT_TRUE(parse_cell(q.answer, &row, &col)) << q.answer;
        bool found = false;
        for (const Object& o : s.objects)
          found |= o.row == row && o.col == col &&
                   q.question == std::string("Where is the ") + colour_name(o.colour) + " " + shape_name(o.shape) + "?";
        EXPECT_TRUE(found) << q.question << " " << q.answer;
      }
    }
    for (const QA& q : reasoning_questions(s, kHeldOutSeed, i)) {
      ASSERT_TRUE(has_think_trace(q.answer)) << q.answer;
      if (q.kind == "sides") {
        int total = 0;
        for (const Object& o : s.objects) total += shape_sides(o.shape);
        EXPECT_EQ(normalize_answer(final_answer(q.answer)), std::to_string(total)) << q.answer;
      }
      if (q.kind == "compare") {
        int large = 0;
        for (const Object& o : s.objects) large += o.size == Size::kLarge;
        EXPECT_EQ(normalize_answer(final_answer(q.answer)), 2 * large > int(s.objects.size()) ? "yes" : "no");
      }
    }
  }
  EXPECT_GE(questions, 3900);  // 4 per scene, except when "position" is ambiguous and kinds run out
  // Existence questions are balanced: half ask about an absent (colour, shape).
  std::printf("exist answers: %d yes, %d no\n", yes, no);
  EXPECT_GT(no, 0.35 * (yes + no));
  EXPECT_GT(yes, 0.35 * (yes + no));
}

TEST(ShapesScore, NormalisationAndFinalAnswer) {
  EXPECT_EQ(normalize_answer("  The Red. "), "red");
  EXPECT_EQ(normalize_answer("Two"), "2");
  EXPECT_EQ(normalize_answer("top   left."), "top left");
  EXPECT_EQ(normalize_answer("the centre"), "center");
  EXPECT_EQ(normalize_answer("a circle"), "circle");
  EXPECT_EQ(normalize_answer("Yes!"), "yes");
  EXPECT_EQ(final_answer("<think>3 + 4 = 7.</think> 7"), " 7");
  EXPECT_EQ(final_answer("7"), "7");
  EXPECT_TRUE(has_think_trace("<think>x</think> 7"));
  EXPECT_FALSE(has_think_trace("</think> 7 <think>"));
}

TEST(ShapesScore, AnswersPerTask) {
  const std::string truth = "<think>triangle: 3 sides, square: 4 sides. total = 3 + 4 = 7.</think> 7";
  EXPECT_TRUE(answer_correct("reasoning", "<think>some other trace</think> 7", truth));
  EXPECT_TRUE(answer_correct("reasoning", "seven", truth));
  EXPECT_FALSE(answer_correct("reasoning", "<think>3 + 4 = 8</think> 8", truth));
  EXPECT_TRUE(answer_correct("vqa", "Red.", "red"));
  EXPECT_FALSE(answer_correct("vqa", "orange", "red"));
  const std::string cap = "a large red circle in the top left, a small blue square in the center.";
  EXPECT_TRUE(answer_correct("caption", "a small blue square in the center, a large red circle in the top left", cap));
  EXPECT_FALSE(answer_correct("caption", "a large red circle in the top left.", cap));  // object missing
  EXPECT_FALSE(
      answer_correct("caption", "a large red circle in the top left, a small green square in the center.", cap));
  EXPECT_FALSE(answer_correct("caption", "red circle and blue square", cap));  // unparseable
}

TEST(ShapesScore, ImageCategories) {
  const Scene p = scene(
      {obj(Shape::kCircle, Colour::kRed, Size::kLarge, 0, 0), obj(Shape::kSquare, Colour::kBlue, Size::kSmall, 1, 1)});
  auto s = [&](const Scene& d) {
    const ImageScore r = score_image(p, d);
    return std::vector<int>{r.object, r.count, r.colour, r.position, r.size, r.exact};
  };
  using V = std::vector<int>;  // object, count, colour, position, size, exact
  EXPECT_EQ(s(p), V({1, 1, 1, 1, 1, 1}));
  // Wrong colour on one object: colour 0, everything else about shapes and places right.
  EXPECT_EQ(s(scene({obj(Shape::kCircle, Colour::kGreen, Size::kLarge, 0, 0),
                     obj(Shape::kSquare, Colour::kBlue, Size::kSmall, 1, 1)})),
            V({1, 1, 0, 1, 1, 0}));
  // Colours swapped between the two shapes (binding error).
  EXPECT_EQ(s(scene({obj(Shape::kCircle, Colour::kBlue, Size::kLarge, 0, 0),
                     obj(Shape::kSquare, Colour::kRed, Size::kSmall, 1, 1)})),
            V({1, 1, 0, 1, 1, 0}));
  // Circle in the wrong cell.
  EXPECT_EQ(s(scene({obj(Shape::kCircle, Colour::kRed, Size::kLarge, 2, 2),
                     obj(Shape::kSquare, Colour::kBlue, Size::kSmall, 1, 1)})),
            V({1, 1, 1, 0, 1, 0}));
  // Wrong size only.
  EXPECT_EQ(s(scene({obj(Shape::kCircle, Colour::kRed, Size::kSmall, 0, 0),
                     obj(Shape::kSquare, Colour::kBlue, Size::kSmall, 1, 1)})),
            V({1, 1, 1, 1, 0, 0}));
  // Square drawn as a diamond: wrong object, and so wrong colour binding and position too.
  EXPECT_EQ(s(scene({obj(Shape::kCircle, Colour::kRed, Size::kLarge, 0, 0),
                     obj(Shape::kDiamond, Colour::kBlue, Size::kSmall, 1, 1)})),
            V({0, 1, 0, 0, 0, 0}));
  // Missing object / extra object / empty image.
  EXPECT_EQ(s(scene({obj(Shape::kCircle, Colour::kRed, Size::kLarge, 0, 0)})), V({0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(s(scene({})), V({0, 0, 0, 0, 0, 0}));

  ImageTally t;
  t.add(score_image(p, p));
  t.add(score_image(p, scene({obj(Shape::kCircle, Colour::kGreen, Size::kLarge, 0, 0),
                              obj(Shape::kSquare, Colour::kBlue, Size::kSmall, 1, 1)})));
  // object 1, count 1, colour 0.5, position 1 -> overall (1 + 1 + 0.5 + 1) / 4.
  EXPECT_DOUBLE_EQ(t.overall(), 0.875);
  EXPECT_DOUBLE_EQ(t.to_json()["colour"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(t.to_json()["exact"].get<double>(), 0.5);
}

// A meta.json with a field of the wrong type is refused with the file named (it used to escape as
// nlohmann's bare "[json.exception.type_error.302] type must be number, but is string").
TEST(ShapesDataset, WrongTypedMetaJsonNamesTheFile) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(testing::TempDir()) / ("janus_shapes_meta_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "meta.json") << "{\"generator\": \"janus-shapes-v1\", \"seed\": \"7\", \"canvas\": 64}\n";
  GenOptions opt;
  opt.out = dir.string();
  opt.n = 1;
  opt.seed = 7;
  std::string msg;
  try {
    generate_dataset(opt);
  } catch (const std::exception& e) {
    msg = e.what();
  }
  fs::remove_all(dir);
  EXPECT_EQ(msg.rfind((dir / "meta.json").string() + ": ", 0), 0u) << msg;
}

}  // namespace
}  // namespace janus::train::shapes
