// DeepSeek-V3 auxiliary-loss-free balancing (llm/moe_balance.h).
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <random>

#include "llm/moe_balance.h"
#include "tests/train_llm/train_fixture_util.h"

namespace janus {
namespace {

namespace ag = kernels::ag;
using kernels::Tensor;

TEST(MoeBalance, BiasMovesByGammaTowardsTheMeanLoad) {
  Tensor bias = Tensor::from_f32({4}, {0.5f, 0.0f, -0.25f, 0.0f});
  llm::update_router_bias(bias, {10, 2, 4, 4}, 0.125);  // mean 5
  EXPECT_EQ(bias.to_f32_vector(), (std::vector<float>{0.375f, 0.125f, -0.125f, 0.125f}));
  llm::update_router_bias(bias, {3, 3, 3, 3}, 0.125);  // balanced: unchanged
  EXPECT_EQ(bias.to_f32_vector(), (std::vector<float>{0.375f, 0.125f, -0.125f, 0.125f}));
  EXPECT_THROW(llm::update_router_bias(bias, {1, 2, 3}, 0.1), kernels::Error);
  EXPECT_DOUBLE_EQ(llm::load_max_over_mean({8, 0, 0, 0}), 4.0);
  EXPECT_DOUBLE_EQ(llm::load_max_over_mean({2, 2, 2, 2}), 1.0);
  std::vector<std::vector<int64_t>> acc;
  llm::add_loads(acc, {{1, 2}, {3, 4}});
  llm::add_loads(acc, {{1, 1}, {1, 1}});
  EXPECT_EQ(acc, (std::vector<std::vector<int64_t>>{{2, 3}, {4, 5}}));
}

// A tiny V3 MoE whose router is deliberately skewed: every token carries a common direction u
// in its embedding and experts 0-3 (group 0) have router rows along u, so nearly every token is
// routed to them. Bias updates (γ = 0.01, per step from that step's load, no gradient step)
// must spread the load: max/mean load over a fixed evaluation batch drops.
TEST(MoeBalance, BiasUpdatesEvenOutASkewedRouter) {
  const std::string json = R"({"model_type": "deepseek_v3", "vocab_size": 64, "hidden_size": 32,
    "intermediate_size": 64, "moe_intermediate_size": 8, "num_hidden_layers": 1,
    "num_attention_heads": 2, "num_key_value_heads": 2, "n_shared_experts": 1, "n_routed_experts": 16,
    "routed_scaling_factor": 2.5, "kv_lora_rank": 16, "q_lora_rank": 24, "qk_rope_head_dim": 8,
    "v_head_dim": 8, "qk_nope_head_dim": 8, "n_group": 4, "topk_group": 2, "num_experts_per_tok": 4,
    "first_k_dense_replace": 0, "norm_topk_prob": true, "max_position_embeddings": 128,
    "rope_theta": 10000.0, "num_nextn_predict_layers": 0})";
  auto model = llm::TrainableModel::random(llm::parse_config(json, "skewed.json"), 7, 0.02);
  const int64_t H = 32, E = 16, V = 64;
  std::mt19937_64 rng(123);
  std::normal_distribution<double> nd(0.0, 1.0);  // values need not be portable here
  std::vector<float> u(static_cast<size_t>(H));
  double un = 0;
  for (auto& x : u) {
    x = float(nd(rng));
    un += double(x) * x;
  }
  for (auto& x : u) x = float(x / std::sqrt(un));
  for (auto& p : model.params()) {
    float* d = p.var.value().data<float>();
    if (p.name == "model.embed_tokens.weight") {
      for (int64_t v = 0; v < V; ++v)
        for (int64_t h = 0; h < H; ++h) d[v * H + h] = float(nd(rng) / std::sqrt(double(H))) + 1.5f * u[size_t(h)];
    } else if (p.name == "model.layers.0.mlp.gate.weight") {
      for (int64_t e = 0; e < E; ++e)
        for (int64_t h = 0; h < H; ++h)
          d[e * H + h] = float(nd(rng) / std::sqrt(double(H))) + (e < 4 ? 2.0f * u[size_t(h)] : 0.0f);
    }
  }
  std::uniform_int_distribution<int64_t> tok(2, V - 1);
  auto batch = [&](int64_t n) {
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (auto& i : ids) i = tok(rng);
    return ids;
  };
  const int64_t B = 4, T = 32;
  const auto eval_ids = batch(B * T);
  ag::NoGradGuard ng;
  auto imbalance = [&] {
    auto out = model.forward(eval_ids, B, T);
    return llm::load_max_over_mean(out.expert_load.at(0));
  };
  const double before = imbalance();
  for (int step = 0; step < 100; ++step) {
    auto out = model.forward(batch(B * T), B, T);
    llm::update_router_biases(model, out.expert_load, 0.01);
  }
  const double after = imbalance();
  std::cout << "skewed router: max/mean expert load " << before << " before, " << after
            << " after 100 bias updates (gamma 0.01)\n";
  EXPECT_GT(before, 2.5) << "the router should start skewed (4 of 16 experts take most tokens)";
  EXPECT_LT(after, 0.6 * before);
  EXPECT_LT(after, 2.0);
}

}  // namespace
}  // namespace janus
