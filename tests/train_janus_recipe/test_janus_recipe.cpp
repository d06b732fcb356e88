// Janus stage-1 recipes end to end (train/run_janus.h) on the tiny transformers-layout Janus of
// tests/fixtures/janus/hf and a shapes-world data set generated at test time (2 scenes on a
// 48-pixel canvas, resized by preprocessing to the fixture's vision image_size 32 and to the VQ's 16 px):
// 2 caption + 2 t2i records, 2 records per step, so every 2 steps are one epoch.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "llm/janus_model.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/tokenizer.h"
#include "train/run_janus.h"
#include "train/shapes_dataset.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace janus {
namespace {

namespace fs = std::filesystem;
namespace tr = train;
namespace ag = kernels::ag;
using nlohmann::json;

const std::string kModel = std::string(JANUS_FIXTURES) + "/janus/hf";

fs::path root() {
  static const fs::path dir = [] {
    fs::path d = fs::path(JANUS_BINARY_DIR) / "train_janus_recipe_tmp" /
                 ::testing::UnitTest::GetInstance()->current_test_info()->name();  // ctest -j: one dir per test
    fs::remove_all(d);
    tr::shapes::GenOptions g;
    g.out = (d / "data").string();
    g.n = 2;
    g.seed = 3;
    g.canvas = 48;  // the generator's smallest; preprocessing resizes to 32 (vision) and 16 (VQ)
    g.vqa_per_scene = 1;
    g.reasoning_per_scene = 0;
    tr::shapes::generate_dataset(g);
    return d;
  }();
  return dir;
}

std::string write_recipe(const std::string& name, const std::vector<std::string>& train_files, bool skip_bad = false) {
  json r = {{"name", name},
            {"model", {{"init_from", kModel}}},
            {"data", {{"train", train_files}, {"seq_len", 256}, {"rows", 2}, {"seed", 1}, {"skip_bad", skip_bad}}},
            {"task", {{"loss", "answer"}}},
            {"optimizer", {{"lr", 1e-2}, {"weight_decay", 0.0}}},
            {"schedule", {{"kind", "constant"}}},
            {"train", {{"steps", 10}, {"checkpoint_every", 5}}},
            {"janus", {{"stage", 1}}},
            {"output", {{"dir", name}}}};
  const std::string path = (root() / (name + ".json")).string();
  std::ofstream(path) << r.dump(2);
  return path;
}

const std::vector<std::string> kData = {"data/captions.jsonl", "data/t2i.jsonl"};

tr::RunOverrides quiet(std::vector<std::string>* log = nullptr, int64_t stop = -1, bool resume = false) {
  tr::RunOverrides o;
  o.progress = false;
  o.stop_at_step = stop;
  o.resume = resume;
  o.log = [log](const std::string& m) {
    if (log) log->push_back(m);
  };
  return o;
}

bool trainable_in_stage1(const std::string& n) {
  for (const char* p :
       {"model.aligner.", "model.generation_aligner.", "model.generation_head.", "model.generation_embeddings."})
    if (n.rfind(p, 0) == 0) return true;
  return false;
}

bool same_bits(const kernels::Tensor& a, const kernels::Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.contiguous().data<float>(), b.contiguous().data<float>(), a.nbytes()) == 0;
}

std::vector<double> metric_losses(const std::string& path) {
  std::vector<double> v;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) v.push_back(json::parse(line)["loss"].get<double>());
  return v;
}

// The straight 10-step run every test below compares against (built once).
struct Straight {
  std::unique_ptr<tr::JanusRun> run;
  tr::RunSummary summary;
};
Straight& straight() {
  static Straight s = [] {
    Straight st;
    st.run = std::make_unique<tr::JanusRun>(tr::load_run_recipe(write_recipe("straight", kData)), quiet());
    st.summary = st.run->run();
    return st;
  }();
  return s;
}

TEST(JanusRecipe, Stage1LowersTheLossAndTrainsOnlyTheAdaptorsAndGenHead) {
  Straight& s = straight();
  EXPECT_EQ(s.summary.last.step, 10);
  // Epoch means (every 2 steps see the same 4 records): the first epoch against the last.
  const auto l = metric_losses(s.run->recipe().metrics_path);
  ASSERT_EQ(l.size(), 10u);
  const double first = (l[0] + l[1]) / 2, last = (l[8] + l[9]) / 2;
  std::printf("stage-1 epoch-mean loss: %.4f -> %.4f\n", first, last);
  // Margin: 10 AdamW steps at lr 1e-2 on 4 records should cut the loss by well over 10 %.
  EXPECT_LT(last, 0.9 * first);

  auto start = llm::TrainableJanus::from_checkpoint(kModel);
  const auto& a = start.params();
  const auto& b = s.run->model().params();
  ASSERT_EQ(a.size(), b.size());
  int64_t frozen = 0, trained = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].name, b[i].name);
    if (trainable_in_stage1(a[i].name)) {
      ++trained;
      EXPECT_TRUE(b[i].trainable) << b[i].name;
      EXPECT_FALSE(same_bits(a[i].var.value(), b[i].var.value())) << b[i].name << " did not change";
    } else {
      ++frozen;
      EXPECT_FALSE(b[i].trainable) << b[i].name;
      EXPECT_TRUE(same_bits(a[i].var.value(), b[i].var.value())) << b[i].name << " changed while frozen";
    }
  }
  std::printf("stage 1: %lld tensors trained, %lld frozen\n", (long long)trained, (long long)frozen);
  EXPECT_GT(trained, 0);
  EXPECT_GT(frozen, trained);
}

TEST(JanusRecipe, FivePlusResumePlusFiveIsBitIdenticalToTen) {
  Straight& s = straight();
  const std::string recipe = write_recipe("resumed", kData);
  { tr::JanusRun(tr::load_run_recipe(recipe), quiet(nullptr, 5)).run(); }
  tr::JanusRun second(tr::load_run_recipe(recipe), quiet(nullptr, -1, true));
  const tr::RunSummary r = second.run();
  EXPECT_EQ(r.start_step, 5);
  EXPECT_EQ(r.last.step, 10);
  const auto& a = s.run->model().params();
  const auto& b = second.model().params();
  int64_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += !same_bits(a[i].var.value(), b[i].var.value());
  EXPECT_EQ(differ, 0) << "tensors differing after 5 + resume + 5 vs 10 straight";
  EXPECT_EQ(r.last.loss, s.summary.last.loss);
}

std::string write_bad_jsonl() {
  fs::path d = root() / "bad";
  fs::create_directories(d);
  std::ofstream(d / "corrupt.png") << "\x89PNG\r\n\x1a\n this is not a png";
  std::ifstream cap(root() / "data/captions.jsonl");
  std::string first_line;
  std::getline(cap, first_line);
  json good = json::parse(first_line);
  good["images"] = {(root() / "data" / good["images"][0].get<std::string>()).string()};
  std::ofstream f(d / "bad.jsonl");
  f << good.dump() << "\n";
  f << json{{"task", "caption"}, {"prompt", "Describe."}, {"answer", "x"}, {"images", {"missing.png"}}}.dump() << "\n";
  f << json{{"task", "t2i"}, {"prompt", "a red circle"}, {"answer", ""}, {"images", {"corrupt.png"}}}.dump() << "\n";
  return (d / "bad.jsonl").string();
}

TEST(JanusRecipe, BadImagesErrorNamingTheRecordOrAreSkipped) {
  const std::string bad = write_bad_jsonl();
  {
    tr::RunRecipe r = tr::load_run_recipe(write_recipe("bad", {bad}));
    r.base.pack.shuffle = false;
    tr::JanusRun run(std::move(r), quiet());
    try {
      run.run();
      FAIL() << "a record with a missing image trained";
    } catch (const std::runtime_error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("bad.jsonl:2: image '"), std::string::npos) << m;
      EXPECT_NE(m.find("missing.png"), std::string::npos) << m;
    }
  }
  std::vector<std::string> log;
  tr::JanusRun run(tr::load_run_recipe(write_recipe("skip", {bad}, true)), quiet(&log));
  const tr::RunSummary s = run.run();
  EXPECT_EQ(s.last.step, 10);
  EXPECT_TRUE(std::isfinite(s.last.loss));
  int missing = 0, corrupt = 0;
  for (const auto& l : log) {
    missing += l.find("skipping ") == 0 && l.find("bad.jsonl:2: image '") != std::string::npos &&
               l.find("missing.png") != std::string::npos;
    corrupt += l.find("skipping ") == 0 && l.find("bad.jsonl:3: image '") != std::string::npos &&
               l.find("corrupt.png") != std::string::npos;
  }
  // 10 steps x 2 rows = 20 records = 6.67 epochs of 3: each bad record is met 6 or 7 times.
  EXPECT_TRUE(missing == 6 || missing == 7) << missing;
  EXPECT_TRUE(corrupt == 6 || corrupt == 7) << corrupt;
  EXPECT_EQ(run.skipped_records(), missing + corrupt);
  std::printf("skip_bad: %d + %d bad-image records skipped and logged\n", missing, corrupt);
}

TEST(JanusRecipe, ExportLoadsInJanusModelWithTheSameLogits) {
  Straight& s = straight();
  const std::string dir = s.summary.export_dir;
  auto m = llm::JanusModel::load(dir);
  auto tok = tokenizers::Tokenizer::from_dir(dir);
  auto tmpl = tokenizers::ChatTemplate::from_name("janus");
  tmpl.image_tokens = int(m->config().image_tokens());
  tokenizers::ChatOptions co;
  co.expand_images = true;
  std::vector<int64_t> ids = {tok.bos_id()};
  for (int32_t t : tok.encode(tmpl.render({{"user", "<image_placeholder>\nWhat is shown?"}}, co))) ids.push_back(t);
  const int64_t T = int64_t(ids.size());
  const auto img = vision::load_image((root() / "data/images/000000.png").string());
  vision::PreprocessOptions po;
  po.image_size = int(m->config().vision.image_size);
  kernels::Tensor px = vision::preprocess(vision::to_rgb8(img), po).view({1, 3, po.image_size, po.image_size});
  kernels::Tensor logits;
  llm::ForwardOutput out;
  out.logits = &logits;
  m->forward(ids.data(), T, px, out);
  const auto want = s.run->model().forward_understanding(ids, 1, T, ag::Var::constant(px)).value().to_f32_vector();
  const auto got = logits.to_f32_vector();
  ASSERT_EQ(got.size(), want.size());
  double max_err = 0, max_ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_err = std::max(max_err, std::abs(double(got[i]) - want[i]));
    max_ref = std::max(max_ref, std::abs(double(want[i])));
  }
  std::printf("exported JanusModel vs TrainableJanus logits: max |diff| %.3g (max |logit| %.3g), %lld positions\n",
              max_err, max_ref, (long long)T);
  // 1e-4 relative: the same f32 weights through two f32 implementations (different GEMM orders).
  EXPECT_LE(max_err, 1e-4 * max_ref);

  // The t2i targets: the codes the runner's VQ path gives (TrainVqModel under no-grad) are the
  // inference VqModel's codes for the same 16-px preprocessed image (exact: an argmin).
  vision::PreprocessOptions gp;
  gp.image_size = int(m->config().vq.num_patches << (m->config().vq.num_levels() - 1));
  kernels::Tensor gpx = vision::preprocess(vision::to_rgb8(img), gp).view({1, 3, gp.image_size, gp.image_size});
  const auto& vq = s.run->model().vq();
  const auto train_codes = vq.quantize(vq.encode_latents(ag::Var::constant(gpx))).codes;
  const auto infer_codes = m->encode_images(gpx).to_i64_vector();
  EXPECT_EQ(int64_t(train_codes.size()), m->config().gen_image_tokens());
  EXPECT_EQ(train_codes, infer_codes);
}

}  // namespace
}  // namespace janus
