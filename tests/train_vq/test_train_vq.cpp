// VQ tokenizer training (train/run_vq.h, vq_data.h, vq_eval.h) on a tiny config that runs in
// seconds: 48×48 shapes scenes, base 32 channels, 2 levels (24×24 latent grid), codebook 64×8.
// 1. a short run lowers the reconstruction loss of fixed held-out scenes by a stated margin;
// 2. k steps + checkpoint + a fresh model resumed + the rest = a straight run, bit for bit (with
//    dead-code restarts on);
// 3. the exported weights load in the inference vision::VqModel, whose encode/decode equal the
//    trainable model's forward;
// 4. quantize_after: the first W steps train an autoencoder (no commitment term), then the codebook
//    becomes unit k-means centroids and training quantises; resume across the switch is exact;
// 5. recipe errors name the key; the PNG-folder source reads, orders and rolls over as stated.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "train/run_vq.h"
#include "train/vq_data.h"
#include "train/vq_eval.h"
#include "vision/shapes_render.h"
#include "vision/shapes_scene.h"

namespace {

namespace fs = std::filesystem;
namespace ag = janus::kernels::ag;
namespace tr = janus::train;
namespace vi = janus::vision;
using janus::kernels::Tensor;
using nlohmann::json;

std::string fresh_dir(const std::string& name) {
  const std::string d = testing::TempDir() + "/janus_train_vq_" + name + "_" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
struct RemoveOnExit {
  std::string dir;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

json tiny_recipe(int64_t steps, const std::string& out) {
  return {{"kind", "vq"},
          {"name", "tiny"},
          {"model",
           {{"vq_config",
             {{"embed_dim", 8},
              {"num_embeddings", 64},
              {"latent_channels", 32},
              {"base_channels", 32},
              {"channel_multiplier", {1, 1}},
              {"num_res_blocks", 1}}},
            {"seed", 3}}},
          {"data", {{"shapes_seed", 5}, {"image_size", 48}, {"batch", 2}}},
          {"optimizer", {{"lr", 3e-3}}},
          {"schedule", {{"kind", "cosine"}, {"warmup_steps", 2}, {"min_lr", 3e-4}}},
          {"train", {{"steps", steps}, {"log_every", 5}}},
          {"output", {{"dir", out}}}};
}

tr::VqTrainOverrides quiet() {
  tr::VqTrainOverrides ov;
  ov.progress = false;
  ov.log = [](const std::string&) {};
  return ov;
}

// Fixed held-out scenes (seed 77, never trained on) as pixels [n, 3, 48, 48].
Tensor held_out(int64_t n) {
  std::vector<float> px(size_t(n) * 3 * 48 * 48);
  for (int64_t i = 0; i < n; ++i)
    tr::rgb8_to_unit_pixels(vi::shapes::render_scene(vi::shapes::generate_scene(77, uint64_t(i), 48)),
                            px.data() + size_t(i) * 3 * 48 * 48);
  return Tensor::from_f32({n, 3, 48, 48}, px);
}

double rel_err(const Tensor& a, const Tensor& b) {
  const auto x = a.to_f32_vector(), y = b.to_f32_vector();
  EXPECT_EQ(x.size(), y.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) num += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
  for (float v : y) den += double(v) * v;
  return std::sqrt(num / std::max(den, 1e-30));
}

// Rebuilds the trainable model over `params` (same names, same order as train_vq's).
vi::TrainVqModel model_over(const tr::VqTrainOptions& o, const ag::ParamList& params) {
  vi::MapWeightSource src;
  for (const auto& p : params) src.set(p.name, p.var.value());
  ag::ParamList fresh;
  vi::ParamMaker pm(fresh, &src);
  vi::VqConfig cfg = o.vq;
  return vi::TrainVqModel(cfg, pm, "model.vqmodel.");
}

double reconstruction(const vi::TrainVqModel& m, const Tensor& px) {
  return double(vi::vq_tokenizer_losses(m, ag::Var::constant(px)).reconstruction.value().to_f32_vector()[0]);
}

// One short run shared by tests 1 and 3 (the expensive part: ~25 steps of batch 2).
struct ShortRun {
  tr::VqTrainOptions opt;
  tr::VqTrainResult res;
  ag::ParamList init;
  std::string dir;
  static ShortRun& get() {
    static ShortRun r = [] {
      ShortRun s;
      s.dir = fresh_dir("short");
      static RemoveOnExit cleanup{s.dir};  // at process exit
      s.opt = tr::parse_vq_options(tiny_recipe(25, s.dir), s.dir + "/recipe.json");
      s.opt.checkpoint_dir.clear();  // no checkpoints needed here
      // The random init, before training (ParamMaker with the recipe's seed, as train_vq).
      vi::ParamMaker pm(s.init, nullptr, s.opt.init_seed);
      vi::TrainVqModel m0(s.opt.vq, pm, "model.vqmodel.");
      s.res = tr::train_vq(s.opt, quiet());
      return s;
    }();
    return r;
  }
};

TEST(TrainVq, ShortRunCutsHeldOutReconstructionLossFourfold) {
  ShortRun& s = ShortRun::get();
  ASSERT_EQ(s.res.last.step, 25);
  const Tensor px = held_out(4);
  const double before = reconstruction(model_over(s.opt, s.init), px);
  const double after = reconstruction(model_over(s.opt, s.res.params), px);
  std::printf("held-out reconstruction MSE: random init %.4f -> %.4f after 25 steps (batch 2)\n", before, after);
  // Measured: ~1.2 → ~0.05 (white background learnt first). Asserting a factor 4 leaves room for
  // platform summation-order differences without letting a broken optimizer or loss pass.
  EXPECT_LT(after, before / 4);
  EXPECT_TRUE(fs::exists(s.opt.metrics_path));
  EXPECT_TRUE(fs::exists(s.opt.loss_plot_path));
}

TEST(TrainVq, ExportLoadsInInferenceVqModelAndMatchesTrainableForward) {
  ShortRun& s = ShortRun::get();
  const tr::LoadedVq vq = tr::load_vq_export(s.res.export_dir);
  EXPECT_EQ(vq.image_size, 48);
  EXPECT_EQ(vq.model.config().num_patches, 24);
  const vi::TrainVqModel tm = model_over(s.opt, s.res.params);
  const Tensor px = held_out(2);
  const ag::Var lat = tm.encode_latents(ag::Var::constant(px));
  const Tensor ilat = vq.model.encode_latents(px);
  const double e_lat = rel_err(ilat, lat.value());
  const vi::TrainVqModel::Quantized q = tm.quantize(lat);
  const std::vector<int64_t> icodes = vq.model.quantize(ilat).to_i64_vector();
  const Tensor timg = tm.decode(q.codes, 2, 24, 24).value();
  const Tensor iimg = vq.model.decode(Tensor::from_i64({2, 24 * 24}, q.codes), 24, 24);
  const double e_img = rel_err(iimg, timg);
  std::printf("export vs trainable: latents rel err %.3g, decoded images rel err %.3g, codes equal %d\n", e_lat, e_img,
              int(icodes == q.codes));
  // 1e-5: both are f32 with different summation orders (im2col GEMM vs the tape's kernels).
  EXPECT_LT(e_lat, 1e-5);
  EXPECT_LT(e_img, 1e-5);
  EXPECT_EQ(icodes, q.codes);  // a near-tie could flip a code; none do on these scenes
  // The reconstruction the tape computed in training equals encode → decode of the inference model.
  const tr::VqShapesEval ev = tr::evaluate_vq_shapes(vq.model, 77, 4, 48, 2);
  EXPECT_EQ(ev.scenes, 4);
  EXPECT_NEAR(ev.mse, reconstruction(tm, held_out(4)), 1e-5);  // mean over the same elements
  EXPECT_GT(ev.codes_used, 0);
}

// Trains `o` to step k (its checkpoint), then a fresh model resumed there to the end.
tr::VqTrainResult train_cut_at(const tr::VqTrainOptions& o, int64_t k, tr::VqTrainOverrides ov) {
  ov.stop_at_step = k;
  tr::train_vq(o, ov);
  ov.stop_at_step = -1;
  ov.resume = true;
  return tr::train_vq(o, ov);
}

// Same parameter names in the same order, and every tensor equal byte for byte.
void expect_same_weights(const ag::ParamList& a, const ag::ParamList& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const Tensor &x = a[i].var.value(), &y = b[i].var.value();
    ASSERT_EQ(a[i].name, b[i].name);
    EXPECT_TRUE(x.nbytes() == y.nbytes() && std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0) << a[i].name;
  }
}

TEST(TrainVq, ResumeMidRunGivesTheStraightRunsWeightsBitForBit) {
  const std::string dir = fresh_dir("resume");
  RemoveOnExit cleanup{dir};
  json r = tiny_recipe(6, dir + "/a");
  r["data"]["batch"] = 1;
  r["train"]["checkpoint_every"] = 3;
  // Restarts every 2 steps (at 2, 4, 6: across the cut) exercise the buffer and Rng they use.
  r["loss"] = {{"restart_dead_codes", 2}};
  const tr::VqTrainOptions straight = tr::parse_vq_options(r, dir + "/a.json");
  tr::VqTrainOverrides ov = quiet();
  std::vector<std::string> log;
  ov.log = [&](const std::string& m) { log.push_back(m); };
  ov.export_model = false;
  const tr::VqTrainResult a = tr::train_vq(straight, ov);
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log[0].find("step 2: restarted "), std::string::npos) << log[0];

  r["output"]["dir"] = dir + "/b";
  const tr::VqTrainOptions cut = tr::parse_vq_options(r, dir + "/b.json");
  ASSERT_EQ(straight.hash, cut.hash);                    // output paths are not part of the hash
  const tr::VqTrainResult b = train_cut_at(cut, 3, ov);  // steps 1-3, then a fresh model: 4-6
  EXPECT_EQ(b.start_step, 3);
  EXPECT_EQ(b.last.step, 6);
  EXPECT_EQ(a.last.loss, b.last.loss);
  expect_same_weights(a.params, b.params);

  // A changed recipe (another learning rate) refuses to resume from these checkpoints.
  ov.resume = true;
  r["optimizer"]["lr"] = 1e-3;
  const tr::VqTrainOptions changed = tr::parse_vq_options(r, dir + "/b.json");
  EXPECT_NE(changed.hash, cut.hash);
  EXPECT_THROW(tr::train_vq(changed, ov), std::exception);
}

std::vector<json> metric_lines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') out.push_back(json::parse(line));
  return out;
}

TEST(TrainVq, QuantizeAfterWarmsUpAsAnAutoencoderThenUsesKmeansCentroids) {
  const std::string dir = fresh_dir("warmup");
  RemoveOnExit cleanup{dir};
  json r = tiny_recipe(6, dir + "/a");
  r["data"]["batch"] = 1;
  r["train"]["checkpoint_every"] = 2;
  r["loss"] = {{"quantize_after", 3}, {"restart_dead_codes", 2}};
  const tr::VqTrainOptions straight = tr::parse_vq_options(r, dir + "/a.json");
  tr::VqTrainOverrides ov = quiet();
  std::vector<std::string> log;
  ov.log = [&](const std::string& m) { log.push_back(m); };
  ov.export_model = false;
  const tr::VqTrainResult a = tr::train_vq(straight, ov);
  // No restarts during the warm-up (step 2); the switch counts every code as used at step 3, so the
  // restart check at step 4 finds none dead, the one at step 6 those unused in steps 4–6.
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], "step 3: codebook set to k-means centroids of the encoder's latents; quantising from now on");
  EXPECT_NE(log[1].find("step 6: restarted "), std::string::npos) << log[1];

  // Warm-up steps: loss = rec + codebook; afterwards the commitment term (β = 0.25) is added.
  const std::vector<json> m = metric_lines(straight.metrics_path);
  ASSERT_EQ(m.size(), 6u);
  for (const json& l : m) {
    const double sum = l["rec"].get<double>() + l["codebook"].get<double>() +
                       (l["step"].get<int>() > 3 ? l["commit"].get<double>() : 0.0);
    EXPECT_NEAR(l["loss"].get<double>(), sum, 1e-6 * sum) << l.dump();
    EXPECT_GT(l["commit"].get<double>(), 0.0);  // still reported
  }

  // Right after the switch (a run stopped at step 3) every code is a unit-length centroid.
  r["output"]["dir"] = dir + "/c";
  const tr::VqTrainOptions at3 = tr::parse_vq_options(r, dir + "/c.json");
  ov.stop_at_step = 3;
  const tr::VqTrainResult c = tr::train_vq(at3, ov);
  const Tensor* cb = nullptr;
  for (const auto& p : c.params)
    if (p.name == "model.vqmodel.quantize.embedding.weight") cb = &p.var.value();
  ASSERT_NE(cb, nullptr);
  const std::vector<float> e = cb->to_f32_vector();
  for (size_t row = 0; row < e.size() / 8; ++row) {
    double n2 = 0;
    for (size_t d = 0; d < 8; ++d) n2 += double(e[row * 8 + d]) * e[row * 8 + d];
    EXPECT_NEAR(n2, 1.0, 1e-5) << "code " << row;
  }
  ov.stop_at_step = -1;

  // Resume from the step-2 checkpoint (before the switch) reproduces the straight run bit for bit.
  r["output"]["dir"] = dir + "/b";
  const tr::VqTrainOptions cut = tr::parse_vq_options(r, dir + "/b.json");
  const tr::VqTrainResult b = train_cut_at(cut, 2, ov);
  EXPECT_EQ(b.start_step, 2);
  expect_same_weights(a.params, b.params);
}

std::string parse_error(const json& j) {
  try {
    tr::parse_vq_options(j, "r.json");
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TrainVq, OptionErrorsNameTheKey) {
  json r = tiny_recipe(5, "out");
  EXPECT_NO_THROW(tr::parse_vq_options(r, "r.json"));
  json a = r;
  a["data"]["batchsize"] = 4;
  EXPECT_EQ(parse_error(a), "r.json: data.batchsize: unknown key");
  a = r;
  a["extra"] = 1;
  EXPECT_EQ(parse_error(a), "r.json: extra: unknown key");
  a = r;
  a.erase("kind");
  EXPECT_EQ(parse_error(a), "r.json: kind: expected \"vq\" for a VQ tokenizer recipe");
  a = r;
  a["data"]["batch"] = 0;
  EXPECT_EQ(parse_error(a), "r.json: data.batch: expected an integer >= 1, got 0");
  a = r;
  a["data"]["images"] = "imgs";
  EXPECT_EQ(parse_error(a), "r.json: data: give either \"shapes_seed\" or \"images\", not both");
  a = r;
  a["model"]["vq_config"]["base_channels"] = 24;
  EXPECT_NE(parse_error(a).find("r.json: model.vq_config: "), std::string::npos) << parse_error(a);
  EXPECT_NE(parse_error(a).find("base_channels"), std::string::npos) << parse_error(a);
  a = r;
  a["data"]["image_size"] = 49;
  EXPECT_NE(parse_error(a).find("r.json: data.image_size: 49 is not a multiple of"), std::string::npos);
  a = r;
  a["optimizer"]["betas"] = {0.9};
  EXPECT_EQ(parse_error(a), "r.json: optimizer.betas: expected an array of 2 numbers");
  a = r;
  a["schedule"]["kind"] = "linear";
  EXPECT_NE(parse_error(a).find("r.json: schedule.kind: "), std::string::npos) << parse_error(a);
  a = r;
  a["loss"] = {{"quantize_after", 5}};
  EXPECT_EQ(parse_error(a),
            "r.json: loss.quantize_after: 5 warm-up steps leave none of train.steps = 5 to train the "
            "codebook");
  a = r;
  a["train"]["stpes"] = 3;
  EXPECT_EQ(parse_error(a), "r.json: train.stpes: unknown key");
  a = r;
  a["data"].erase("shapes_seed");
  a["data"]["images"] = "";
  EXPECT_EQ(parse_error(a), "r.json: data.images: empty folder name");
}

// The optimizer / schedule / train sections are recipe.h's (parse_train_sections), so a VQ recipe
// takes torch-style param groups as a text recipe does, with the VQ defaults underneath.
TEST(TrainVq, OptimizerSectionIsTheSharedOne) {
  json r = tiny_recipe(5, "out");
  r["optimizer"] = {{"groups", {{{"params", {"model.vqmodel.decoder.*"}}, {"lr_scale", 0.5}}}}};
  const tr::VqTrainOptions o = tr::parse_vq_options(r, "r.json");
  EXPECT_DOUBLE_EQ(o.lr, 1e-3);  // the VQ defaults
  EXPECT_DOUBLE_EQ(o.adamw.beta2, 0.99);
  ASSERT_EQ(o.adamw.groups.size(), 2u);  // the given group, then no_decay
  EXPECT_EQ(o.adamw.groups[0].patterns, std::vector<std::string>{"model.vqmodel.decoder.*"});
  EXPECT_DOUBLE_EQ(o.adamw.groups[0].lr_scale, 0.5);
  EXPECT_DOUBLE_EQ(o.adamw.groups[0].weight_decay, 0.0);
  EXPECT_EQ(o.adamw.groups[1].patterns, tr::no_decay_norms_and_biases().patterns);
  EXPECT_NE(o.hash, tr::parse_vq_options(tiny_recipe(5, "out"), "r.json").hash);  // groups change the numbers
  r["optimizer"]["groups"][0]["lr_scale"] = -1;
  EXPECT_EQ(parse_error(r), "r.json: optimizer.groups[0].lr_scale: expected a finite number >= 0, got -1");
}

TEST(TrainVq, ShippedRecipeParses) {
  const tr::VqTrainOptions o = tr::load_vq_options(std::string(JANUS_SOURCE_DIR) + "/train/recipes/shapes_vq.json");
  EXPECT_EQ(o.image_size, 64);
  EXPECT_EQ(o.grid(), o.vq.num_patches);
  EXPECT_TRUE(o.image_dir.empty());
  EXPECT_NE(o.eval_seed, o.shapes_seed);  // held out
}

TEST(TrainVq, PngFolderSourceReadsInEpochOrderAndRollsOver) {
  const std::string dir = fresh_dir("png");
  RemoveOnExit cleanup{dir};
  std::vector<std::vector<float>> want;
  for (int i = 0; i < 3; ++i) {
    const vi::Image img = vi::shapes::render_scene(vi::shapes::generate_scene(9, uint64_t(i), 48));
    vi::save_png(dir + "/img" + std::to_string(i) + ".png", img);
    want.emplace_back(size_t(3 * 48 * 48));
    tr::rgb8_to_unit_pixels(img, want.back().data());
  }
  tr::VqImageSource src = tr::VqImageSource::folder(dir, 48, 2, 0, false, 576);
  EXPECT_EQ(src.num_files(), 3);
  const tr::Batch b1 = src.next_batch(), b2 = src.next_batch();
  ASSERT_EQ(b1.pixel_values.size(), 1u);
  EXPECT_EQ(b1.real_tokens, 2 * 576);
  const auto v1 = b1.pixel_values[0].to_f32_vector(), v2 = b2.pixel_values[0].to_f32_vector();
  const size_t per = 3 * 48 * 48;
  // No shuffle: img0, img1 | img2, (epoch 1) img0.
  EXPECT_TRUE(std::equal(want[0].begin(), want[0].end(), v1.begin()));
  EXPECT_TRUE(std::equal(want[1].begin(), want[1].end(), v1.begin() + per));
  EXPECT_TRUE(std::equal(want[2].begin(), want[2].end(), v2.begin()));
  EXPECT_TRUE(std::equal(want[0].begin(), want[0].end(), v2.begin() + per));
  EXPECT_EQ(src.cursor(), (tr::DataCursor{1, 1}));
  // Pixel values: white → 1, and a palette red channel 220 → float(220/255)·2 − 1.
  EXPECT_EQ(want[0][0], 1.0f);
  EXPECT_THROW(tr::VqImageSource::folder(dir + "/none", 48, 2, 0, false, 576), std::runtime_error);
}

}  // namespace
