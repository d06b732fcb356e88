// TrainableJanus (llm/trainable_janus.h): one training step of both Janus image paths against
// PyTorch (transformers' JanusForConditionalGeneration on tests/fixtures/janus/hf; references from
// tools/make_train_janus_fixtures.py):
//   understanding — input_ids with 16 image placeholders per row + pixel_values, text CE on the
//                   answer positions (understanding.safetensors);
//   generation    — prompt ids + 16 image codes, CE of the generation head on the codes
//                   (generation.safetensors).
// Tolerances (issue 7, must-show 2): loss within 1e-5 relative, every parameter gradient within
// 1e-4 relative (max|Δ|/max|ref| per tensor; structurally zero gradients, see
// train_vision_util.h). Both sides are float32; the measured errors are ~1e-7 (loss) and ~1e-6
// (gradients), so the bars leave an order of magnitude or more.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "llm/trainable_janus.h"
#include "tests/train_vision/train_vision_util.h"
#include "train/freeze.h"
#include "train/optimizer.h"

namespace janus::llm {
namespace {

namespace ag = kernels::ag;
using ag::Var;
using kernels::Tensor;

constexpr double kLossTol = 1e-5;
constexpr double kGradTol = 1e-4;
constexpr double kAdamwTol = 1e-4;

TrainableJanus model() { return TrainableJanus::from_checkpoint(test::janus_fixture("hf")); }

TEST(TrainableJanus, ParametersAreTheCheckpointTensors) {
  TrainableJanus m = model();
  const auto store = SafetensorsFile::open(test::janus_fixture("hf/model.safetensors"));
  EXPECT_EQ(m.params().size(), store->names().size());
  for (const auto& p : m.params()) {
    ASSERT_TRUE(store->has(p.name)) << p.name;
    EXPECT_EQ(p.var.value().to_f32_vector(), store->get(p.name).to_f32_vector()) << p.name;
  }
}

// The original `multi_modality` release layout (.bin, fused qkv, renamed modules) loads into the
// same parameters (transformers names, identical values).
TEST(TrainableJanus, OriginalLayoutLoadsTheSameParameters) {
  TrainableJanus hf = model();
  TrainableJanus mm = TrainableJanus::from_checkpoint(test::janus_fixture("mm"));
  ASSERT_EQ(hf.params().size(), mm.params().size());
  for (size_t i = 0; i < hf.params().size(); ++i) {
    EXPECT_EQ(hf.params()[i].name, mm.params()[i].name);
    EXPECT_EQ(hf.params()[i].var.value().to_f32_vector(), mm.params()[i].var.value().to_f32_vector())
        << hf.params()[i].name;
  }
}

TEST(TrainableJanus, RandomInitHasTheCheckpointNamesAndIsSeeded) {
  TrainableJanus hf = model();
  TrainableJanus a = TrainableJanus::random(hf.config(), 11), b = TrainableJanus::random(hf.config(), 11);
  ASSERT_EQ(a.params().size(), hf.params().size());
  for (size_t i = 0; i < a.params().size(); ++i) {
    EXPECT_EQ(a.params()[i].name, hf.params()[i].name);
    EXPECT_EQ(a.params()[i].var.shape(), hf.params()[i].var.shape());
    EXPECT_EQ(a.params()[i].var.value().to_f32_vector(), b.params()[i].var.value().to_f32_vector());
  }
  // It trains: one generation-path backward reaches the generation head.
  const Var loss = a.generation_loss({5, 6, 7}, {1, 2, 3, 4}, 1, 3, 4);
  ag::backward(loss);
  EXPECT_TRUE(std::isfinite(test::scalar(loss)));
  for (const auto& p : a.params()) {
    const bool head = p.name.rfind("model.generation_head.", 0) == 0;
    EXPECT_TRUE(!head || p.var.has_grad()) << p.name;
  }
}

void understanding_step(const std::string& model_dir, const std::string& fixture, const char* what) {
  TrainableJanus m = TrainableJanus::from_checkpoint(test::janus_fixture(model_dir));
  const auto ref = SafetensorsFile::open(test::train_janus_fixture(fixture));
  const Tensor ids = ref->get("input_ids");
  const int64_t B = ids.size(0), T = ids.size(1);
  const Var logits = m.forward_understanding(ids.to_i64_vector(), B, T, Var::constant(ref->get("pixel_values")));
  const double el = test::rel_err(logits.value(), ref->get("logits"));
  const Var loss = ag::cross_entropy(logits, ref->get("targets").to_i64_vector());
  const double e = test::rel_err({float(test::scalar(loss))}, ref->get("loss").to_f32_vector());
  std::printf("%s: loss %.7g rel err %.3g, logits rel err %.3g\n", what, test::scalar(loss), e, el);
  EXPECT_LT(e, kLossTol);
  ag::backward(loss);
  test::check_param_grads(m.params(), *ref, kGradTol, what);
  // Placeholders and images must agree.
  EXPECT_THROW(m.forward_understanding(ids.to_i64_vector(), B, T, Var()), kernels::Error);
}

void generation_step(const std::string& model_dir, const std::string& fixture, const char* what) {
  TrainableJanus m = TrainableJanus::from_checkpoint(test::janus_fixture(model_dir));
  const auto ref = SafetensorsFile::open(test::train_janus_fixture(fixture));
  const Tensor prompt = ref->get("prompt_ids"), codes = ref->get("image_tokens");
  const int64_t B = prompt.size(0), P = prompt.size(1), K = codes.size(1);
  const Var gl = m.forward_generation(prompt.to_i64_vector(), codes.to_i64_vector(), B, P, K);
  const double el = test::rel_err(gl.value(), ref->get("gen_logits"));
  const Var loss = m.generation_loss(prompt.to_i64_vector(), codes.to_i64_vector(), B, P, K);
  const double e = test::rel_err({float(test::scalar(loss))}, ref->get("loss").to_f32_vector());
  std::printf("%s: loss %.7g rel err %.3g, gen_logits rel err %.3g\n", what, test::scalar(loss), e, el);
  EXPECT_LT(e, kLossTol);
  ag::backward(loss);
  test::check_param_grads(m.params(), *ref, kGradTol, what);
}

TEST(TrainableJanus, UnderstandingStepMatchesPyTorch) {
  understanding_step("hf", "understanding.safetensors", "understanding step");
}

TEST(TrainableJanus, GenerationStepMatchesPyTorch) {
  generation_step("hf", "generation.safetensors", "generation step");
}

// Our janus_r1 layout: the same pathways on a tiny DeepSeek-V3 backbone (MLA with q_lora, YaRN,
// interleaved RoPE, MoE with a shared expert and group-limited routing; the checkpoint's MTP
// module is not used). The fixture script checks every routing margin > 1e-4.
TEST(TrainableJanus, DeepSeekBackboneUnderstandingStepMatchesPyTorch) {
  understanding_step("r1", "understanding_r1.safetensors", "understanding step (r1)");
}

TEST(TrainableJanus, DeepSeekBackboneGenerationStepMatchesPyTorch) {
  generation_step("r1", "generation_r1.safetensors", "generation step (r1)");
}

TEST(TrainableJanus, VqStepThroughTheJanusModelMatchesPyTorch) {
  TrainableJanus m = model();
  const auto ref = SafetensorsFile::open(test::train_janus_fixture("vq.safetensors"));
  const vision::VqLosses l = vision::vq_tokenizer_losses(m.vq(), Var::constant(ref->get("vq_pixels")));
  const double e = test::rel_err({float(test::scalar(l.total))}, ref->get("loss").to_f32_vector());
  std::printf("vq (in TrainableJanus): loss rel err %.3g\n", e);
  EXPECT_LT(e, kLossTol);
  ag::backward(l.total);
  test::check_param_grads(m.params(), *ref, kGradTol, "vq step (Janus)");
}

// Janus-Pro stage 1 (aligners + generation embedding/aligner/head trainable; backbone, SigLIP and
// VQ frozen) with train/freeze.h patterns on the checkpoint names: a combined understanding +
// generation step gives gradients to exactly the unfrozen parameters, and they equal the full
// model's (freezing leaves what reaches the trainable ones unchanged).
TEST(TrainableJanus, StageOneFreezingTrainsOnlyTheAdapters) {
  const auto u = SafetensorsFile::open(test::train_janus_fixture("understanding.safetensors"));
  const auto g = SafetensorsFile::open(test::train_janus_fixture("generation.safetensors"));
  auto step = [&](TrainableJanus& m) {
    const Tensor ids = u->get("input_ids"), prompt = g->get("prompt_ids"), codes = g->get("image_tokens");
    const Var lu = m.understanding_loss(ids.to_i64_vector(), ids.size(0), ids.size(1),
                                        Var::constant(u->get("pixel_values")), u->get("targets").to_i64_vector());
    const Var lg =
        m.generation_loss(prompt.to_i64_vector(), codes.to_i64_vector(), prompt.size(0), prompt.size(1), codes.size(1));
    ag::backward(ag::add(lu, lg));
  };
  TrainableJanus full = model(), staged = model();
  const train::FreezeReport r = train::freeze(staged.params(), {"*"});
  EXPECT_EQ(r.trainable_tensors, 0);
  const std::vector<std::string> stage1 = {"model.aligner.*", "model.generation_embeddings.*",
                                           "model.generation_aligner.*", "model.generation_head.*"};
  EXPECT_TRUE(train::unfreeze(staged.params(), stage1).unmatched_patterns.empty());
  step(full);
  step(staged);
  size_t trained = 0;
  for (size_t i = 0; i < staged.params().size(); ++i) {
    const auto& p = staged.params()[i];
    const bool on = train::glob_match_any(stage1, p.name);
    EXPECT_EQ(p.var.has_grad(), on) << p.name;
    if (!on || !p.var.has_grad()) continue;
    ++trained;
    EXPECT_EQ(p.var.grad().to_f32_vector(), full.params()[i].var.grad().to_f32_vector()) << p.name;
  }
  EXPECT_EQ(trained, size_t(4 + 1 + 4 + 4));
}

// 10 AdamW steps (lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight decay 0.1 on every parameter, as
// the fixture script's torch.optim.AdamW): the loss before each step tracks PyTorch's within 1e-4
// relative (issue 7, must-show 2). Parameters a case does not use get no gradient and are skipped,
// as torch skips params whose grad is None. Structurally zero gradients (train_vision_util.h) move
// their biases by float noise on both sides, differently, but those biases cannot change the loss.
void check_adamw(const char* what, const llm::SafetensorsFile& ref, TrainableJanus& m,
                 const std::function<Var()>& loss_fn) {
  train::AdamWConfig cfg;
  cfg.beta1 = 0.9, cfg.beta2 = 0.95, cfg.eps = 1e-8, cfg.weight_decay = 0.1;
  train::AdamW opt(m.params(), cfg);
  const std::vector<float> want = ref.get("adamw_losses").to_f32_vector();
  double worst = 0;
  for (size_t s = 0; s < want.size(); ++s) {
    opt.zero_grad();
    const Var loss = loss_fn();
    const double e = test::rel_err({float(test::scalar(loss))}, {want[s]});
    EXPECT_LT(e, kAdamwTol) << what << " step " << s;
    worst = std::max(worst, e);
    ag::backward(loss);
    opt.step(1e-3);
  }
  std::printf("%s: 10 AdamW steps, loss %.6g -> %.6g, worst rel err %.3g\n", what, want.front(), want.back(), worst);
}

TEST(TrainableJanus, TenAdamWStepsTrackPyTorch) {
  {
    TrainableJanus m = model();
    const auto ref = SafetensorsFile::open(test::train_janus_fixture("understanding.safetensors"));
    const Tensor ids = ref->get("input_ids");
    const Var px = Var::constant(ref->get("pixel_values"));
    const std::vector<int64_t> targets = ref->get("targets").to_i64_vector();
    check_adamw("understanding", *ref, m,
                [&] { return m.understanding_loss(ids.to_i64_vector(), ids.size(0), ids.size(1), px, targets); });
  }
  {
    TrainableJanus m = model();
    const auto ref = SafetensorsFile::open(test::train_janus_fixture("generation.safetensors"));
    const Tensor prompt = ref->get("prompt_ids"), codes = ref->get("image_tokens");
    check_adamw("generation", *ref, m, [&] {
      return m.generation_loss(prompt.to_i64_vector(), codes.to_i64_vector(), prompt.size(0), prompt.size(1),
                               codes.size(1));
    });
  }
  {
    TrainableJanus m = model();
    const auto ref = SafetensorsFile::open(test::train_janus_fixture("vq.safetensors"));
    const Var px = Var::constant(ref->get("vq_pixels"));
    check_adamw("vq", *ref, m, [&] { return vision::vq_tokenizer_losses(m.vq(), px).total; });
  }
}

}  // namespace
}  // namespace janus::llm
