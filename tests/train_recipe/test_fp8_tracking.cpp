// Issue 7, must-show 4: FP8-emulated training (e4m3, 1×128 activation tiles, 128×128 weight
// blocks, fp32 accumulation; kernels ag::linear kFp8) of a small model tracks the same model's
// bf16 run within 0.25% relative loss — the figure DeepSeek-V3 reports — and the
// auxiliary-loss-free MoE bias balancing measurably evens expert load.
//
// The corpus is deterministic synthetic text (shapes-world sentences from a seeded Rng), byte-level
// (vocab 256, token = byte). Both runs start from the same init and see the same batches, so
// their losses differ only through the GEMM precision.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "llm/config.h"
#include "llm/moe_balance.h"
#include "llm/trainable.h"
#include "train/clip.h"
#include "train/optimizer.h"
#include "train/rng.h"
#include "train/schedule.h"

namespace janus {
namespace {

namespace ag = kernels::ag;
namespace tr = train;

// Order-1 Markov text over 64 symbols (bytes 48..111): each symbol has 8 successors with seeded
// random weights (entropy rate ~1.9 nats/byte). The model learns the 64×64 transition table
// smoothly (no plateaus, where a tiny perturbation shifts a sudden drop by steps and makes
// per-step losses incomparable) and is still improving at the end, well above zero loss.
std::string corpus(uint64_t seed, size_t bytes) {
  constexpr int kA = 64, kNext = 8;
  tr::Rng rng(seed);
  std::vector<int> next(size_t(kA * kNext));
  std::vector<double> weight(next.size());
  for (size_t i = 0; i < next.size(); ++i) {
    next[i] = int(rng.next_u64() % kA);
    weight[i] = 1.0 + 4.0 * double(rng.next_u64() >> 11) / 9007199254740992.0;
  }
  std::string s;
  int p = 0;
  while (s.size() < bytes) {
    const size_t ctx = size_t(p) * kNext;
    double total = 0;
    for (int j = 0; j < kNext; ++j) total += weight[ctx + size_t(j)];
    double u = total * double(rng.next_u64() >> 11) / 9007199254740992.0;
    int j = 0;
    while (j + 1 < kNext && u >= weight[ctx + size_t(j)]) u -= weight[ctx + size_t(j++)];
    p = next[ctx + size_t(j)];
    s += char(48 + p);
  }
  return s;
}

struct Batch {
  std::vector<int64_t> ids, targets;
};

// Step k's batch: `rows` windows of T+1 bytes at offsets drawn from Rng(seed, k).
Batch batch_at(const std::string& text, int64_t k, int64_t rows, int64_t T) {
  tr::Rng rng(99, uint64_t(k));
  Batch b;
  for (int64_t r = 0; r < rows; ++r) {
    const size_t o = size_t(rng.next_u64() % (text.size() - size_t(T) - 1));
    for (int64_t t = 0; t < T; ++t) {
      b.ids.push_back(uint8_t(text[o + size_t(t)]));
      b.targets.push_back(uint8_t(text[o + size_t(t) + 1]));
    }
  }
  return b;
}

struct RunResult {
  std::vector<double> losses;
  std::vector<double> load_ratio;  // per step, mean over MoE layers (empty for dense)
};

RunResult train(const llm::ModelConfig& cfg, ag::GemmPrecision prec, int64_t steps, double gamma,
                const std::string& text) {
  auto model = llm::TrainableModel::random(cfg, 5, 0.02);
  tr::AdamWConfig ac;
  ac.beta1 = 0.9, ac.beta2 = 0.95, ac.weight_decay = 0.1;
  ac.groups = {tr::no_decay_norms_and_biases()};
  tr::AdamW opt(model.params(), ac);
  tr::LrSchedule sched;
  sched.kind = tr::ScheduleKind::kCosine;
  sched.peak_lr = 2e-3, sched.min_lr = 2e-4, sched.warmup_steps = 20, sched.total_steps = steps;
  RunResult out;
  const int64_t rows = 4, T = 64;
  for (int64_t k = 0; k < steps; ++k) {
    Batch b = batch_at(text, k, rows, T);
    llm::TrainForwardOptions fo;
    fo.gemm = prec;
    auto fw = model.forward(b.ids, rows, T, fo);
    auto loss = llm::lm_loss(fw, b.targets, rows, T, 0.0).main;
    out.losses.push_back(loss.value().to_f32_vector()[0]);
    ag::backward(loss);
    tr::clip_grad_norm(model.params(), 1.0);
    {
      ag::NoGradGuard ng;
      opt.step(sched.lr(k));
    }
    opt.zero_grad();
    if (!fw.expert_load.empty()) {
      double r = 0;
      for (const auto& l : fw.expert_load) r += llm::load_max_over_mean(l);
      out.load_ratio.push_back(r / double(fw.expert_load.size()));
      if (gamma > 0) llm::update_router_biases(model, fw.expert_load, gamma);
    }
  }
  return out;
}

// Empirical conditional entropy H(next | current) of the byte stream: the best loss a model of
// it can reach (nats/byte).
double entropy_rate(const std::string& text) {
  std::vector<double> pair(256 * 256, 0), single(256, 0);
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    pair[size_t(uint8_t(text[i])) * 256 + uint8_t(text[i + 1])] += 1;
    single[uint8_t(text[i])] += 1;
  }
  double h = 0;
  for (size_t i = 0; i < pair.size(); ++i)
    if (pair[i] > 0) h -= pair[i] * std::log(pair[i] / single[i / 256]);
  return h / double(text.size() - 1);
}

double mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / double(to - from);
}

// Dense Llama-shaped, hidden 128 (one 128-wide FP8 block per row tile), 2 layers, 300 steps of
// 4×64 tokens (fprop, dgrad and wgrad GEMMs all FP8-emulated; lm_head f32 as in DeepSeek-V3).
// Tolerance: 0.25% mean relative loss difference over the last 50 steps (DeepSeek-V3 §3.3.2:
// "relative loss error ... consistently remains below 0.25%").
TEST(Fp8Training, TracksBf16WithinQuarterPercent) {
  const std::string text = corpus(11, 1 << 16);
  const llm::ModelConfig cfg = llm::parse_config(R"({
    "model_type": "llama", "vocab_size": 256, "hidden_size": 128, "intermediate_size": 256,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
    "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
    "tie_word_embeddings": false})",
                                                 "fp8_tracking.json");
  const int64_t steps = 300;
  const RunResult bf16 = train(cfg, ag::GemmPrecision::kBf16, steps, 0, text);
  const RunResult fp8 = train(cfg, ag::GemmPrecision::kFp8, steps, 0, text);
  std::vector<double> rel;
  for (int64_t k = steps - 50; k < steps; ++k)
    rel.push_back(std::fabs(fp8.losses[size_t(k)] - bf16.losses[size_t(k)]) / bf16.losses[size_t(k)]);
  const double mrel = mean(rel, 0, rel.size());
  const double mb = mean(bf16.losses, steps - 50, steps), mf = mean(fp8.losses, steps - 50, steps);
  std::printf("corpus entropy rate (the lowest reachable loss) %.4f nats/byte\n", entropy_rate(text));
  std::printf("loss bf16: step 1 %.4f, mean of last 50 %.4f; fp8: step 1 %.4f, mean of last 50 %.4f\n", bf16.losses[0],
              mean(bf16.losses, steps - 50, steps), fp8.losses[0], mean(fp8.losses, steps - 50, steps));
  for (int64_t k = 0; k < steps; k += 25)
    std::printf("  step %3lld: bf16 %.4f  fp8 %.4f  rel diff %+.3f%%\n", (long long)(k + 1), bf16.losses[size_t(k)],
                fp8.losses[size_t(k)], 100 * (fp8.losses[size_t(k)] / bf16.losses[size_t(k)] - 1));
  std::printf(
      "FP8 vs bf16 over the last 50 steps: mean per-step |relative loss difference| %.4f%%, relative "
      "difference of the mean loss %+.4f%%\n",
      100 * mrel, 100 * (mf / mb - 1));
  EXPECT_LT(mean(bf16.losses, steps - 50, steps), 0.6 * bf16.losses[0]);  // it did learn
  EXPECT_LE(mrel, 0.0025);
  EXPECT_LE(std::fabs(mf / mb - 1), 0.0025);
}

// DeepSeek-V3-shaped MoE (MLA, 8 routed experts, top 2, one shared), bf16. The same init and data
// trained with γ = 0 and with γ = 0.01: max/mean expert load over the last 50 steps must be lower
// with the bias update (printed with the first steps' ratio).
TEST(MoeBalancing, BiasUpdateEvensExpertLoad) {
  const std::string text = corpus(12, 1 << 16);
  const llm::ModelConfig cfg = llm::parse_config(R"({
    "model_type": "deepseek_v3", "vocab_size": 256, "hidden_size": 64, "intermediate_size": 128,
    "moe_intermediate_size": 32, "num_hidden_layers": 2, "first_k_dense_replace": 0,
    "num_attention_heads": 2, "num_key_value_heads": 2, "q_lora_rank": 32, "kv_lora_rank": 32,
    "qk_nope_head_dim": 16, "qk_rope_head_dim": 16, "v_head_dim": 16, "head_dim": 16,
    "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2, "n_group": 1,
    "topk_group": 1, "norm_topk_prob": true, "routed_scaling_factor": 2.5, "scoring_func": "sigmoid",
    "topk_method": "noaux_tc", "max_position_embeddings": 128, "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0, "rope_interleave": true, "tie_word_embeddings": false})",
                                                 "moe_balance.json");
  const int64_t steps = 150;
  const RunResult off = train(cfg, ag::GemmPrecision::kBf16, steps, 0.0, text);
  const RunResult on = train(cfg, ag::GemmPrecision::kBf16, steps, 0.01, text);
  const double first = mean(off.load_ratio, 0, 10);
  const double last_off = mean(off.load_ratio, steps - 50, steps);
  const double last_on = mean(on.load_ratio, steps - 50, steps);
  std::printf(
      "MoE load max/mean (mean over layers): first 10 steps %.3f; last 50 steps without bias update %.3f, "
      "with bias update (gamma 0.01) %.3f\n",
      first, last_off, last_on);
  std::printf("loss, mean of last 50 steps: without %.4f, with %.4f\n", mean(off.losses, steps - 50, steps),
              mean(on.losses, steps - 50, steps));
  EXPECT_LT(last_on, last_off);
  EXPECT_LT(last_on, 1.5);  // 8 experts: 8.0 would be one expert taking everything
}

}  // namespace
}  // namespace janus
