// Janus stage-1 recipes end to end (train/run_janus.h) on the tiny transformers-layout Janus of
// tests/fixtures/janus/hf and a shapes-world data set generated at test time (2 scenes on a
// 48-pixel canvas, resized by preprocessing to the fixture's vision image_size 32 and to the VQ's 16 px):
// 2 caption + 2 t2i records, 2 records per step, so every 2 steps are one epoch.
// The last tests run a seeded random init of the r1 config (tests/fixtures/janus/r1: deepseek_v3
// backbone with an MTP module and MoE) through stage 2 with mtp_lambda and moe.bias_gamma.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "llm/janus_model.h"
#include "llm/safetensors.h"
#include "tests/var_scalar.h"
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

// ---- Random-init r1 (deepseek_v3 backbone with MTP + MoE) recipes: model.weights_from, mtp_lambda,
// moe.bias_gamma (correction biases checkpointed, resumed and exported), the t2i code cache.

const std::string kR1 = std::string(JANUS_FIXTURES) + "/janus/r1";

// Stage 2 (the backbone, MTP included, trains; SigLIP and the VQ stay frozen) from a seeded
// random init of the r1 config, with the fixture's tokenizer. `model_extra` / `extra` are merged in.
std::string write_r1_recipe(const std::string& name, const json& model_extra = json::object(),
                            const json& extra = json::object()) {
  json r = {{"name", name},
            {"model", {{"config", kR1 + "/config.json"}, {"seed", 0}}},
            {"tokenizer", kR1},
            {"data", {{"train", kData}, {"seq_len", 256}, {"rows", 2}, {"seed", 1}}},
            {"task", {{"loss", "answer"}}},
            {"optimizer", {{"lr", 1e-2}, {"weight_decay", 0.0}}},
            {"schedule", {{"kind", "constant"}}},
            {"train", {{"steps", 6}, {"checkpoint_every", 3}}},
            {"mtp_lambda", 0.3},
            {"moe", {{"bias_gamma", 0.01}}},
            {"janus", {{"stage", 2}}},
            {"output", {{"dir", name}}}};
  r["model"].update(model_extra);
  r.update(extra);
  const std::string path = (root() / (name + ".json")).string();
  std::ofstream(path) << r.dump(2);
  return path;
}

// A weights folder holding `tensors` (model.safetensors only).
std::string write_weights(const std::string& name, const llm::NamedTensors& tensors) {
  const fs::path d = root() / name;
  fs::create_directories(d);
  llm::write_safetensors((d / "model.safetensors").string(), tensors);
  return d.string();
}

llm::NamedTensors r1_vq_tensors() {
  auto f = llm::SafetensorsFile::open(kR1 + "/model.safetensors");
  llm::NamedTensors w;
  for (const auto& n : f->names())
    if (n.rfind("model.vqmodel.", 0) == 0) w.push_back({n, f->get(n).clone()});
  return w;
}

// A copy of every parameter of `m`, by name (a weights folder's worth).
llm::NamedTensors param_copies(const llm::TrainableJanus& m) {
  llm::NamedTensors w;
  for (const auto& p : m.params()) w.push_back({p.name, p.var.value().clone()});
  return w;
}

TEST(JanusRecipe, WeightsFromReplacesTheNamedParametersAfterRandomInit) {
  const llm::NamedTensors vq = r1_vq_tensors();
  ASSERT_GT(vq.size(), 10u);
  const std::string dir = write_weights("vq_weights", vq);
  tr::JanusRun run(tr::load_run_recipe(write_r1_recipe("weights_from", {{"weights_from", {dir}}})), quiet());
  const auto fresh = llm::TrainableJanus::random(llm::load_janus_config(kR1 + "/config.json"), 0);
  std::map<std::string, kernels::Tensor> want;
  for (const auto& [n, t] : vq) want[n] = t;
  const auto& ps = run.model().params();
  ASSERT_EQ(ps.size(), fresh.params().size());
  size_t replaced = 0, differs_from_init = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    auto it = want.find(ps[i].name);
    if (it == want.end()) {  // everything else: the seeded random init
      EXPECT_TRUE(same_bits(ps[i].var.value(), fresh.params()[i].var.value())) << ps[i].name;
      continue;
    }
    ++replaced;
    EXPECT_TRUE(same_bits(ps[i].var.value(), it->second.to(kernels::DType::F32))) << ps[i].name;
    differs_from_init += !same_bits(ps[i].var.value(), fresh.params()[i].var.value());
  }
  EXPECT_EQ(replaced, vq.size());
  EXPECT_GT(differs_from_init, vq.size() / 2);  // the fixture's VQ is not the random one
}

TEST(JanusRecipe, WeightsFromAWholeModelFolderAlsoSetsTheMoeCorrectionBiases) {
  // Phase 2 of a curriculum seeds itself from phase 1's export: parameters and buffers alike.
  auto donor = llm::TrainableJanus::random(llm::load_janus_config(kR1 + "/config.json"), 7);
  llm::NamedTensors w = param_copies(donor);
  ASSERT_FALSE(donor.buffers().empty());
  for (auto& b : donor.buffers()) {
    float* d = b.value.data<float>();
    for (int64_t i = 0; i < b.value.numel(); ++i) d[i] = 0.25f * float(i + 1);
    w.push_back({b.name, b.value.clone()});
  }
  tr::JanusRun run(
      tr::load_run_recipe(write_r1_recipe("wf_whole", {{"weights_from", {write_weights("wf_whole_w", w)}}})), quiet());
  const auto& ps = run.model().params();
  ASSERT_EQ(ps.size(), donor.params().size());
  for (size_t i = 0; i < ps.size(); ++i)
    EXPECT_TRUE(same_bits(ps[i].var.value(), donor.params()[i].var.value())) << ps[i].name;
  const auto& bs = run.model().buffers();
  ASSERT_EQ(bs.size(), donor.buffers().size());
  for (size_t i = 0; i < bs.size(); ++i) {
    EXPECT_EQ(bs[i].name, donor.buffers()[i].name);
    EXPECT_TRUE(same_bits(bs[i].value, donor.buffers()[i].value)) << bs[i].name;
    EXPECT_EQ(bs[i].value.data<float>()[0], 0.25f) << bs[i].name;
  }
}

TEST(JanusRecipe, WeightsFromRefusesUnknownTensorsAndShapeMismatches) {
  auto expect_error = [](const std::string& name, const llm::NamedTensors& w, const std::vector<std::string>& parts) {
    const std::string recipe = write_r1_recipe(name, {{"weights_from", {write_weights(name + "_w", w)}}});
    try {
      tr::JanusRun run(tr::load_run_recipe(recipe), quiet());
      FAIL() << name << ": no error";
    } catch (const std::runtime_error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(recipe), std::string::npos) << m;
      EXPECT_NE(m.find("model.weights_from"), std::string::npos) << m;
      for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << m;
    }
  };
  llm::NamedTensors vq = r1_vq_tensors();
  llm::NamedTensors unknown = {vq[0], {"model.vqmodel.no_such.weight", vq[0].second}};
  expect_error("wf_unknown", unknown, {"'model.vqmodel.no_such.weight'", "is not a parameter"});
  const std::string victim = vq[1].first;
  llm::NamedTensors bad_shape = {{victim, kernels::Tensor::zeros({3, 5}, kernels::DType::F32)}};
  expect_error("wf_shape", bad_shape, {"'" + victim + "'", "[3, 5]"});
}

// Block expansion: a checkpoint seeds a model one layer deeper. The donor's MTP layer (layers.2 of
// the 2-layer r1 config) is renamed past the new layer, whose attention output and expert down
// projections start at zero, so the deeper model computes exactly the donor's losses (MTP included).
TEST(JanusRecipe, WeightsFromWithRenameAndZeroInitGrowsTheBackboneWithoutChangingItsFunction) {
  auto donor = llm::TrainableJanus::random(llm::load_janus_config(kR1 + "/config.json"), 7);
  ASSERT_EQ(donor.config().text.num_hidden_layers, 2);
  ASSERT_TRUE(donor.has_mtp());
  llm::NamedTensors w = param_copies(donor);
  for (auto& b : donor.buffers()) {  // non-zero router correction biases, to see them move along
    float* d = b.value.data<float>();
    for (int64_t i = 0; i < b.value.numel(); ++i) d[i] = 0.01f * float(i % 5);
    w.push_back({b.name, b.value.clone()});
  }
  json cfg = json::parse(std::ifstream(kR1 + "/config.json"));
  cfg["text_config"]["num_hidden_layers"] = 3;
  const std::string cfg3 = (root() / "config3.json").string();
  std::ofstream(cfg3) << cfg.dump(2);
  const std::string L = "model.language_model.layers.";
  const json model = {{"config", cfg3},
                      {"weights_from", {{{"dir", write_weights("grow_w", w)}, {"rename", {{L + "2.", L + "3."}}}}}},
                      {"zero_init", {L + "2.self_attn.o_proj.weight", L + "2.mlp.*down_proj.weight"}}};
  tr::JanusRun run(tr::load_run_recipe(write_r1_recipe("grow", model)), quiet());
  const llm::TrainableJanus& m = run.model();
  ASSERT_EQ(m.config().text.num_hidden_layers, 3);

  std::map<std::string, kernels::Tensor> got;
  for (const auto& p : m.params()) got[p.name] = p.var.value();
  for (const auto& b : m.buffers()) got[b.name] = b.value;
  auto donor_name_in_grown = [&](const std::string& n) {
    return n.rfind(L + "2.", 0) == 0 ? L + "3." + n.substr(L.size() + 2) : n;
  };
  for (const auto& [n, t] : w) {
    const std::string g = donor_name_in_grown(n);
    ASSERT_TRUE(got.count(g)) << g;
    EXPECT_TRUE(same_bits(got[g], t)) << n << " -> " << g;
  }
  size_t zeroed = 0, random = 0;
  for (const auto& p : m.params()) {
    if (p.name.rfind(L + "2.", 0) != 0) continue;
    const kernels::Tensor v = p.var.value();
    const float* d = v.data<float>();
    const bool all_zero = std::all_of(d, d + v.numel(), [](float x) { return x == 0.f; });
    const bool zero_wanted =
        p.name == L + "2.self_attn.o_proj.weight" || p.name.find("down_proj.weight") != std::string::npos;
    if (zero_wanted) {
      EXPECT_TRUE(all_zero) << p.name;
      ++zeroed;
    } else if (p.name.find("norm") == std::string::npos) {
      EXPECT_FALSE(all_zero) << p.name << " should keep its random init";
      ++random;
    }
  }
  EXPECT_EQ(zeroed, 1u + size_t(m.config().text.n_routed_experts) + 1u);  // o_proj, experts, shared
  EXPECT_GT(random, 5u);

  const std::vector<int64_t> prompt = {5, 9, 17, 40, 7, 8, 99, 12};
  const std::vector<int64_t> codes = {1, 7, 3, 63, 0, 12, 5, 5, 41, 2, 33, 60};
  const llm::JanusLoss a = donor.generation_losses(prompt, codes, 2, 4, 6, 0.3);
  const llm::JanusLoss b = m.generation_losses(prompt, codes, 2, 4, 6, 0.3);
  EXPECT_EQ(test::scalar(a.main), test::scalar(b.main));
  ASSERT_TRUE(b.mtp.defined());
  EXPECT_EQ(test::scalar(a.mtp), test::scalar(b.mtp));
}

TEST(JanusRecipe, RenameCollisionsAndZeroInitPatternsThatMatchNothingAreErrors) {
  auto donor = llm::TrainableJanus::random(llm::load_janus_config(kR1 + "/config.json"), 7);
  llm::NamedTensors w = param_copies(donor);
  const std::string dir = write_weights("collide_w", w);
  const std::string L = "model.language_model.layers.";
  auto error_of_run = [](const std::string& recipe) -> std::string {
    try {
      tr::JanusRun run(tr::load_run_recipe(recipe), quiet());
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  };
  // layers.1. -> layers.0. while layers.0. stays: two of the folder's tensors set the same parameter.
  const std::string r1 =
      write_r1_recipe("collide", {{"weights_from", {{{"dir", dir}, {"rename", {{L + "1.", L + "0."}}}}}}});
  const std::string e1 = error_of_run(r1);
  EXPECT_NE(e1.find(r1 + ": model.weights_from: " + dir), std::string::npos) << e1;
  EXPECT_NE(e1.find("both set '" + L + "0."), std::string::npos) << e1;
  const std::string r2 = write_r1_recipe("zero_none", {{"zero_init", {"model.no_such.*"}}});
  EXPECT_EQ(error_of_run(r2), r2 + ": model.zero_init: pattern 'model.no_such.*' matches no parameter");
}

// moe.balance_alpha adds the sequence-wise balance loss to a Janus step (its first loss grows by a
// positive term; the data and initial weights are the same), and model.init_std, which a Janus
// random init has no use for, is refused rather than ignored.
TEST(JanusRecipe, BalanceAlphaAddsTheBalanceLossAndInitStdIsRefused) {
  auto first_loss = [](const std::string& recipe) {
    tr::JanusRun run(tr::load_run_recipe(recipe), quiet(nullptr, 1));
    return run.run().first_loss;
  };
  const double plain = first_loss(write_r1_recipe("balance0"));
  const double balanced = first_loss(
      write_r1_recipe("balance1", json::object(), {{"moe", {{"bias_gamma", 0.01}, {"balance_alpha", 0.1}}}}));
  std::printf("first loss without / with the balance loss (alpha 0.1): %.6f / %.6f\n", plain, balanced);
  EXPECT_GT(balanced, plain + 1e-4);
  EXPECT_LT(balanced, plain + 0.1 * 2 * 4);  // α·Σ_l (at most E_routed / top-k per layer, 2 layers)
  const std::string r = write_r1_recipe("init_std", {{"init_std", 0.01}});
  try {
    tr::JanusRun run(tr::load_run_recipe(r), quiet());
    ADD_FAILURE() << "model.init_std accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), r + ": model.init_std: Janus random init takes its scales from the config "
                                         "(initializer_range), not from the recipe; remove model.init_std");
  }
}

std::vector<json> metric_lines(const std::string& path) {
  std::vector<json> v;
  std::ifstream f(path);
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) v.push_back(json::parse(line));
  return v;
}

// The straight 6-step r1 run with MTP and bias balancing (built once).
Straight& r1_straight() {
  static Straight s = [] {
    Straight st;
    st.run = std::make_unique<tr::JanusRun>(tr::load_run_recipe(write_r1_recipe("r1_straight")), quiet());
    st.summary = st.run->run();
    return st;
  }();
  return s;
}

TEST(JanusRecipe, MtpLossIsRecordedAndCorrectionBiasesMoveAndAreSaved) {
  Straight& s = r1_straight();
  llm::TrainableJanus& m = s.run->model();
  ASSERT_TRUE(m.has_mtp());
  const auto lines = metric_lines(s.run->recipe().metrics_path);
  ASSERT_EQ(lines.size(), 6u);
  for (const auto& l : lines) {
    ASSERT_TRUE(l.contains("loss_mtp")) << l.dump();
    EXPECT_TRUE(std::isfinite(l["loss_mtp"].get<double>())) << l.dump();
    EXPECT_GT(l["loss_mtp"].get<double>(), 0.0);
  }
  std::printf("r1 run: loss_mtp %.4f -> %.4f, loss %.4f -> %.4f\n", lines.front()["loss_mtp"].get<double>(),
              lines.back()["loss_mtp"].get<double>(), lines.front()["loss"].get<double>(),
              lines.back()["loss"].get<double>());
  // Random init starts the biases at 0; 6 steps of ±γ (γ = 0.01) moves every one that saw an
  // unbalanced load.
  ASSERT_EQ(m.buffers().size(), 2u);
  for (const auto& b : m.buffers()) {
    const auto v = b.value.to_f32_vector();
    double amax = 0;
    for (float x : v) amax = std::max(amax, double(std::fabs(x)));
    EXPECT_GT(amax, 0.0) << b.name << " never moved";
    EXPECT_LE(amax, 6 * 0.01 + 1e-6) << b.name;
  }
  auto check_file = [&](const std::string& path) {
    auto f = llm::SafetensorsFile::open(path);
    for (const auto& b : m.buffers()) {
      ASSERT_TRUE(f->has(b.name)) << path << ": " << b.name;
      EXPECT_TRUE(same_bits(f->get(b.name), b.value)) << path << ": " << b.name;
    }
  };
  check_file(s.run->recipe().checkpoint_dir + "/step-000006/model.safetensors");
  check_file(s.summary.export_dir + "/model.safetensors");
}

TEST(JanusRecipe, R1ThreePlusResumePlusThreeIsBitIdenticalToSixParamsAndBiases) {
  Straight& s = r1_straight();
  const std::string recipe = write_r1_recipe("r1_resumed");
  { tr::JanusRun(tr::load_run_recipe(recipe), quiet(nullptr, 3)).run(); }
  tr::JanusRun second(tr::load_run_recipe(recipe), quiet(nullptr, -1, true));
  const tr::RunSummary r = second.run();
  EXPECT_EQ(r.start_step, 3);
  EXPECT_EQ(r.last.step, 6);
  const auto& a = s.run->model().params();
  const auto& b = second.model().params();
  ASSERT_EQ(a.size(), b.size());
  int64_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += !same_bits(a[i].var.value(), b[i].var.value());
  EXPECT_EQ(differ, 0) << "tensors differing after 3 + resume + 3 vs 6 straight";
  const auto& ab = s.run->model().buffers();
  const auto& bb = second.model().buffers();
  ASSERT_EQ(ab.size(), bb.size());
  for (size_t i = 0; i < ab.size(); ++i) EXPECT_TRUE(same_bits(ab[i].value, bb[i].value)) << ab[i].name;
  EXPECT_EQ(r.last.loss, s.summary.last.loss);
}

// Frozen VQ: codes are cached per image path. A run whose VQ is made trainable (it gets no gradient:
// the codes are computed under NoGradGuard, so it never changes) re-encodes every image at every
// step; both must train identically bit for bit over 3 epochs (every image met 3 times).
TEST(JanusRecipe, CachedT2iCodesTrainExactlyAsReEncodedOnes) {
  Straight& s = r1_straight();
  tr::JanusRun fresh(
      tr::load_run_recipe(write_r1_recipe("r1_no_cache", json::object(), {{"unfreeze", {"model.vqmodel.*"}}})),
      quiet());
  const tr::RunSummary r = fresh.run();
  const auto cached = metric_lines(s.run->recipe().metrics_path);
  const auto encoded = metric_lines(fresh.recipe().metrics_path);
  ASSERT_EQ(cached.size(), encoded.size());
  int gen_steps = 0;
  for (size_t i = 0; i < cached.size(); ++i) {
    EXPECT_EQ(cached[i]["loss"].get<double>(), encoded[i]["loss"].get<double>()) << "step " << i + 1;
    if (cached[i].contains("loss_gen")) {
      ++gen_steps;
      EXPECT_TRUE(std::isfinite(cached[i]["loss_gen"].get<double>()));
      EXPECT_EQ(cached[i]["loss_gen"].get<double>(), encoded[i]["loss_gen"].get<double>()) << "step " << i + 1;
    }
  }
  EXPECT_GE(gen_steps, 3);
  const auto& a = s.run->model().params();
  const auto& b = fresh.model().params();
  int64_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += !same_bits(a[i].var.value(), b[i].var.value());
  EXPECT_EQ(differ, 0);
  EXPECT_EQ(r.last.loss, s.summary.last.loss);
}

// The export (MTP weights and correction biases included) loads for inference and gives the
// trained model's logits (the biases steer its routing too).
TEST(JanusRecipe, R1ExportLoadsInJanusModelWithTheSameLogits) {
  Straight& s = r1_straight();
  auto m = llm::JanusModel::load(s.summary.export_dir);
  const std::vector<int64_t> ids = {0, 303, 17, 42, 99, 120, 7, 304, 250, 33, 12};
  const int64_t T = int64_t(ids.size());
  kernels::Tensor logits;
  llm::ForwardOutput out;
  out.logits = &logits;
  m->forward(ids.data(), T, kernels::Tensor(), out);
  const auto want = s.run->model().forward_understanding(ids, 1, T, ag::Var()).value().to_f32_vector();
  const auto got = logits.to_f32_vector();
  ASSERT_EQ(got.size(), want.size());
  double max_err = 0, max_ref = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    max_err = std::max(max_err, std::abs(double(got[i]) - want[i]));
    max_ref = std::max(max_ref, std::abs(double(want[i])));
  }
  std::printf("r1 export vs TrainableJanus logits: max |diff| %.3g (max |logit| %.3g)\n", max_err, max_ref);
  EXPECT_LE(max_err, 1e-4 * max_ref);  // as the stage-1 export test: two f32 implementations
  std::ifstream pc(s.summary.export_dir + "/processor_config.json");
  ASSERT_TRUE(pc.good());
  EXPECT_EQ(json::parse(pc).at("system_prompt"), "");
}

}  // namespace
}  // namespace janus
