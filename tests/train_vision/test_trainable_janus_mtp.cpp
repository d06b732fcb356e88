// TrainableJanus's DeepSeek-V3 MTP module (llm/trainable_janus.h: understanding_losses /
// generation_losses) against independent paths, on a random-init model of the r1 fixture config
// (tests/fixtures/janus/r1: deepseek_v3 backbone, num_nextn_predict_layers 1, MoE in layer 1):
//   understanding — the same language-model weights written as a plain deepseek_v3 HF checkpoint
//                   and loaded by llm::TrainableModel: main / MTP / total loss, every LM gradient
//                   (MTP included) and the expert loads must agree;
//   generation    — the MTP loss rebuilt by hand from public pieces (backbone(), a decoder layer
//                   from build_train_layer on the same weights, the generation embedding and head)
//                   with the targets written out directly (position t predicts code t+2−P).
// Tolerances: both sides are f32 over the same kernels, so losses agree to ~1e-7 and gradients to
// ~1e-6 (summation order of shared rows differs); the bars are 1e-6 (loss) and 1e-5 (gradients).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "llm/trainable.h"
#include "llm/trainable_janus.h"
#include "tests/train_vision/train_vision_util.h"
#include "vision/trainable_vision.h"
#include "vision/weight_source.h"

namespace janus::llm {
namespace {

namespace ag = kernels::ag;
namespace fs = std::filesystem;
using ag::Var;
using kernels::Tensor;

constexpr double kLossTol = 1e-6;
constexpr double kGradTol = 1e-5;
constexpr double kLambda = 0.3;
const std::string kLm = "model.language_model.";

JanusConfig r1_config() { return load_janus_config(test::janus_fixture("r1/config.json")); }

// Random init leaves every norm weight at 1 and the correction biases at 0, which would hide a
// swapped enorm / hnorm or an ignored bias: scale the norms by 1 + 0.2·N(0,1) and give the biases
// N(0, 0.05) (larger than the typical score gap, so routing depends on them).
TrainableJanus r1_model() {
  TrainableJanus m = TrainableJanus::random(r1_config(), 5);
  std::mt19937 rng(17);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (auto& p : m.params())
    if (p.var.value().dim() == 1 && p.name.find("norm") != std::string::npos && p.name.rfind(kLm, 0) == 0) {
      float* v = p.var.value().data<float>();
      for (int64_t i = 0; i < p.var.value().numel(); ++i) v[i] *= 1.0f + 0.2f * nd(rng);
    }
  for (auto& b : m.buffers()) {
    float* v = b.value.data<float>();
    for (int64_t i = 0; i < b.value.numel(); ++i) v[i] = 0.05f * nd(rng);
  }
  return m;
}

// model.language_model.X → model.X (lm_head.weight unchanged); "" for non-LM names.
std::string lm_name(const std::string& n) {
  if (n.rfind(kLm, 0) == 0) return "model." + n.substr(kLm.size());
  if (n == "lm_head.weight") return n;
  return "";
}

// The Janus model's language model (MTP and correction biases included) as a deepseek_v3 folder.
std::string write_lm_checkpoint(const TrainableJanus& m, const std::string& name) {
  const fs::path dir = fs::path(JANUS_BINARY_DIR) / "train_janus_mtp_tmp" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ifstream f(test::janus_fixture("r1/config.json"));
  const nlohmann::json j = nlohmann::json::parse(f);
  std::ofstream(dir / "config.json") << j.at("text_config").dump(2);
  NamedTensors w;
  for (const auto& p : m.params())
    if (!lm_name(p.name).empty()) w.push_back({lm_name(p.name), p.var.value()});
  for (const auto& b : m.buffers()) w.push_back({lm_name(b.name), b.value});
  write_safetensors((dir / "model.safetensors").string(), w);
  return dir.string();
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}
double rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); }

// Text-only batch: B=2, T=12 ids below the image placeholder (300), targets = next token, with the
// last position of each row and one middle position ignored.
struct TextBatch {
  int64_t B = 2, T = 12;
  std::vector<int64_t> ids, targets;
};
TextBatch text_batch() {
  TextBatch b;
  std::mt19937 rng(3);
  for (int64_t i = 0; i < b.B * b.T; ++i) b.ids.push_back(3 + int64_t(rng() % 290));
  b.targets.assign(b.ids.size(), -100);
  for (int64_t r = 0; r < b.B; ++r)
    for (int64_t t = 0; t + 1 < b.T; ++t) b.targets[size_t(r * b.T + t)] = b.ids[size_t(r * b.T + t + 1)];
  b.targets[5] = -100;
  return b;
}

TEST(TrainableJanusMtp, BuiltFromConfigForRandomInitAbsentFromAnMtpLessCheckpoint) {
  TrainableJanus r = TrainableJanus::random(r1_config(), 0);
  EXPECT_TRUE(r.has_mtp());
  EXPECT_EQ(r.num_moe_layers(), 2);  // layer 1 (first_k_dense_replace 1) + the MTP's layer
  ASSERT_EQ(r.buffers().size(), 2u);
  EXPECT_EQ(r.buffers()[0].name, kLm + "layers.1.mlp.gate.e_score_correction_bias");
  EXPECT_EQ(r.buffers()[1].name, kLm + "layers.2.mlp.gate.e_score_correction_bias");
  size_t mtp = 0;
  for (const auto& p : r.params()) mtp += p.name.rfind(kLm + "layers.2.", 0) == 0;
  EXPECT_GT(mtp, 4u);
  // The fixture's config says 1 MTP layer but transformers stored none: no module.
  TrainableJanus c = TrainableJanus::from_checkpoint(test::janus_fixture("r1"));
  EXPECT_FALSE(c.has_mtp());
  EXPECT_EQ(c.num_moe_layers(), 1);
  EXPECT_FALSE(c.generation_losses({5, 6, 7}, {1, 2, 3, 4}, 1, 3, 4, kLambda).mtp.defined());
}

// Text-only understanding is exactly a deepseek_v3 language model with MTP: TrainableModel on the
// same weights must give the same losses, expert loads and gradients.
TEST(TrainableJanusMtp, TextUnderstandingMatchesTrainableModelLossesAndGradients) {
  TrainableJanus jm = r1_model();
  TrainableModel tm = TrainableModel::from_checkpoint(write_lm_checkpoint(jm, "parity"));
  ASSERT_TRUE(tm.has_mtp());
  const TextBatch b = text_batch();

  const JanusLoss jl = jm.understanding_losses(b.ids, b.B, b.T, Var(), b.targets, kLambda);
  const TrainForwardResult f = tm.forward(b.ids, b.B, b.T);
  const LmLoss tl = lm_loss(f, b.targets, b.B, b.T, kLambda);
  ASSERT_TRUE(jl.mtp.defined());
  const double jmain = test::scalar(jl.main), jmtp = test::scalar(jl.mtp), jtot = test::scalar(jl.total);
  const double tmain = test::scalar(tl.main), tmtp = test::scalar(tl.mtp), ttot = test::scalar(tl.total);
  std::printf("janus main %.8g mtp %.8g total %.8g | TrainableModel %.8g %.8g %.8g\n", jmain, jmtp, jtot, tmain, tmtp,
              ttot);
  EXPECT_LT(rel(jmain, tmain), kLossTol);
  EXPECT_LT(rel(jmtp, tmtp), kLossTol);
  EXPECT_LT(rel(jtot, ttot), kLossTol);
  EXPECT_GT(std::fabs(jmtp - jmain), 1e-3);  // the two heads really predict different tokens
  EXPECT_EQ(jl.expert_load, f.expert_load);
  ASSERT_EQ(jl.expert_load.size(), 2u);

  ag::backward(jl.total);
  ag::backward(tl.total);
  std::map<std::string, const ag::NamedParam*> ref;
  for (const auto& p : tm.params()) ref[p.name] = &p;
  size_t compared = 0, mtp_params = 0;
  double worst = 0;
  std::string worst_name;
  for (const auto& p : jm.params()) {
    const std::string n = lm_name(p.name);
    if (n.empty()) {  // vision, VQ, generation parts: untouched by a text-only batch
      EXPECT_FALSE(p.var.has_grad() && max_abs(p.var.grad().to_f32_vector()) > 0) << p.name;
      continue;
    }
    ASSERT_TRUE(ref.count(n)) << n;
    const ag::NamedParam& r = *ref[n];
    ASSERT_EQ(p.var.has_grad(), r.var.has_grad()) << p.name;  // unrouted experts: none on both sides
    ++compared;
    mtp_params += n.rfind("model.layers.2.", 0) == 0;
    if (!p.var.has_grad()) continue;
    const double e = test::rel_err(p.var.grad(), r.var.grad());
    EXPECT_LT(e, kGradTol) << p.name;
    if (e > worst) worst = e, worst_name = p.name;
  }
  EXPECT_EQ(compared, tm.params().size());
  EXPECT_GT(mtp_params, 4u);
  std::printf("%zu LM gradients (%zu MTP) vs TrainableModel: worst rel err %.3g (%s)\n", compared, mtp_params, worst,
              worst_name.c_str());
  // The correction biases really steer the routing here (so the parity covers them).
  for (auto& buf : jm.buffers()) std::fill_n(buf.value.data<float>(), buf.value.numel(), 0.0f);
  EXPECT_NE(jm.understanding_losses(b.ids, b.B, b.T, Var(), b.targets, kLambda).expert_load, jl.expert_load);
}

// The sequence-wise balance loss (balance_alpha > 0) is TrainableModel's on text: same term, same
// total; alpha 0 computes none. On t2i rows it is defined too and enters the total.
TEST(TrainableJanusMtp, BalanceLossMatchesTrainableModelAndEntersTheTotal) {
  TrainableJanus jm = r1_model();
  TrainableModel tm = TrainableModel::from_checkpoint(write_lm_checkpoint(jm, "balance"));
  const TextBatch b = text_batch();
  constexpr double kAlpha = 0.01;
  const JanusLoss jl = jm.understanding_losses(b.ids, b.B, b.T, Var(), b.targets, kLambda, kAlpha);
  TrainForwardOptions fo;
  fo.seq_balance_alpha = kAlpha;
  const TrainForwardResult f = tm.forward(b.ids, b.B, b.T, fo);
  const LmLoss tl = lm_loss(f, b.targets, b.B, b.T, kLambda);
  ASSERT_TRUE(jl.balance.defined());
  ASSERT_TRUE(f.balance_loss.defined());
  const double jb = test::scalar(jl.balance), tb = test::scalar(f.balance_loss);
  std::printf("balance loss: janus %.8g, TrainableModel %.8g\n", jb, tb);
  EXPECT_GT(jb, 0.0);
  EXPECT_LT(rel(jb, tb), kLossTol);
  EXPECT_LT(rel(test::scalar(jl.total), test::scalar(tl.total)), kLossTol);
  EXPECT_LT(rel(test::scalar(jl.total), test::scalar(jl.main) + kLambda * test::scalar(jl.mtp) + jb), kLossTol);
  EXPECT_FALSE(jm.understanding_losses(b.ids, b.B, b.T, Var(), b.targets, kLambda).balance.defined());

  const std::vector<int64_t> prompt = {5, 9, 17, 40, 7, 8}, codes = {1, 7, 3, 63, 0, 12, 5, 5};
  const JanusLoss g0 = jm.generation_losses(prompt, codes, 2, 3, 4, kLambda);
  const JanusLoss g = jm.generation_losses(prompt, codes, 2, 3, 4, kLambda, kAlpha);
  ASSERT_TRUE(g.balance.defined());
  EXPECT_FALSE(g0.balance.defined());
  EXPECT_GT(test::scalar(g.balance), 0.0);
  EXPECT_EQ(test::scalar(g.main), test::scalar(g0.main));
  EXPECT_LT(rel(test::scalar(g.total), test::scalar(g0.total) + test::scalar(g.balance)), kLossTol);
}

// λ = 0: no MTP loss, and the total is the plain CE of forward_understanding's logits.
TEST(TrainableJanusMtp, LambdaZeroIsTheMainLossAlone) {
  TrainableJanus jm = r1_model();
  const TextBatch b = text_batch();
  const JanusLoss l = jm.understanding_losses(b.ids, b.B, b.T, Var(), b.targets, 0.0);
  EXPECT_FALSE(l.mtp.defined());
  const double want = test::scalar(ag::cross_entropy(jm.forward_understanding(b.ids, b.B, b.T, Var()), b.targets));
  EXPECT_EQ(test::scalar(l.total), want);
  EXPECT_EQ(test::scalar(l.main), want);
  EXPECT_EQ(test::scalar(jm.understanding_loss(b.ids, b.B, b.T, Var(), b.targets)), want);
  // With λ > 0 the main term is unchanged and total = main + λ·mtp.
  const JanusLoss m = jm.understanding_losses(b.ids, b.B, b.T, Var(), b.targets, kLambda);
  EXPECT_EQ(test::scalar(m.main), want);
  EXPECT_LT(rel(test::scalar(m.total), want + kLambda * test::scalar(m.mtp)), kLossTol);
}

// ParamSource over a name → tensor map (a decoder layer rebuilt on the Janus model's weights).
class MapParamSource : public ParamSource {
 public:
  explicit MapParamSource(std::map<std::string, Tensor> t) : t_(std::move(t)) {}
  Tensor fetch(const std::string& name, const kernels::Shape& shape, ParamKind) override {
    auto it = t_.find(name);
    if (it == t_.end()) throw kernels::Error("MapParamSource: no '" + name + "'");
    EXPECT_EQ(it->second.shape(), shape) << name;
    return it->second.clone();
  }

 private:
  std::map<std::string, Tensor> t_;
};

// t2i: the MTP at position t gets hnorm(h_t) and enorm(generation_aligner(embedding(code))) of
// position t+1, goes through the generation head and predicts code t+2−P. Rebuilt by hand.
TEST(TrainableJanusMtp, GenerationMtpLossMatchesAHandComputation) {
  TrainableJanus jm = r1_model();
  const JanusConfig& c = jm.config();
  const int64_t B = 2, P = 4, K = 6, T = P + K, H = c.text.hidden_size;
  const std::vector<int64_t> prompt = {5, 9, 17, 40, 7, 8, 99, 12};
  const std::vector<int64_t> codes = {1, 7, 3, 63, 0, 12, 5, 5, 41, 2, 33, 60};
  const JanusLoss l = jm.generation_losses(prompt, codes, B, P, K, kLambda);
  ASSERT_TRUE(l.mtp.defined());

  std::map<std::string, Tensor> w;
  vision::MapWeightSource ws;
  for (const auto& p : jm.params()) w[p.name] = p.var.value(), ws.set(p.name, p.var.value());
  for (const auto& b : jm.buffers()) w[b.name] = b.value;
  // Public pieces on the same weights.
  ag::ParamList pl;
  std::vector<NamedBuffer> bufs;
  MapParamSource src(w);
  ParamRegistry reg{src, pl, bufs};
  const TrainLayer layer = build_train_layer(c.text, reg, kLm + "layers.2", 2);
  vision::ParamMaker pm(pl, &ws);
  const vision::TrainGenEmbedding gen_embed(c.gen_aligner, c.vq.num_embeddings, pm,
                                            "model.generation_embeddings.weight", "model.generation_aligner.");
  const vision::TrainGenHead gen_head(c.gen_head, pm, "model.generation_head.");
  auto v = [&](const std::string& n) { return Var::constant(w.at(n)); };
  std::vector<Var> rows;
  for (int64_t b = 0; b < B; ++b) {
    rows.push_back(ag::embedding(v(kLm + "embed_tokens.weight"),
                                 std::vector<int64_t>(prompt.begin() + b * P, prompt.begin() + (b + 1) * P)));
    rows.push_back(gen_embed.forward(std::vector<int64_t>(codes.begin() + b * K, codes.begin() + (b + 1) * K)));
  }
  const Var x = ag::concat(rows, 0);  // [B·T, H], row b·T + t
  ASSERT_EQ(x.size(1), H);
  const Var h = jm.backbone(x, B, T);

  // Main loss by hand: position P−1+k predicts code k.
  std::vector<int64_t> main_t(size_t(B * T), -100);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < K; ++k) main_t[size_t(b * T + P - 1 + k)] = codes[size_t(b * K + k)];
  const double main = test::scalar(ag::cross_entropy(gen_head.forward(h), main_t));

  // MTP by hand over the T−1 positions of each row.
  std::vector<int64_t> cur, next, mtp_t;
  TrainContext ctx;
  ctx.batch = B, ctx.seq = T - 1, ctx.num_sequences = B;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t) {
      cur.push_back(b * T + t), next.push_back(b * T + t + 1);
      ctx.pos.push_back(t), ctx.sequence_of_row.push_back(b);
      const int64_t k = t + 2 - P;
      mtp_t.push_back(k >= 0 && k < K ? codes[size_t(b * K + k)] : -100);
    }
  const double eps = c.text.rms_norm_eps;
  const Var e = ag::rms_norm(ag::gather_rows(x, next), v(kLm + "layers.2.enorm.weight"), eps);
  const Var hs = ag::rms_norm(ag::gather_rows(h, cur), v(kLm + "layers.2.hnorm.weight"), eps);
  const Var y = layer.forward(ag::linear(ag::concat({e, hs}, 1), v(kLm + "layers.2.eh_proj.weight")), ctx);
  const Var z = ag::rms_norm(y, v(kLm + "layers.2.shared_head.norm.weight"), eps);
  const double mtp = test::scalar(ag::cross_entropy(gen_head.forward(z), mtp_t));

  std::printf("generation: main %.8g (hand %.8g), mtp %.8g (hand %.8g)\n", test::scalar(l.main), main,
              test::scalar(l.mtp), mtp);
  EXPECT_LT(rel(test::scalar(l.main), main), kLossTol);
  EXPECT_LT(rel(test::scalar(l.mtp), mtp), kLossTol);
  EXPECT_LT(rel(test::scalar(l.total), main + kLambda * mtp), kLossTol);
  EXPECT_GT(std::fabs(mtp - main), 1e-3);
  ASSERT_EQ(l.expert_load.size(), 2u);
  ASSERT_EQ(ctx.expert_load.size(), 1u);
  EXPECT_EQ(l.expert_load[1], ctx.expert_load[0]);  // the MTP layer routed the same tokens

  // The MTP module and the generation head learn from it.
  ag::backward(l.total);
  for (const auto& p : jm.params()) {
    const bool mtp_part = p.name.rfind(kLm + "layers.2.", 0) == 0 && p.name.find(".experts.") == std::string::npos;
    if (!mtp_part && p.name.rfind("model.generation_head.", 0) != 0) continue;
    ASSERT_TRUE(p.var.has_grad()) << p.name;
    EXPECT_GT(max_abs(p.var.grad().to_f32_vector()), 0.0) << p.name;
  }
}

}  // namespace
}  // namespace janus::llm
