// `janus shapes gen / eval / detect` end to end: a generated data set scored with its own ground
// truth gives 100 %, generation is deterministic and resumable, and bad input exits 2 with one line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "train/shapes_tasks.h"
#include "vision/image.h"
#include "vision/shapes_render.h"

namespace janus {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class ShapesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::path(JANUS_BINARY_DIR) / "shapes_cli_tmp" / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  Result run(const std::string& args) {
    const std::string cmd = std::string(JANUS_BINARY_DIR) + "/apps/janus shapes " + args + " >" +
                            (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string();
    const int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir_ / "stdout"), slurp(dir_ / "stderr")};
  }
  static void expect_one_line_error(const Result& r, const std::string& part) {
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << "missing '" << part << "' in: " << r.err;
  }
  fs::path dir_;
};

int count_lines(const fs::path& p) {
  const std::string s = slurp(p);
  return int(std::count(s.begin(), s.end(), '\n'));
}

TEST_F(ShapesCli, GenThenEvalWithGroundTruthScoresOneHundredPercent) {
  const fs::path d = dir_ / "data";
  Result r = run("gen --n 40 --seed 7 --out " + d.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("40 images written, 0 kept"), std::string::npos) << r.out;
  EXPECT_EQ(count_lines(d / "captions.jsonl"), 40);
  EXPECT_EQ(count_lines(d / "t2i.jsonl"), 40);
  EXPECT_EQ(count_lines(d / "reasoning.jsonl"), 80);
  EXPECT_GE(count_lines(d / "vqa.jsonl"), 150);
  // Images are the renders of their scenes (checked for one), with the scene in a tEXt chunk.
  const vision::Image img = vision::load_image((d / "images" / "000003.png").string());
  EXPECT_EQ(vision::shapes::image_hash(img),
            vision::shapes::image_hash(vision::shapes::render_scene(vision::shapes::generate_scene(7, 3))));
  // Records follow the train/data.h schema.
  std::ifstream cap(d / "captions.jsonl");
  std::string line;
  std::getline(cap, line);
  const json rec = json::parse(line);
  EXPECT_EQ(rec["id"], "000000-cap");
  EXPECT_EQ(rec["task"], "caption");
  EXPECT_EQ(rec["images"][0], "images/000000.png");
  EXPECT_EQ(rec["answer"], train::shapes::caption(vision::shapes::generate_scene(7, 0)));

  r = run("eval --data " + d.string() + " --answers " + (d / "vqa.jsonl").string() + " " +
          (d / "reasoning.jsonl").string() + " " + (d / "captions.jsonl").string() + " --json " +
          (dir_ / "answers.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("%s", r.out.c_str());
  const json a = json::parse(slurp(dir_ / "answers.json"));
  for (const char* task : {"caption", "vqa", "reasoning"}) EXPECT_EQ(a["tasks"][task]["accuracy"], 1.0) << task;
  EXPECT_EQ(a["tasks"]["reasoning"]["think"], 80);
  EXPECT_EQ(a["missing"], 0);

  r = run("eval --images " + (d / "images").string() + " --prompts " + (d / "t2i.jsonl").string() + " --json " +
          (dir_ / "images.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("%s", r.out.c_str());
  const json g = json::parse(slurp(dir_ / "images.json"));
  EXPECT_EQ(g["all"]["n"], 40);
  for (const char* k : {"object", "count", "colour", "position", "size", "exact", "overall"})
    EXPECT_EQ(g["all"][k], 1.0) << k;

  r = run("detect " + (d / "images" / "000000.png").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["caption"], rec["answer"]);
}

TEST_F(ShapesCli, WrongAnswersAndImagesLowerTheScores) {
  const fs::path d = dir_ / "data";
  ASSERT_EQ(run("gen --n 10 --seed 3 --out " + d.string()).code, 0);
  // Answer every VQA question with "purple": only the questions whose answer is purple are right.
  std::ifstream in(d / "vqa.jsonl");
  std::ofstream ans(dir_ / "answers.jsonl");
  int purple = 0, total = 0;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    purple += j["answer"] == "purple";
    ++total;
    ans << json{{"id", j["id"]}, {"answer", "Purple."}}.dump() << "\n";
  }
  ans.close();
  Result r = run("eval --data " + d.string() + " --answers " + (dir_ / "answers.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json a = json::parse(slurp(dir_ / "answers.jsonl.eval.json"));
  EXPECT_EQ(a["tasks"]["vqa"]["correct"], purple);
  EXPECT_EQ(a["tasks"]["vqa"]["n"], total);
  EXPECT_FALSE(a["tasks"].contains("caption"));  // tasks without answers are not scored

  // Generated images: one sample right, one with the first object recoloured.
  fs::create_directories(dir_ / "gen");
  const auto s = vision::shapes::generate_scene(3, 0);
  auto wrong = s;
  wrong.objects[0].colour = vision::shapes::Colour((int(s.objects[0].colour) + 1) % vision::shapes::kNumColours);
  vision::save_png((dir_ / "gen" / "000000_0.png").string(), vision::shapes::render_scene(s));
  vision::save_png((dir_ / "gen" / "000000_1.png").string(), vision::shapes::render_scene(wrong));
  r = run("eval --images " + (dir_ / "gen").string() + " --prompts " + (d / "t2i.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const json g = json::parse(slurp(dir_ / "gen" / "eval.json"));
  EXPECT_EQ(g["all"]["n"], 2);
  EXPECT_EQ(g["all"]["colour"], 0.5);
  EXPECT_EQ(g["all"]["object"], 1.0);
  EXPECT_EQ(g["all"]["overall"], 0.875);
  EXPECT_EQ(g["missing_prompts"], 9);

  // The same two images against one caption, with a verdict per image.
  r = run("eval --images " + (dir_ / "gen").string() + " --prompt \"" + train::shapes::caption(s) + "\" --json " +
          (dir_ / "one.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("%s", r.out.c_str());
  EXPECT_NE(r.out.find("000000_0.png: " + train::shapes::caption(s) + "  [matches the prompt]"), std::string::npos);
  EXPECT_NE(r.out.find("colour WRONG"), std::string::npos);
  EXPECT_EQ(json::parse(slurp(dir_ / "one.json"))["all"]["overall"], 0.875);
}

TEST_F(ShapesCli, GenIsDeterministicAndResumable) {
  const fs::path a = dir_ / "a", b = dir_ / "b";
  ASSERT_EQ(run("gen --n 12 --seed 5 --out " + a.string()).code, 0);
  // b: interrupted after a few images (simulated by generating fewer, then deleting one).
  ASSERT_EQ(run("gen --n 5 --seed 5 --out " + b.string()).code, 0);
  fs::remove(b / "images" / "000002.png");
  const Result r = run("gen --n 12 --seed 5 --out " + b.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("8 images written, 4 kept"), std::string::npos) << r.out;
  for (const char* f : {"captions.jsonl", "vqa.jsonl", "reasoning.jsonl", "t2i.jsonl", "scenes.jsonl", "meta.json"})
    EXPECT_EQ(slurp(a / f), slurp(b / f)) << f;
  for (int i = 0; i < 12; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06d.png", i);
    EXPECT_EQ(slurp(a / "images" / name), slurp(b / "images" / name)) << name;
  }
  expect_one_line_error(run("gen --n 12 --seed 6 --out " + b.string()), "refusing to mix");
}

TEST_F(ShapesCli, BadInputExitsTwoWithOneLine) {
  expect_one_line_error(run("eval --data " + dir_.string()), "give either");
  expect_one_line_error(run("eval --images " + dir_.string() + " --prompt \"a purple cow\""), "not a shapes caption");
  expect_one_line_error(run("eval --data " + dir_.string() + " --answers x.jsonl"), "not a data set");
  std::ofstream(dir_ / "prompts.jsonl") << "{\"id\": \"x\", \"prompt\": \"a purple cow\"}\n";
  expect_one_line_error(run("eval --images " + dir_.string() + " --prompts " + (dir_ / "prompts.jsonl").string()),
                        "prompts.jsonl:1: prompt is not a shapes caption");
  expect_one_line_error(run("gen --n 3 --seed 1 --size 8 --out " + (dir_ / "o").string()), "--size");
  expect_one_line_error(run("detect " + (dir_ / "prompts.jsonl").string()), "prompts.jsonl");
}

}  // namespace
}  // namespace janus
