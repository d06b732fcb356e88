// LR schedules at key steps, freezing by name patterns, and the deterministic Rng.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "train/freeze.h"
#include "train/rng.h"
#include "train/schedule.h"

namespace {

namespace tr = janus::train;
using janus::kernels::Tensor;
using janus::kernels::ag::ParamList;
using janus::kernels::ag::Var;

const double kPi = 3.14159265358979323846;

// Schedules are closed-form double arithmetic: compared to the formula to 1e-15 relative.
TEST(LrSchedule, ConstantWithWarmupRampsLinearlyThenHolds) {
  tr::LrSchedule s{tr::ScheduleKind::kConstant, 1e-3, 0, 4, 0, 0, false};
  EXPECT_DOUBLE_EQ(s.lr(0), 0.25e-3);
  EXPECT_DOUBLE_EQ(s.lr(1), 0.5e-3);
  EXPECT_DOUBLE_EQ(s.lr(3), 1e-3);
  EXPECT_DOUBLE_EQ(s.lr(4), 1e-3);
  EXPECT_DOUBLE_EQ(s.lr(100000), 1e-3);
  tr::LrSchedule none{tr::ScheduleKind::kConstant, 2e-4};
  EXPECT_DOUBLE_EQ(none.lr(0), 2e-4);
}

TEST(LrSchedule, CosineGoesFromPeakAtWarmupEndToMinAtTotal) {
  tr::LrSchedule s{tr::ScheduleKind::kCosine, 1e-3, 1e-4, 10, 110, 0, false};
  EXPECT_DOUBLE_EQ(s.lr(0), 1e-4);                    // 1e-3 · 1/10
  EXPECT_DOUBLE_EQ(s.lr(9), 1e-3);                    // last warmup step reaches the peak
  EXPECT_DOUBLE_EQ(s.lr(10), 1e-3);                   // cos(0)
  EXPECT_NEAR(s.lr(60), 1e-4 + 0.9e-3 * 0.5, 1e-18);  // halfway: cos(π/2) = 0
  EXPECT_NEAR(s.lr(35), 1e-4 + 0.9e-3 * 0.5 * (1 + std::cos(kPi * 0.25)), 1e-18);
  EXPECT_DOUBLE_EQ(s.lr(110), 1e-4);
  EXPECT_DOUBLE_EQ(s.lr(500), 1e-4);
  // Monotone non-increasing after warmup.
  for (int64_t t = 10; t < 120; ++t) EXPECT_LE(s.lr(t + 1), s.lr(t));
}

TEST(LrSchedule, WsdWarmsUpHoldsThenDecaysLinearlyToMin) {
  tr::LrSchedule s{tr::ScheduleKind::kWsd, 2e-3, 2e-4, 5, 100, 20, false};
  EXPECT_DOUBLE_EQ(s.lr(0), 4e-4);
  EXPECT_DOUBLE_EQ(s.lr(4), 2e-3);
  EXPECT_DOUBLE_EQ(s.lr(5), 2e-3);
  EXPECT_DOUBLE_EQ(s.lr(79), 2e-3);  // last stable step (decay starts at 100 - 20 = 80)
  EXPECT_DOUBLE_EQ(s.lr(80), 2e-3);  // p = 0
  EXPECT_NEAR(s.lr(90), 2e-4 + 1.8e-3 * 0.5, 1e-18);
  EXPECT_NEAR(s.lr(95), 2e-4 + 1.8e-3 * 0.25, 1e-18);
  EXPECT_DOUBLE_EQ(s.lr(100), 2e-4);
  s.wsd_cosine_decay = true;
  EXPECT_NEAR(s.lr(90), 2e-4 + 1.8e-3 * 0.5, 1e-18);
  EXPECT_NEAR(s.lr(85), 2e-4 + 1.8e-3 * 0.5 * (1 + std::cos(kPi * 0.25)), 1e-18);
}

TEST(LrSchedule, RejectsInconsistentSettings) {
  EXPECT_THROW((tr::LrSchedule{tr::ScheduleKind::kCosine, 1e-3, 0, 10, 5}.lr(0)), std::invalid_argument);
  EXPECT_THROW((tr::LrSchedule{tr::ScheduleKind::kWsd, 1e-3, 0, 10, 100, 0}.lr(0)), std::invalid_argument);
  EXPECT_THROW((tr::LrSchedule{tr::ScheduleKind::kWsd, 1e-3, 0, 10, 100, 91}.lr(0)), std::invalid_argument);
  EXPECT_THROW(tr::schedule_kind_from_string("linear"), std::invalid_argument);
  EXPECT_EQ(tr::schedule_kind_from_string("wsd"), tr::ScheduleKind::kWsd);
}

TEST(GlobMatch, StarSpansDotsAndMatchesTheWholeName) {
  EXPECT_TRUE(tr::glob_match("model.layers.*.mlp.*", "model.layers.12.mlp.up_proj.weight"));
  EXPECT_FALSE(tr::glob_match("model.layers.*.mlp.*", "model.layers.12.self_attn.q_proj.weight"));
  EXPECT_TRUE(tr::glob_match("vision.*", "vision.blocks.0.attn.qkv.weight"));
  EXPECT_FALSE(tr::glob_match("vision.*", "model.vision.x"));  // anchored at the start
  EXPECT_FALSE(tr::glob_match("vision", "vision.x"));          // and at the end
  EXPECT_TRUE(tr::glob_match("*norm*", "model.layers.0.input_layernorm.weight"));
  EXPECT_TRUE(tr::glob_match("*.bias", "a.b.bias"));
  EXPECT_FALSE(tr::glob_match("*.bias", "a.b.e_score_correction_bias"));
  EXPECT_TRUE(tr::glob_match("layer.?.w", "layer.7.w"));
  EXPECT_FALSE(tr::glob_match("layer.?.w", "layer.17.w"));
  EXPECT_TRUE(tr::glob_match("*", ""));
  EXPECT_TRUE(tr::glob_match("a*b*c", "aXXbYYbZc"));
}

ParamList toy_params() {
  auto v = [](int64_t n) { return Var::leaf(Tensor::zeros({n}, janus::kernels::DType::F32), true); };
  return {{"model.embed_tokens.weight", v(100)},
          {"model.layers.0.mlp.up_proj.weight", v(10)},
          {"model.layers.0.mlp.down_proj.weight", v(10)},
          {"model.layers.0.self_attn.q_proj.weight", v(8)},
          {"model.layers.1.mlp.up_proj.weight", v(10)},
          {"vision.blocks.0.weight", v(1000)},
          {"aligner.fc1.weight", v(6)}};
}

TEST(Freeze, FreezesByPatternAndReportsCounts) {
  ParamList p = toy_params();
  auto r = tr::freeze(p, {"vision.*", "model.layers.*.mlp.*", "typo.*"});
  EXPECT_EQ(r.tensors_matched, 4);
  EXPECT_EQ(r.tensors_changed, 4);
  EXPECT_EQ(r.frozen_tensors, 4);
  EXPECT_EQ(r.frozen_elements, 1030);
  EXPECT_EQ(r.trainable_tensors, 3);
  EXPECT_EQ(r.trainable_elements, 114);
  EXPECT_EQ(r.unmatched_patterns, std::vector<std::string>{"typo.*"});
  EXPECT_FALSE(p[5].trainable);
  EXPECT_FALSE(p[5].var.requires_grad());  // forwards record no gradient for it
  EXPECT_TRUE(p[0].var.requires_grad());
  EXPECT_EQ(r.summary(), "trainable 3 tensors (114 elements), frozen 4 tensors (1.0K elements)");
  // Unfreeze part of it back.
  auto u = tr::unfreeze(p, {"model.layers.1.*"});
  EXPECT_EQ(u.tensors_changed, 1);
  EXPECT_EQ(u.frozen_tensors, 3);
  EXPECT_TRUE(p[4].trainable && p[4].var.requires_grad());
  // Freezing again what is frozen changes nothing.
  EXPECT_EQ(tr::freeze(p, {"vision.*"}).tensors_changed, 0);
  EXPECT_EQ(tr::count_trainable(p).trainable_tensors, 4);
}

TEST(Rng, MatchesTheReferenceXoshiro256StarStarAndSplitmix64) {
  // Reference outputs of the published algorithms (computed with a direct Python transcription).
  uint64_t x = 0;
  EXPECT_EQ(tr::splitmix64(&x), 0xe220a8397b1dcdafull);
  EXPECT_EQ(tr::splitmix64(&x), 0x6e789e6aa1b965f4ull);
  tr::Rng r;
  r.set_state({1, 2, 3, 4});
  EXPECT_EQ(r.next_u64(), 11520u);
  EXPECT_EQ(r.next_u64(), 0u);
  EXPECT_EQ(r.next_u64(), 1509978240u);
  EXPECT_EQ(r.next_u64(), 1215971899390074240ull);
}

TEST(Rng, StateRoundTripsAndStreamsDiffer) {
  tr::Rng a(42), b(42), c(42, 1);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(tr::Rng(42).next_u64(), c.next_u64());
  for (int i = 0; i < 10; ++i) a.uniform();
  tr::Rng saved;
  saved.set_state(a.state());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.next_u64(), saved.next_u64());
  // below() is uniform: 60000 draws in 6 bins, each within 5% of 10000 (about 5 sigma).
  tr::Rng d(7);
  int bins[6] = {};
  for (int i = 0; i < 60000; ++i) bins[d.below(6)]++;
  for (int k : bins) EXPECT_NEAR(k, 10000, 500);
  for (int i = 0; i < 1000; ++i) {
    double u = d.uniform();
    ASSERT_TRUE(u >= 0 && u < 1);
  }
  std::vector<int> v(50);
  std::iota(v.begin(), v.end(), 0);
  d.shuffle(v);
  std::vector<int> s = v;
  std::sort(s.begin(), s.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s[i], i);
  EXPECT_NE(v, s);
}

}  // namespace
