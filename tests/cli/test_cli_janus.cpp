// The janus CLI on Janus multimodal models: `dump` (DESIGN §4) against transformers' outputs on the
// tiny fixtures (tools/make_janus_fixtures.py, tools/make_janus_mm_fixtures.py), `generate` and
// `chat`, and `run` on a Janus folder (its language model alone). Tolerance 1e-4 relative (max |a - b| / max |b|),
// float32 (DESIGN §6); codes exact.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "llm/generate.h"
#include "llm/janus_model.h"
#include "llm/safetensors.h"
#include "tests/llm/fixture_util.h"
#include "tests/llm/janus_mtp_fixture.h"
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

// A model folder's generation_config.json "image_generation" sets the sampling defaults of
// `janus generate` (and `janus shapes eval --model`); flags override them; a bad value is one error
// line naming the file and key.
TEST_F(JanusCli, GenerateTakesImageSamplingDefaultsFromTheModelFolder) {
  const fs::path model = dir_ / "model";
  fs::create_directories(model);
  for (const auto& e : fs::directory_iterator(kJanus + "/mm")) fs::copy(e.path(), model / e.path().filename());
  auto write_config = [&](const std::string& text) { std::ofstream(model / "generation_config.json") << text; };
  auto sidecar = [&](const std::string& out) { return nlohmann::json::parse(slurp(dir_ / out / "img_7_0.json")); };
  write_config(R"({"max_new_tokens": 10, "image_generation": {"cfg": 1.5, "temperature": 0}})");
  const std::string prompt = " --prompt 'a red circle' -n 2 --seed 7 --out ";
  auto r = run("generate --model " + model.string() + prompt + (dir_ / "defaults").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sidecar("defaults")["cfg"], 1.5);
  EXPECT_EQ(sidecar("defaults")["temperature"], 0.0);
  r = run("generate --model " + kJanus + "/mm --cfg 1.5 --temperature 0" + prompt + (dir_ / "flags").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sidecar("defaults")["codes"], sidecar("flags")["codes"]);
  r = run("generate --model " + model.string() + " --cfg 3" + prompt + (dir_ / "override").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(sidecar("override")["cfg"], 3.0);
  EXPECT_EQ(sidecar("override")["temperature"], 0.0);
  EXPECT_EQ(sidecar("override")["sampling_from"],
            (model / "generation_config.json").string() + ", cfg from the command line");
  EXPECT_EQ(sidecar("flags")["sampling_from"], "command line");

  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {R"({"image_generation": {"cfg": -1}})", "image_generation.cfg"},
           {R"({"image_generation": {"temperature": "hot"}})", "image_generation.temperature"},
           {R"({"image_generation": {"top_k": 5}})", "image_generation.top_k: unknown key"},
           {R"({"image_generation": 2})", "image_generation: expected an object"},
           {R"({"image_generation": )", "invalid JSON"}}) {
    write_config(text);
    r = run("generate --model " + model.string() + prompt + (dir_ / "bad").string());
    EXPECT_EQ(r.code, 2) << text;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find((model / "generation_config.json").string() + ": " + key), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
  // The flags are held to the same range as the file: negative guidance is refused.
  r = run("generate --model " + kJanus + "/mm --cfg -1" + prompt + (dir_ / "bad").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--cfg: must be >= 0, got -1"), std::string::npos) << r.err;
  r = run("generate --model " + kJanus + "/mm --temperature nan" + prompt + (dir_ / "bad").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--temperature: expected a finite number, got nan"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
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

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t t : v) s += (s.empty() ? "" : ",") + std::to_string(t);
  return s;
}

// `run --tokens` on a Janus folder: the language model's greedy continuation, as the library's.
TEST_F(JanusCli, RunContinuesTokenIdsWithTheLanguageModel) {
  for (const char* name : {"hf", "r1"}) {
    auto r = run("run --model " + kJanus + "/" + name + " --tokens 1,2,3 -n 5 --ignore-eos");
    ASSERT_EQ(r.code, 0) << r.err;
    llm::GenerateOptions opt;
    opt.max_new_tokens = 5;
    const auto want = llm::generate(llm::JanusModel::load(kJanus + "/" + name)->language_model(), {1, 2, 3}, opt);
    ASSERT_EQ(want.tokens.size(), 5u);
    EXPECT_EQ(r.out, join(want.tokens) + "\n") << name;
  }
}

TEST_F(JanusCli, RunPromptAndChatOnAJanusFolder) {
  auto r = run("run --model " + kJanus + "/hf --prompt 'a red circle' -n 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("stop: "), std::string::npos) << r.err;
  r = run("run --model " + kJanus + "/hf --chat 'what is a circle?' -n 4");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("stop: "), std::string::npos) << r.err;
}

TEST_F(JanusCli, RunSpeculativeWithTheLanguageModelsMtpEqualsGreedy) {
  const auto model = test::make_janus_mtp_folder(dir_ / "janus_mtp");
  const std::string base = "run --model " + model.string() + " --tokens 1,2,3 -n 16 --ignore-eos";
  const auto greedy = run(base);
  ASSERT_EQ(greedy.code, 0) << greedy.err;
  const auto spec = run(base + " --speculative");
  ASSERT_EQ(spec.code, 0) << spec.err;
  EXPECT_EQ(std::count(greedy.out.begin(), greedy.out.end(), ','), 15) << greedy.out;
  EXPECT_EQ(spec.out, greedy.out);
  EXPECT_NE(spec.err.find("MTP drafts accepted"), std::string::npos) << spec.err;
  // Without MTP weights (transformers drops them) --speculative is refused in one line.
  const auto none = run("run --model " + kJanus + "/r1 --tokens 1,2,3 -n 4 --speculative");
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(std::count(none.err.begin(), none.err.end(), '\n'), 1) << none.err;
  EXPECT_NE(none.err.find("MTP"), std::string::npos) << none.err;
}

// `shapes eval --model` on a 2-scene data set: one answer per record, K PNGs per t2i prompt, and
// scores equal to re-scoring the written files with the file-based modes (the fixture draws 16 px
// images, below the detector's 48 px, so image scores are ~0: only counts are checked).
TEST_F(JanusCli, ShapesEvalWithModelWritesAnswersAndImagesAndScoresThemAsTheFileModes) {
  const fs::path data = dir_ / "data", out = dir_ / "out";
  auto r = run("shapes gen --n 2 --seed 3 --out " + data.string());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("shapes eval --model " + kJanus + "/hf --data " + data.string() + " --out " + out.string() + " --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("14/14 records"), std::string::npos) << r.err;  // 2 captions + 8 vqa + 4 reasoning
  const auto scores = nlohmann::json::parse(slurp(out / "scores.json"));
  auto ids_of = [](const fs::path& jsonl) {
    std::vector<std::string> ids;
    std::istringstream in(slurp(jsonl));
    for (std::string line; std::getline(in, line);) ids.push_back(nlohmann::json::parse(line)["id"]);
    return ids;
  };
  std::string answer_files;
  for (const auto& [task, file] : std::vector<std::pair<std::string, std::string>>{
           {"caption", "captions.jsonl"}, {"vqa", "vqa.jsonl"}, {"reasoning", "reasoning.jsonl"}}) {
    const fs::path answers = out / ("answers_" + task + ".jsonl");
    const std::vector<std::string> want = ids_of(data / file);
    EXPECT_EQ(ids_of(answers), want) << task;
    EXPECT_EQ(scores["answers"]["tasks"][task]["n"], want.size()) << task;
    answer_files += " " + answers.string();
  }
  const std::vector<std::string> prompts = ids_of(data / "t2i.jsonl");
  ASSERT_EQ(prompts.size(), 2u);
  for (const std::string& id : prompts)
    for (int k = 0; k < 4; ++k) {  // default --images-per-prompt 4
      const fs::path png = out / "images" / (id + "_" + std::to_string(k) + ".png");
      ASSERT_TRUE(fs::exists(png)) << png;
      EXPECT_EQ(vision::decode_image(slurp(png), png.string()).width, 16);
    }
  EXPECT_EQ(std::distance(fs::directory_iterator(out / "images"), fs::directory_iterator()), 8);
  EXPECT_EQ(scores["images"]["all"]["n"], 8);
  EXPECT_EQ(scores["images"]["prompts"], 2);
  EXPECT_EQ(scores["settings"]["cfg"], 5.0);  // the fixture folder has no generation_config.json
  EXPECT_EQ(scores["settings"]["temperature"], 1.0);
  EXPECT_EQ(scores["settings"]["sampling_from"], "release defaults");

  r = run("shapes eval --data " + data.string() + " --answers" + answer_files + " --json " +
          (dir_ / "answers.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "answers.json")), scores["answers"]);
  r = run("shapes eval --images " + (out / "images").string() + " --prompts " + (data / "t2i.jsonl").string() +
          " --json " + (dir_ / "images.json").string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ / "images.json")), scores["images"]);

  // --n and --tasks: the first n records of the chosen task files only, scored against OUT/truth.
  const fs::path out2 = dir_ / "out2";
  r = run("shapes eval --model " + kJanus + "/hf --data " + data.string() + " --out " + out2.string() +
          " --n 3 --tasks vqa,t2i --images-per-prompt 1 --cfg 2");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto scores2 = nlohmann::json::parse(slurp(out2 / "scores.json"));
  std::vector<std::string> first3 = ids_of(data / "vqa.jsonl");
  first3.resize(3);
  EXPECT_EQ(ids_of(out2 / "answers_vqa.jsonl"), first3);
  EXPECT_EQ(ids_of(out2 / "truth" / "vqa.jsonl"), first3);
  EXPECT_FALSE(fs::exists(out2 / "answers_caption.jsonl"));
  EXPECT_EQ(scores2["answers"]["tasks"]["vqa"]["n"], 3);
  EXPECT_EQ(scores2["answers"]["missing"], 0);
  EXPECT_EQ(scores2["images"]["all"]["n"], 2);
  EXPECT_EQ(scores2["settings"]["cfg"], 2.0);
  EXPECT_EQ(scores2["settings"]["temperature"], 1.0);
  EXPECT_EQ(scores2["settings"]["sampling_from"], "release defaults, cfg from the command line");
}

TEST_F(JanusCli, ShapesEvalWithModelNamesTheMissingFileInOneLine) {
  const fs::path data = dir_ / "data", model = dir_ / "model";
  auto r = run("shapes gen --n 1 --seed 3 --out " + data.string());
  ASSERT_EQ(r.code, 0) << r.err;
  fs::create_directories(model);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(kJanus + "/hf/" + f, model / f);
  r = run("shapes eval --model " + model.string() + " --data " + data.string() + " --out " + (dir_ / "o").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(model.string()), std::string::npos) << r.err;
  fs::remove(data / "vqa.jsonl");
  r = run("shapes eval --model " + kJanus + "/hf --data " + data.string() + " --out " + (dir_ / "o").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find((data / "vqa.jsonl").string() + ": missing"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace janus
