// TextModel: template → tokens → generation → streamed text, with the R1 think split; Janus
// folders run text-only through their language model.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "janus_mtp_fixture.h"
#include "llm/chat.h"
#include "llm/janus_model.h"
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
  if (close == std::string::npos) {
    EXPECT_EQ(r.reasoning, text);
  }
  fs::remove_all(dir);
}

TEST(TextModel, RejectsATokenizerLargerThanTheModelVocabulary) {
  const auto dir = make_text_model();
  std::ofstream(dir / "config.json") << R"({"model_type": "llama", "vocab_size": 1000, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2})";
  EXPECT_THROW(TextModel::load(dir.string()), kernels::Error);
  fs::remove_all(dir);
}

const std::string kJanus = std::string(JANUS_FIXTURES) + "/janus/";

std::vector<float> logits_of(const Model& m, const std::vector<int64_t>& ids) {
  KvCache cache = m.new_cache();
  Tensor logits;
  m.forward(cache, ids.data(), int64_t(ids.size()), {nullptr, &logits, false});
  return logits.to_f32_vector();
}

// The Janus language model loaded alone runs the same code on the same weights as inside
// JanusModel, so its logits must be bit-identical to JanusModel's text path (no image: the token
// embeddings go through forward_embeds). Both layouts, llama and deepseek_v3 backbones.
TEST(TextModel, JanusFolderLogitsEqualTheJanusLanguageModel) {
  const auto ref = SafetensorsFile::open(kJanus + "ref_mm.safetensors");
  const std::vector<int64_t> ids = ref->get("gen_prompt").to_i64_vector();  // a text-only prompt
  for (const char* name : {"hf", "mm", "r1"}) {
    SCOPED_TRACE(name);
    const auto tm = TextModel::load(kJanus + name);
    const auto jm = JanusModel::load(kJanus + name);
    EXPECT_EQ(tm.model().config().model_type, jm->config().text.model_type);
    Tensor logits;
    jm->forward(ids.data(), int64_t(ids.size()), Tensor(), {nullptr, &logits, false});
    const std::vector<float> got = logits_of(tm.model(), ids);
    ASSERT_EQ(got.size(), ids.size() * 320);
    EXPECT_EQ(got, logits.to_f32_vector());
    EXPECT_EQ(got, logits_of(jm->language_model(), ids));
  }
}

TEST(TextModel, JanusFolderChatsWithTheJanusTemplateAfterBos) {
  const auto tm = TextModel::load(kJanus + "hf");
  EXPECT_EQ(tm.chat_template().name(), "janus");  // tokenizer_config.json has no chat_template
  GenerateOptions opt;
  opt.max_new_tokens = 3;
  const std::vector<tokenizers::ChatMessage> msgs{{"user", "a red circle"}};
  const auto r = tm.chat(msgs, opt);
  const std::string text = tm.chat_template().render(msgs, true);
  EXPECT_EQ(text, "<|User|>: a red circle\n\n<|Assistant|>:");
  EXPECT_EQ(r.result.prompt_tokens, 1 + int64_t(tm.tokenizer().encode(text).size()));  // BOS + template
  EXPECT_GE(r.result.tokens.size(), 1u);
  EXPECT_LE(r.result.tokens.size(), 3u);
  EXPECT_NO_THROW(tm.complete("a red circle", opt));
}

// A Janus checkpoint with a stray tensor in its language model is refused by name; vision and
// generation tensors are the Janus model's business and are ignored.
TEST(TextModel, JanusFolderRefusesAnUnusedLanguageModelTensor) {
  const fs::path dir = fs::path(JANUS_BINARY_DIR) / "text_model_tmp" / "janus_stray";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kJanus + "hf/config.json", dir / "config.json");
  auto f = SafetensorsFile::open(kJanus + "hf/model.safetensors");
  NamedTensors w;
  for (const auto& n : f->names()) w.push_back({n, f->get(n).clone()});
  w.push_back({"model.language_model.layers.0.mlp.extra.weight", Tensor::zeros({2}, DType::F32)});
  write_safetensors((dir / "model.safetensors").string(), w);
  try {
    Model::load(dir.string());
    FAIL() << "expected an error";
  } catch (const kernels::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'model.language_model.layers.0.mlp.extra.weight'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("1 checkpoint tensor(s)"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// The MTP module of a Janus deepseek_v3 language model sits at model.language_model.layers.<L>:
// it loads, and speculative decoding reproduces plain greedy decoding token for token.
TEST(TextModel, JanusMtpSpeculativeDecodingEqualsGreedy) {
  EXPECT_FALSE(Model::load(kJanus + "r1")->has_mtp());  // transformers saved no MTP weights
  const auto dir = test::make_janus_mtp_folder(fs::path(JANUS_BINARY_DIR) / "text_model_tmp" / "janus_mtp");
  const auto m = Model::load(dir.string());
  ASSERT_TRUE(m->has_mtp());
  for (const std::vector<int64_t>& prompt : {std::vector<int64_t>{1, 2, 3}, std::vector<int64_t>{0, 17, 99, 4, 250}}) {
    GenerateOptions opt;
    opt.max_new_tokens = 24;
    const GenerateResult greedy = generate(*m, prompt, opt);
    opt.speculative_mtp = true;
    const GenerateResult spec = generate(*m, prompt, opt);
    EXPECT_EQ(spec.tokens, greedy.tokens);
    EXPECT_EQ(spec.tokens.size(), 24u);
    EXPECT_GT(spec.drafted, 0);
    std::printf("[janus mtp] drafts accepted %lld/%lld\n", (long long)spec.accepted, (long long)spec.drafted);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace janus::llm
