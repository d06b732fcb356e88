// The janus CLI on Janus multimodal models: `dump` (DESIGN §4) against transformers' outputs on the
// tiny fixtures (tools/make_janus_fixtures.py, tools/make_janus_mm_fixtures.py), `generate` and
// `chat`. Tolerance 1e-4 relative (max |a - b| / max |b|), float32 (DESIGN §6); codes exact.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llm/safetensors.h"
#include "tests/llm/fixture_util.h"
#include "vision/image.h"

namespace janus {
namespace {

namespace fs = std::filesystem;
const std::string kJanus = std::string(JANUS_FIXTURES) + "/janus";

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

class JanusCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(JANUS_BINARY_DIR) / "cli_tmp" /
           ("janus_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  Result run(const std::string& args) {
    const std::string cmd = std::string(JANUS_BINARY_DIR) + "/apps/janus " + args + " >" + (dir_ / "stdout").string() +
                            " 2>" + (dir_ / "stderr").string() + " </dev/null";
    int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir_ / "stdout"), slurp(dir_ / "stderr")};
  }
  fs::path write_inputs(const std::string& name, const llm::NamedTensors& t) {
    fs::path p = dir_ / name;
    llm::write_safetensors(p.string(), t);
    return p;
  }
  fs::path dir_;
};

double err(const llm::SafetensorsFile& got, const std::string& name, const llm::SafetensorsFile& ref,
           const std::string& ref_name) {
  EXPECT_EQ(got.get(name).shape(), ref.get(ref_name).shape()) << name;
  return test::rel_max_err(got.get(name).to_f32_vector(), ref.get(ref_name).to_f32_vector());
}

TEST_F(JanusCli, DumpMatchesTransformersInBothLayouts) {
  auto rv = llm::SafetensorsFile::open(kJanus + "/ref_vision.safetensors");
  auto rm = llm::SafetensorsFile::open(kJanus + "/ref_mm.safetensors");
  const fs::path vis = write_inputs("vis.safetensors", {{"pixel_values", rv->get("pixel_values")},
                                                        {"image_tokens", rv->get("image_tokens")},
                                                        {"vq_pixels", rv->get("vq_pixels")}});
  const fs::path mm = write_inputs(
      "mm.safetensors", {{"input_ids", rm->get("mm_input_ids")}, {"pixel_values", rm->get("mm_pixel_values")}});
  const fs::path hid = write_inputs("hid.safetensors", {{"hidden_states", rv->get("hidden_states")}});
  for (const char* layout : {"hf", "mm"}) {
    const std::string model = " --model " + kJanus + "/" + layout;
    const fs::path o1 = dir_ / "o1.safetensors", o2 = dir_ / "o2.safetensors", o3 = dir_ / "o3.safetensors";
    auto r = run("dump" + model + " --inputs " + vis.string() + " --out " + o1.string());
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("dump" + model + " --inputs " + mm.string() + " --out " + o2.string());
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("dump" + model + " --inputs " + hid.string() + " --out " + o3.string());
    ASSERT_EQ(r.code, 0) << r.err;
    auto a = llm::SafetensorsFile::open(o1.string()), b = llm::SafetensorsFile::open(o2.string()),
         c = llm::SafetensorsFile::open(o3.string());
    EXPECT_LT(err(*a, "image_embeds", *rv, "image_embeds"), 1e-4) << layout;
    EXPECT_LT(err(*a, "decoded_images", *rv, "decoded_images"), 1e-4) << layout;
    EXPECT_LT(err(*a, "gen_embeds", *rv, "gen_embeds"), 1e-4) << layout;
    EXPECT_EQ(a->get("vq_codes").to_i64_vector(), rv->get("vq_codes").to_i64_vector()) << layout;
    EXPECT_LT(err(*b, "logits", *rm, "mm_logits"), 1e-4) << layout;
    EXPECT_LT(err(*b, "hidden_states", *rm, "mm_hidden"), 1e-4) << layout;
    EXPECT_LT(err(*b, "gen_logits", *rm, "mm_gen_logits"), 1e-4) << layout;
    EXPECT_LT(err(*c, "gen_logits", *rv, "gen_logits"), 1e-4) << layout;
  }
}

TEST_F(JanusCli, DumpRefusesPlaceholdersWithoutImagesInOneLine) {
  auto rm = llm::SafetensorsFile::open(kJanus + "/ref_mm.safetensors");
  const fs::path in = write_inputs("in.safetensors", {{"input_ids", rm->get("mm_input_ids")}});
  const fs::path out = dir_ / "out.safetensors";
  auto r = run("dump --model " + kJanus + "/hf --inputs " + in.string() + " --out " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("no pixel_values"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(JanusCli, GenerateWritesPngAndSidecarPerImageReproducibly) {
  const std::string base = "generate --model " + kJanus + "/mm --prompt 'a red circle' -n 2 --cfg 5 --seed 7 --out ";
  auto r = run(base + (dir_ / "a").string());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run(base + (dir_ / "b").string());
  ASSERT_EQ(r.code, 0) << r.err;
  for (int i = 0; i < 2; ++i) {
    const std::string stem = "img_7_" + std::to_string(i);
    const std::string png = slurp(dir_ / "a" / (stem + ".png"));
    EXPECT_EQ(png, slurp(dir_ / "b" / (stem + ".png")));  // same seed, same image
    const vision::Image img = vision::decode_image(png, stem);
    EXPECT_EQ(img.width, 16);
    EXPECT_EQ(img.height, 16);
    const auto text = vision::read_png_text(png, stem);
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text[0], (std::pair<std::string, std::string>{"prompt", "a red circle"}));
    const auto side = nlohmann::json::parse(slurp(dir_ / "a" / (stem + ".json")));
    EXPECT_EQ(side["seed"], 7);
    EXPECT_EQ(side["index"], i);
    EXPECT_EQ(side["codes"].size(), 16u);
  }
  EXPECT_NE(slurp(dir_ / "a" / "img_7_0.json"), slurp(dir_ / "a" / "img_7_1.json"));
}

TEST_F(JanusCli, ChatAnswersAboutAnImageAndReportsBadImages) {
  vision::Image img = vision::Image::make(40, 30, 3);
  for (size_t k = 0; k < img.data.size(); ++k) img.data[k] = uint8_t(k * 37);
  vision::save_png((dir_ / "a.png").string(), img);
  auto r = run("chat --model " + kJanus + "/hf --image " + (dir_ / "a.png").string() + " -n 4 'what is it?'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_NE(r.err.find("4 tokens"), std::string::npos) << r.err;
  r = run("chat --model " + kJanus + "/hf --image " + (dir_ / "missing.png").string() + " 'x'");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("missing.png"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace janus
