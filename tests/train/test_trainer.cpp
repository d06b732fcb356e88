// The Trainer end to end on a toy language model: exact resume (20 steps straight == 10 steps in
// another process + checkpoint + resume + 10 steps, bit for bit), hooks, metrics, recipe check.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "kernels/autograd/ops.h"
#include "train/checkpoint.h"
#include "train/freeze.h"
#include "train/trainer.h"

namespace {

namespace tr = janus::train;
namespace ag = janus::kernels::ag;
namespace fs = std::filesystem;
using janus::kernels::DType;
using janus::kernels::Tensor;

constexpr int64_t kVocab = 32, kDim = 16, kHidden = 32;

// Toy LM: embedding -> linear + silu (with dropout from the trainer Rng) -> linear -> CE.
// `init_seed` decides the initial weights; the resumed run starts from different ones on purpose.
ag::ParamList make_model(uint64_t init_seed) {
  tr::Rng rng(init_seed);
  auto param = [&](janus::kernels::Shape s, double scale) {
    Tensor t = Tensor::empty(s, DType::F32);
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = float(rng.normal() * scale);
    return ag::Var::leaf(t, true);
  };
  return {{"embed.weight", param({kVocab, kDim}, 1.0)}, {"fc1.weight", param({kHidden, kDim}, 0.25)},
          {"fc1.bias", param({kHidden}, 0.1)},          {"fc2.weight", param({kVocab, kHidden}, 0.18)},
          {"fc2.bias", param({kVocab}, 0.1)},           {"frozen.scale", param({kVocab}, 1.0)}};
}

// `shift` [V] is a buffer (like MoE correction biases): no gradient, changed by a hook, used in
// the forward, so a resume must restore it.
ag::Var toy_loss(const ag::ParamList& p, const Tensor& shift, const tr::Batch& b, tr::Rng& rng) {
  ag::Var x = ag::embedding(p[0].var, b.tokens);  // [R·T, D]
  ag::Var h = ag::silu(ag::linear(x, p[1].var, p[2].var));
  // Inverted dropout, p = 0.1, mask drawn from the trainer's Rng (so its state must resume).
  Tensor mask = Tensor::empty(h.shape(), DType::F32);
  float* m = mask.data<float>();
  for (int64_t i = 0; i < mask.numel(); ++i) m[i] = rng.uniform() < 0.1 ? 0.f : 1.f / 0.9f;
  h = ag::mul(h, ag::Var::constant(mask));
  ag::Var logits = ag::add_row(ag::linear(h, p[3].var, p[4].var), ag::Var::constant(shift));
  return ag::cross_entropy(logits, b.targets, tr::kIgnoreIndex);
}

std::vector<tr::Record> make_records() {
  tr::Rng rng(2024);
  std::vector<tr::Record> recs;
  for (int i = 0; i < 40; ++i) {
    tr::Record r;
    const int n = 3 + int(rng.below(9));
    if (i % 3 == 0) {
      for (int k = 0; k < 3; ++k) r.prompt += char('0' + rng.below(kVocab));
      for (int k = 0; k < n; ++k) r.answer += char('0' + rng.below(kVocab));
      r.answer_only_loss = true;
    } else {
      for (int k = 0; k < n; ++k) r.text += char('0' + rng.below(kVocab));
    }
    recs.push_back(r);
  }
  return recs;
}

tr::Example tokenize(const tr::Record& r) {
  auto ids = [](const std::string& s) {
    std::vector<int64_t> v;
    for (char c : s) v.push_back(int64_t(c - '0'));
    return v;
  };
  if (!r.text.empty()) return tr::make_example({}, ids(r.text), false);
  return tr::make_example(ids(r.prompt), ids(r.answer), r.answer_only_loss);
}

struct ToyRun {
  ag::ParamList params;
  Tensor shift = Tensor::zeros({kVocab}, DType::F32);
  std::vector<tr::Record> records = make_records();
  std::unique_ptr<tr::AdamW> opt;
  std::unique_ptr<tr::PackedLoader> data;
  std::unique_ptr<tr::Trainer> trainer;
  std::vector<double> losses;
  std::vector<std::string> log;

  ToyRun(uint64_t init_seed, int64_t total_steps, const std::string& ckpt_dir, bool resume,
         const std::string& recipe = "toy-recipe-1") {
    params = make_model(init_seed);
    tr::freeze(params, {"frozen.*"});
    tr::AdamWConfig oc;
    oc.beta2 = 0.95;
    oc.weight_decay = 0.1;
    oc.groups = {tr::no_decay_norms_and_biases()};
    opt = std::make_unique<tr::AdamW>(params, oc);
    data = std::make_unique<tr::PackedLoader>(&records, tokenize, tr::PackOptions{2, 16, 0, 77, true});
    tr::LrSchedule sched{tr::ScheduleKind::kCosine, 3e-2, 3e-3, 3, 20, 0, false};
    tr::TrainerConfig tc;
    tc.total_steps = total_steps;
    tc.grad_accum = 2;
    tc.clip_norm = 1.0;
    tc.seed = 5;
    tc.checkpoint_dir = ckpt_dir;
    tc.checkpoint_every = 5;
    tc.keep_last = 2;
    tc.resume = resume;
    tc.recipe_hash = recipe;
    tc.progress = false;
    if (!ckpt_dir.empty()) {
      tc.metrics_path = ckpt_dir + "/metrics.jsonl";
      tc.loss_curve_path = ckpt_dir + "/loss.png";
    }
    tc.log = [this](const std::string& m) { log.push_back(m); };
    ag::ParamList* p = &params;
    Tensor sh = shift;
    trainer = std::make_unique<tr::Trainer>(
        params, *opt, sched, *data,
        [this, p, sh](const tr::Batch& b, tr::Rng& rng) {
          trainer->record("target_fraction", double(b.target_tokens) / double(b.tokens.size()));
          return toy_loss(*p, sh, b, rng);
        },
        tc);
    trainer->set_buffers({{"head.shift", shift}});
    trainer->add_hook([this](const tr::StepResult& r) { losses.push_back(r.loss); });
    // Stands in for the MoE bias update: moves one entry of the buffer by the step's loss.
    trainer->add_hook(
        [this](const tr::StepResult& r) { shift.data<float>()[r.step % kVocab] += 0.01f * float(r.loss); });
  }
};

std::string fresh_dir(const std::string& name) {
  const std::string d = testing::TempDir() + "/janus_trainer_" + name + "_" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Removes a test folder when the test ends (pass or fail).
struct RemoveOnExit {
  std::string dir;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(Trainer, TwentyStepsStraightEqualTenInAnotherProcessPlusResumeAndTenBitForBit) {
  // First half in a child process, which exits: nothing in memory carries over. (Forked before
  // this process computes anything, so no worker threads exist yet.)
  const std::string dir = fresh_dir("resume");
  RemoveOnExit cleanup{dir};
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = 1;
    try {
      ToyRun b1(1, 10, dir, false);
      b1.trainer->run();
      rc = b1.trainer->step() == 10 ? 0 : 1;
    } catch (...) {
    }
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(fs::exists(dir + "/step-000010/checkpoint.json"));
  EXPECT_TRUE(fs::exists(dir + "/step-000005/checkpoint.json"));  // keep_last 2

  // Straight run.
  ToyRun a(1, 20, "", false);
  a.trainer->run();
  ASSERT_EQ(a.losses.size(), 20u);
  EXPECT_EQ(a.trainer->step(), 20);

  // Second half: different initial weights, resumed from step 10.
  ToyRun b2(999, 20, dir, true);
  b2.trainer->run();
  ASSERT_EQ(b2.losses.size(), 10u);
  ASSERT_FALSE(b2.log.empty());
  EXPECT_NE(b2.log[0].find("resumed from " + dir + "/step-000010 at step 10"), std::string::npos) << b2.log[0];

  for (size_t i = 0; i < a.params.size(); ++i)
    EXPECT_TRUE(same_bits(a.params[i].var.value(), b2.params[i].var.value())) << a.params[i].name;
  EXPECT_TRUE(same_bits(a.shift, b2.shift));
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(a.losses[10 + i], b2.losses[i]) << "step " << 11 + i;
  auto sa = a.opt->export_state(), sb = b2.opt->export_state();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(same_bits(sa[i].second, sb[i].second)) << sa[i].first;
  EXPECT_EQ(a.trainer->rng().state(), b2.trainer->rng().state());
  EXPECT_EQ(a.data->cursor(), b2.data->cursor());

  // The model learned something and the frozen param never moved.
  EXPECT_LT(a.losses.back(), a.losses.front());
  std::cout << "[ info ] toy LM loss step 1 " << a.losses.front() << " -> step 20 " << a.losses.back() << "\n";
  EXPECT_TRUE(same_bits(a.params[5].var.value(), make_model(1)[5].var.value()));

  // Outputs: one metrics line per step (1..20, none duplicated), a loss curve, checkpoints 15, 20.
  auto series = tr::read_metric_series(dir + "/metrics.jsonl", "loss");
  ASSERT_EQ(series.size(), 20u);
  EXPECT_EQ(tr::read_metric_series(dir + "/metrics.jsonl", "target_fraction").size(), 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(series[i].first, double(i + 1));
  EXPECT_TRUE(fs::exists(dir + "/loss.png"));
  EXPECT_EQ(tr::find_latest_checkpoint(dir).value(), dir + "/step-000020");
  EXPECT_FALSE(fs::exists(dir + "/step-000010"));
}

TEST(Trainer, ResumeFallsBackPastAnInterruptedCheckpointAndRefusesAnotherRecipe) {
  const std::string dir = fresh_dir("fallback");
  RemoveOnExit cleanup{dir};
  {
    ToyRun r(1, 10, dir, false);
    r.trainer->run();
  }
  // Simulate a crash while writing step 15: files present, no marker.
  fs::create_directories(dir + "/step-000015");
  fs::copy_file(dir + "/step-000010/model.safetensors", dir + "/step-000015/model.safetensors");
  {
    ToyRun r(2, 12, dir, true);
    r.trainer->run();
    ASSERT_GE(r.log.size(), 2u);
    EXPECT_NE(r.log[0].find("step-000015 ignored: no checkpoint.json (interrupted write?)"), std::string::npos)
        << r.log[0];
    EXPECT_NE(r.log[1].find("resumed from " + dir + "/step-000010 at step 10"), std::string::npos) << r.log[1];
    EXPECT_EQ(r.losses.size(), 2u);
  }
  ToyRun other(1, 20, dir, true, "another-recipe");
  try {
    other.trainer->run();
    FAIL() << "expected a recipe mismatch";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("made by recipe toy-recipe-1, this run's recipe is another-recipe"),
              std::string::npos)
        << e.what();
  }
}

// The count of steps skipped for non-finite gradients is saved in every checkpoint
// ("skipped_steps") and must survive a resume: it used to restart from 0, so later checkpoints
// recorded a wrong total.
TEST(Trainer, SkippedStepCountSurvivesAResume) {
  const std::string dir = fresh_dir("skipped");
  RemoveOnExit cleanup{dir};
  std::vector<tr::Record> recs = make_records();
  auto run = [&](int64_t total, bool resume) {
    ag::ParamList p = {{"w", ag::Var::leaf(Tensor::from_f32({2}, {1.f, 2.f}), true)}};
    tr::AdamW opt(p, {});
    tr::PackedLoader data(&recs, tokenize, tr::PackOptions{1, 8, 0, 1, false});
    tr::TrainerConfig tc;
    tc.total_steps = total;
    tc.checkpoint_dir = dir;
    tc.resume = resume;
    tc.progress = false;
    tc.log = [](const std::string&) {};
    int64_t calls = 0;
    tr::Trainer t(
        p, opt, tr::LrSchedule{}, data,
        [&](const tr::Batch&, tr::Rng&) {  // step 2's gradient is NaN: that update is skipped
          const float g = ++calls == 2 ? NAN : 1.f;
          return ag::sum(ag::mul(p[0].var, ag::Var::constant(Tensor::from_f32({2}, {g, g}))));
        },
        tc);
    t.run();
    return t.skipped_steps();
  };
  EXPECT_EQ(run(3, false), 1);
  EXPECT_EQ(run(4, true), 1);  // resumed at step 3, one more (finite) step
  const tr::Checkpoint c = tr::load_checkpoint(tr::find_latest_checkpoint(dir).value());
  EXPECT_EQ(c.meta.step, 4);
  EXPECT_EQ(c.meta.extra.value("skipped_steps", int64_t(-1)), 1);
}

TEST(Trainer, GradAccumulationAveragesMicroBatches) {
  // One step with grad_accum 2 equals the mean of the two micro-batch losses' gradients: check via
  // the reported loss (mean of the two forward losses, computed independently here).
  ToyRun r(3, 1, "", false);
  std::vector<tr::Record> recs = make_records();
  tr::PackedLoader loader(&recs, tokenize, tr::PackOptions{2, 16, 0, 77, true});
  ag::ParamList p = make_model(3);
  Tensor shift = Tensor::zeros({kVocab}, DType::F32);
  tr::Rng rng(5);
  double want = 0;
  {
    ag::NoGradGuard ng;
    for (int k = 0; k < 2; ++k) want += toy_loss(p, shift, loader.next_batch(), rng).value().to_f32_vector()[0] / 2.0;
  }
  tr::StepResult s = r.trainer->train_step();
  EXPECT_DOUBLE_EQ(s.loss, want);
  // record()ed once per micro-batch, averaged over the two.
  ASSERT_EQ(s.extra.count("target_fraction"), 1u);
  EXPECT_GT(s.extra["target_fraction"], 0.0);
  EXPECT_LT(s.extra["target_fraction"], 1.0);
  EXPECT_GT(s.grad_norm, 0);
  EXPECT_EQ(s.step, 1);
  EXPECT_DOUBLE_EQ(s.lr, 1e-2);  // warmup: 3e-2 · 1/3
}

}  // namespace
