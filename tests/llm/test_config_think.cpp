// config.json parsing (transformers' defaults and both RoPE layouts) and think-mode splitting.
#include <gtest/gtest.h>

#include "llm/config.h"
#include "llm/think.h"

namespace janus::llm {
namespace {

TEST(ModelConfig, LlamaDefaultsFollowTransformers) {
  auto c = parse_config(R"({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4})", "c.json");
  EXPECT_EQ(c.num_key_value_heads, 4);  // defaults to num_attention_heads
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.rope.type, "default");
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FLOAT_EQ(c.attn_scale, 0.25f);
}

TEST(ModelConfig, ReadsRopeFromTransformers4And5Layouts) {
  auto old = parse_config(R"({"model_type": "llama", "rope_theta": 500000.0,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192}})",
                          "c.json");
  auto neu = parse_config(R"({"model_type": "llama",
    "rope_parameters": {"rope_theta": 500000.0, "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})",
                          "c.json");
  for (const auto& c : {old, neu}) {
    EXPECT_EQ(c.rope.type, "llama3");
    EXPECT_DOUBLE_EQ(c.rope.theta, 500000.0);
    EXPECT_DOUBLE_EQ(c.rope.factor, 8.0);
    EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  }
}

TEST(ModelConfig, DeepSeekV3SoftmaxScaleIncludesYarnMscaleSquared) {
  auto c = parse_config(R"({"model_type": "deepseek_v3", "rope_scaling": {"type": "yarn", "factor": 40,
    "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
    "max_position_embeddings": 163840})",
                        "c.json");
  EXPECT_TRUE(c.mla);
  EXPECT_EQ(c.q_lora_rank, 1536);
  EXPECT_EQ(c.rope.dim, 64);
  EXPECT_EQ(c.rope_style, kernels::RopeStyle::kInterleaved);
  EXPECT_NEAR(c.attn_scale, 0.135234, 1e-6);  // 192^-0.5 · 1.368888² (reference notes §1.4)
  EXPECT_EQ(c.routing.top_k, 8);
  EXPECT_EQ(c.routing.n_group, 8);
  EXPECT_TRUE(c.routing.group_by_top2_sum);
  EXPECT_TRUE(c.router_bias);
  EXPECT_TRUE(c.is_moe_layer(3));
  EXPECT_FALSE(c.is_moe_layer(2));
}

TEST(ModelConfig, DeepSeekV2LiteNullQLoraAndMscale0707) {
  auto c = parse_config(R"({"model_type": "deepseek_v2", "q_lora_rank": null, "n_routed_experts": 64,
    "num_experts_per_tok": 6, "topk_method": "greedy", "rope_scaling": {"type": "yarn", "factor": 40,
    "original_max_position_embeddings": 4096, "mscale": 0.707, "mscale_all_dim": 0.707}})",
                        "c.json");
  EXPECT_EQ(c.q_lora_rank, 0);
  EXPECT_NEAR(c.attn_scale, 0.114721, 1e-6);  // 192^-0.5 · 1.589626
  EXPECT_EQ(c.routing.score, kernels::MoeRouting::Score::kSoftmax);
  EXPECT_FALSE(c.routing.normalize);
}

TEST(ModelConfig, RejectsWhatItCannotRunNamingTheField) {
  auto err = [](const std::string& j) {
    try {
      parse_config(j, "m/config.json");
    } catch (const kernels::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err(R"({"model_type": "mamba"})").find("unsupported model_type 'mamba'"), std::string::npos);
  EXPECT_NE(err(R"({"hidden_size": 4})").find("missing 'model_type'"), std::string::npos);
  EXPECT_NE(err(R"({"model_type": "llama", "hidden_size": "big"})").find("'hidden_size'"), std::string::npos);
  EXPECT_NE(
      err(R"({"model_type": "llama", "num_attention_heads": 6, "num_key_value_heads": 4})").find("num_key_value_heads"),
      std::string::npos);
  EXPECT_NE(err(R"({"model_type": "llama", "rope_scaling": {"rope_type": "longrope", "factor": 2}})").find("longrope"),
            std::string::npos);
  EXPECT_NE(err(R"({"model_type": "deepseek_v3", "n_routed_experts": 10, "n_group": 4})").find("n_group"),
            std::string::npos);
  EXPECT_NE(err(R"({"model_type": "deepseek_v3", "quantization_config": {"quant_method": "awq"}})").find("awq"),
            std::string::npos);
  EXPECT_NE(err("[1, 2]").find("m/config.json"), std::string::npos);
}

TEST(ThinkSplitter, SeparatesReasoningFromAnswerAcrossSplitTags) {
  ThinkSplitter s(/*starts_in_think=*/true);
  std::string reasoning, answer;
  for (const char* piece : {"Let me ", "count: 3 + 4 = 7.</th", "ink>", "\n\nThe answer is 7. a < b", "</"}) {
    auto p = s.feed(piece);
    reasoning += p.reasoning;
    answer += p.answer;
  }
  auto p = s.finish();
  reasoning += p.reasoning;
  answer += p.answer;
  EXPECT_EQ(reasoning, "Let me count: 3 + 4 = 7.");
  EXPECT_EQ(answer, "\n\nThe answer is 7. a < b</");
}

TEST(ThinkSplitter, OpeningTagInTheStreamStartsReasoning) {
  ThinkSplitter s;
  auto a = s.feed("Hi <thi");
  EXPECT_EQ(a.answer, "Hi ");  // "<thi" held back: it may become a tag
  auto b = s.feed("nk>plan</think>done");
  EXPECT_EQ(b.reasoning, "plan");
  EXPECT_EQ(b.answer, "done");
  EXPECT_FALSE(s.in_think());
}

}  // namespace
}  // namespace janus::llm
