// TextModel: template → tokens → generation → streamed text, with the R1 think split.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "llm/chat.h"
#include "llm/safetensors.h"

namespace janus::llm {
namespace {

namespace fs = std::filesystem;
using kernels::DType;
using kernels::Tensor;

// A tiny random Llama whose vocabulary matches the committed trained tokenizer (1200 tokens).
fs::path make_text_model() {
  const fs::path dir = fs::path(JANUS_BINARY_DIR) / "text_model_tmp" /
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();  // ctest -j: one dir per test
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string tok = std::string(JANUS_FIXTURES) + "/tokenizers/trained/";
  fs::copy_file(tok + "tokenizer.json", dir / "tokenizer.json");
  fs::copy_file(tok + "tokenizer_config.json", dir / "tokenizer_config.json");
  const int64_t V = 1200, H = 32, I = 64;
  std::ofstream(dir / "config.json") << R"({"model_type": "llama", "vocab_size": 1200, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2,
    "bos_token_id": 0, "eos_token_id": 1})";
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 0.3f);
  auto rnd = [&](kernels::Shape s) {
    Tensor t = Tensor::empty(s, DType::F32);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = n(rng);
    return t;
  };
  auto one = [&] { return Tensor::from_f32({H}, std::vector<float>(size_t(H), 1.0f)); };
  NamedTensors w{{"model.embed_tokens.weight", rnd({V, H})},
                 {"lm_head.weight", rnd({V, H})},
                 {"model.norm.weight", one()},
                 {"model.layers.0.input_layernorm.weight", one()},
                 {"model.layers.0.post_attention_layernorm.weight", one()},
                 {"model.layers.0.self_attn.q_proj.weight", rnd({H, H})},
                 {"model.layers.0.self_attn.k_proj.weight", rnd({16, H})},
                 {"model.layers.0.self_attn.v_proj.weight", rnd({16, H})},
                 {"model.layers.0.self_attn.o_proj.weight", rnd({H, H})},
                 {"model.layers.0.mlp.gate_proj.weight", rnd({I, H})},
                 {"model.layers.0.mlp.up_proj.weight", rnd({I, H})},
                 {"model.layers.0.mlp.down_proj.weight", rnd({H, I})}};
  write_safetensors((dir / "model.safetensors").string(), w);
  return dir;
}

TEST(TextModel, StreamedPiecesConcatenateToTheDecodedGeneration) {
  const auto dir = make_text_model();
  auto tm = TextModel::load(dir.string());
  tm.set_chat_template(tokenizers::ChatTemplate::from_name("deepseek-r1", "<｜begin▁of▁sentence｜>"));
  GenerateOptions opt;
  opt.max_new_tokens = 40;
  opt.sampling.temperature = 1.0f;
  opt.seed = 11;
  std::string streamed_reasoning, streamed_answer;
  TextCallbacks cb{[&](const std::string& s) { streamed_reasoning += s; },
                   [&](const std::string& s) { streamed_answer += s; }};
  const auto r = tm.chat({{"user", "how many sides has a triangle?"}}, opt, cb);
  EXPECT_EQ(streamed_reasoning, r.reasoning);
  EXPECT_EQ(streamed_answer, r.answer);
  ASSERT_FALSE(r.result.tokens.empty());
  std::vector<int32_t> ids(r.result.tokens.begin(), r.result.tokens.end());
  if (r.result.stop_reason == "stop_token") ids.pop_back();  // the EOS is not text
  std::string text = tm.tokenizer().decode(ids);
  // R1's generation prompt opens <think>: text up to the first </think> is reasoning.
  const auto close = text.find("</think>");
  const std::string want_reasoning = text.substr(0, close);
  std::string want_answer = close == std::string::npos ? "" : text.substr(close + 8);
  for (size_t at; (at = want_answer.find("<think>")) != std::string::npos;) {
    const auto end = want_answer.find("</think>", at);
    want_answer.erase(at, end == std::string::npos ? std::string::npos : end + 8 - at);
  }
  EXPECT_EQ(r.reasoning.substr(0, want_reasoning.size()), want_reasoning);
  if (close == std::string::npos) EXPECT_EQ(r.reasoning, text);
  fs::remove_all(dir);
}

TEST(TextModel, RejectsATokenizerLargerThanTheModelVocabulary) {
  const auto dir = make_text_model();
  std::ofstream(dir / "config.json") << R"({"model_type": "llama", "vocab_size": 1000, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2})";
  EXPECT_THROW(TextModel::load(dir.string()), kernels::Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace janus::llm
