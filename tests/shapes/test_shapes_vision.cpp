// Shapes-world scenes, rendering and the pixel-level detector (vision/shapes_*.h).
#include <gtest/gtest.h>

#include <cstdio>

#include "vision/shapes_detect.h"
#include "vision/shapes_render.h"
#include "vision/shapes_scene.h"

namespace janus::vision::shapes {
namespace {

// Training data uses small seeds; the detector tests use a seed far from them (held out).
constexpr uint64_t kHeldOutSeed = 0x5eed0f7e57ull;

TEST(ShapesScene, GeneratorIsDeterministicAndMatchesCommittedConstants) {
  const Scene a = generate_scene(1234, 7), b = generate_scene(1234, 7);
  EXPECT_EQ(scene_to_json(a).dump(), scene_to_json(b).dump());
  // Computed once and committed: a change here changes every data set generated so far.
  EXPECT_EQ(scene_to_json(a).dump(),
            R"({"canvas":64,"objects":[{"col":0,"colour":"purple","row":2,"shape":"triangle","size":"small"}]})");
  EXPECT_EQ(scene_to_json(generate_scene(1, 0)).dump(),
            R"({"canvas":64,"objects":[{"col":0,"colour":"red","row":0,"shape":"square","size":"small"},)"
            R"({"col":0,"colour":"orange","row":2,"shape":"star","size":"large"},)"
            R"({"col":2,"colour":"green","row":2,"shape":"star","size":"small"}]})");
  EXPECT_EQ(image_hash(render_scene(generate_scene(1, 0))), 0xcae129820eebdc93ull);
  EXPECT_EQ(image_hash(render_scene(a)), 0x181932614323d3e7ull);
}

TEST(ShapesScene, GeneratedScenesAreValidAndCoverTheVocabulary) {
  int shapes[kNumShapes] = {}, colours[kNumColours] = {}, sizes[kNumSizes] = {}, counts[kMaxObjects + 1] = {};
  for (uint64_t i = 0; i < 2000; ++i) {
    const Scene s = generate_scene(kHeldOutSeed, i);
    ASSERT_EQ(validate(s), "") << i;
    ASSERT_GE(s.objects.size(), 1u);
    ASSERT_LE(s.objects.size(), size_t(kMaxObjects));
    ++counts[s.objects.size()];
    for (const Object& o : s.objects) ++shapes[int(o.shape)], ++colours[int(o.colour)], ++sizes[int(o.size)];
    ASSERT_EQ(scene_from_json(scene_to_json(s)), s);
  }
  // Uniform choices: every value appears (expected counts are in the hundreds).
  for (int v : shapes) EXPECT_GT(v, 300);
  for (int v : colours) EXPECT_GT(v, 300);
  for (int v : sizes) EXPECT_GT(v, 1500);
  for (int k = 1; k <= kMaxObjects; ++k) EXPECT_GT(counts[k], 500);
}

TEST(ShapesScene, JsonErrorsNameTheProblem) {
  auto msg = [](const char* text) {
    try {
      scene_from_json(nlohmann::json::parse(text));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg(R"({"objects":[{"shape":"hexagon","colour":"red","size":"small","row":0,"col":0}]})")
                .find("unknown shape \"hexagon\""),
            std::string::npos);
  EXPECT_NE(msg(R"({"objects":[{"shape":"star","colour":"red","size":"small","row":0,"col":0},)"
                R"({"shape":"star","colour":"red","size":"small","row":0,"col":0}]})")
                .find("second object in cell top left"),
            std::string::npos);
  EXPECT_NE(msg(R"({"objects":[{"shape":"star","colour":"red","size":"small","row":3,"col":0}]})").find("outside"),
            std::string::npos);
  EXPECT_NE(msg(R"([1])").find("expected a JSON object"), std::string::npos);
}

// Each object, rendered alone, stays strictly inside its cell with a margin of ≥ 1 px on every side,
// for every shape, size and cell, at 64 and 96 px: objects can never overlap or touch.
TEST(ShapesRender, ObjectsStayInsideTheirCells) {
  for (int canvas : {64, 96})
    for (int s = 0; s < kNumShapes; ++s)
      for (int z = 0; z < kNumSizes; ++z)
        for (int cell = 0; cell < 9; ++cell) {
          Scene sc;
          sc.canvas = canvas;
          sc.objects.push_back({Shape(s), Colour::kBlue, Size(z), cell / 3, cell % 3});
          const Image im = render_scene(sc);
          const double c = canvas / 3.0;
          int n = 0;
          for (int y = 0; y < canvas; ++y)
            for (int x = 0; x < canvas; ++x) {
              const uint8_t* p = im.at(x, y);
              if (p[0] == kBackground.r && p[1] == kBackground.g && p[2] == kBackground.b) continue;
              ++n;
              ASSERT_EQ(p[2], kPalette[int(Colour::kBlue)].b) << "non-palette pixel";
              ASSERT_GE(x, (cell % 3) * c + 1) << canvas << " " << s << " " << z << " " << cell;
              ASSERT_LT(x + 1, ((cell % 3) + 1) * c - 1);
              ASSERT_GE(y, (cell / 3) * c + 1);
              ASSERT_LT(y + 1, ((cell / 3) + 1) * c - 1);
            }
          EXPECT_GT(n, 20);
        }
}

TEST(ShapesDetect, ExactOnOneThousandRenderedScenes) {
  for (int canvas : {64, 96}) {
    int exact = 0;
    for (uint64_t i = 0; i < 1000; ++i) {
      const Scene s = generate_scene(kHeldOutSeed, i, canvas);
      const DetectResult d = detect_scene(render_scene(s));
      if (d.scene == s)
        ++exact;
      else
        ADD_FAILURE() << "scene " << i << "\n want " << scene_to_json(s) << "\n  got " << scene_to_json(d.scene);
      for (const Detection& det : d.detections) EXPECT_EQ(det.iou, 1.0);
      EXPECT_EQ(d.ignored, 0);
    }
    std::printf("detector exact on %d / 1000 rendered %dx%d scenes (held-out seed)\n", exact, canvas, canvas);
    EXPECT_EQ(exact, 1000);
  }
}

// Robustness is measured on 500 scenes per setting (enough to resolve 1 % steps; keeps the test fast).
constexpr int kRobustScenes = 500;

// Accuracy (exact scene) under Gaussian blur and noise.
double accuracy_under(double noise, double blur, int canvas) {
  int exact = 0;
  for (uint64_t i = 0; i < kRobustScenes; ++i) {
    const Scene s = generate_scene(kHeldOutSeed + 1, i, canvas);
    if (detect_scene(degrade_image(render_scene(s), noise, blur, i)).scene == s) ++exact;
  }
  return double(exact) / kRobustScenes;
}

TEST(ShapesDetect, RobustToNoiseAndBlur) {
  struct Setting {
    double noise, blur;
    int canvas;
    double min_accuracy;
  };
  // Bars sit 2-3 points below the accuracy measured when they were set (printed below), to
  // allow for the draw of scenes; the last setting is deliberately harsh (small stars lose their
  // points and pass for diamonds).
  for (const Setting& st : std::vector<Setting>{
           {8, 0, 64, 0.99}, {0, 0.6, 64, 0.99}, {16, 0.8, 64, 0.97}, {16, 0.8, 96, 0.98}, {24, 1.0, 64, 0.93}}) {
    const double acc = accuracy_under(st.noise, st.blur, st.canvas);
    std::printf("noise sigma %4.1f, blur sigma %.1f, %dx%d: exact-scene accuracy %.3f (bar %.2f)\n", st.noise, st.blur,
                st.canvas, st.canvas, acc, st.min_accuracy);
    EXPECT_GE(acc, st.min_accuracy);
  }
}

// Generated images are not pixel-perfect: objects off-centre, a little too big or small, rotated.
TEST(ShapesDetect, RobustToShiftScaleAndRotation) {
  struct Setting {
    RenderJitter jitter;
    double noise;
    int canvas;
    double min_accuracy;
  };
  for (const Setting& st :
       std::vector<Setting>{{{2, 0.10, 10}, 0, 64, 0.98}, {{2, 0.15, 15}, 8, 64, 0.97}, {{3, 0.15, 15}, 8, 96, 0.97}}) {
    int exact = 0;
    for (uint64_t i = 0; i < kRobustScenes; ++i) {
      const Scene s = generate_scene(kHeldOutSeed + 2, i, st.canvas);
      exact += detect_scene(degrade_image(render_scene(s, st.jitter, i), st.noise, 0, i)).scene == s;
    }
    std::printf(
        "shift <= %.0f px, scale +-%.0f%%, rotation +-%.0f deg, noise %.0f, %dx%d: exact-scene accuracy %.3f "
        "(bar %.2f)\n",
        st.jitter.max_shift_px, 100 * st.jitter.scale, st.jitter.rotation_deg, st.noise, st.canvas, st.canvas,
        double(exact) / kRobustScenes, st.min_accuracy);
    EXPECT_GE(double(exact) / kRobustScenes, st.min_accuracy);
  }
}

TEST(ShapesDetect, RejectsNonSquareAndTinyImages) {
  EXPECT_THROW(detect_scene(Image::make(64, 48, 3)), std::runtime_error);
  EXPECT_THROW(detect_scene(Image::make(16, 16, 3)), std::runtime_error);
  Image blank = Image::make(64, 64, 3);
  std::fill(blank.data.begin(), blank.data.end(), 255);
  EXPECT_TRUE(detect_scene(blank).scene.objects.empty());
}

}  // namespace
}  // namespace janus::vision::shapes
