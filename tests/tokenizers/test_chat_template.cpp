// Chat templates as code vs transformers' apply_chat_template (shipped tokenizer_config.json
// files) and jinja2 renderings of the R1 / Qwen2.5 templates and the Janus SFT format
// (fixtures/tokenizers/chat_templates.jsonl). Exact string equality.
#include <gtest/gtest.h>

#include "tests/tokenizers/fixtures.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/tokenizer.h"

namespace janus::tokenizers {
namespace {
using testing::fixture;
using testing::read_jsonl;
using testing::shared_tokenizer;

ChatTemplate template_for(const std::string& name) {
  if (name == "deepseek_v3" || name == "llama3_1" || name == "qwen3")
    return ChatTemplate::for_model(shared_tokenizer(name));
  if (name == "deepseek_r1") return ChatTemplate::from_name("deepseek-r1");
  if (name == "qwen2_5") return ChatTemplate::from_name("qwen2.5");
  if (name == "janus") return ChatTemplate::from_name("janus");
  if (name == "llama3_1_instruct") return ChatTemplate::from_name("llama3.1");
  throw std::runtime_error("unknown template in fixture: " + name);
}

void expect_renders(const std::string& which) {
  int n = 0;
  for (const auto& row : read_jsonl(fixture("chat_templates.jsonl"))) {
    if (row.at("template") != which) continue;
    ++n;
    std::vector<ChatMessage> msgs;
    for (const auto& m : row.at("messages")) msgs.push_back({m.at("role"), m.at("content")});
    ChatOptions opt;
    opt.add_generation_prompt = row.at("add_generation_prompt").get<bool>();
    if (row.at("kwargs").contains("enable_thinking"))
      opt.enable_thinking = row.at("kwargs").at("enable_thinking").get<bool>();
    EXPECT_EQ(template_for(which).render(msgs, opt), row.at("text").get<std::string>()) << row.dump();
  }
  EXPECT_GT(n, 0) << "no fixture rows for " << which;
}

TEST(ChatTemplate, DeepSeekV3MatchesTransformersApplyChatTemplate) { expect_renders("deepseek_v3"); }
TEST(ChatTemplate, DeepSeekR1OpensThinkAndDropsPastReasoning) { expect_renders("deepseek_r1"); }
TEST(ChatTemplate, Llama3MatchesTransformersApplyChatTemplate) { expect_renders("llama3_1"); }
TEST(ChatTemplate, Qwen3MatchesTransformersIncludingEnableThinkingFalse) { expect_renders("qwen3"); }
TEST(ChatTemplate, Qwen25MatchesItsJinjaTemplate) { expect_renders("qwen2_5"); }
TEST(ChatTemplate, Llama31InstructMatchesItsJinjaTemplate) { expect_renders("llama3_1_instruct"); }
TEST(ChatTemplate, JanusMatchesTheDeepSeekSftFormat) { expect_renders("janus"); }

TEST(ChatTemplate, PickedFromTheModelFolder) {
  EXPECT_EQ(ChatTemplate::for_model(shared_tokenizer("deepseek_v3")).format(), ChatFormat::kDeepSeekV3);
  EXPECT_EQ(ChatTemplate::for_model(shared_tokenizer("llama3_1")).format(), ChatFormat::kLlama3);
  EXPECT_EQ(ChatTemplate::for_model(shared_tokenizer("qwen3")).format(), ChatFormat::kQwen3);
  TokenizerConfig r1;
  r1.chat_template = "{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}";
  EXPECT_EQ(ChatTemplate::from_config(r1).format(), ChatFormat::kDeepSeekR1);
  EXPECT_TRUE(ChatTemplate::from_config(r1).generation_opens_think());
  TokenizerConfig l31;
  l31.chat_template = "{{- \"Cutting Knowledge Date: December 2023\\n\" }}<|start_header_id|>";
  EXPECT_EQ(ChatTemplate::from_config(l31).format(), ChatFormat::kLlama31);
  TokenizerConfig none;
  EXPECT_EQ(ChatTemplate::from_config(none, "multi_modality").format(), ChatFormat::kJanus);
  EXPECT_THROW(ChatTemplate::from_config(none), std::invalid_argument);
  EXPECT_THROW(ChatTemplate::from_name("vicuna"), std::invalid_argument);
}

TEST(ChatTemplate, R1GenerationPromptEndsWithThinkNewline) {
  std::string s = ChatTemplate::from_name("deepseek-r1").render({{"user", "2+2?"}}, true);
  EXPECT_EQ(s, "<｜begin▁of▁sentence｜><｜User｜>2+2?<｜Assistant｜><think>\n");
}

TEST(ChatTemplate, RejectsUnknownRoles) {
  EXPECT_THROW(ChatTemplate::from_name("qwen3").render({{"tool", "x"}}, true), std::invalid_argument);
}

TEST(ChatTemplate, JanusImagePlaceholderExpandsToBeginNPlaceholdersEnd) {
  ChatTemplate t = ChatTemplate::from_name("janus");
  t.image_tokens = 4;
  ChatOptions opt;
  opt.expand_images = true;
  std::string s = t.render({{"user", "<image_placeholder>\nWhat?"}}, opt);
  EXPECT_EQ(s,
            "<|User|>: <begin_of_image><image_placeholder><image_placeholder><image_placeholder>"
            "<image_placeholder><end_of_image>\nWhat?\n\n<|Assistant|>:");
  // Text-level expansion tokenizes to the same ids as id-level expansion (the trained tokenizer
  // carries the Janus image markers as special tokens).
  Tokenizer tok = Tokenizer::from_dir(fixture("trained"));
  int32_t ph = tok.token_to_id("<image_placeholder>"), b = tok.token_to_id("<begin_of_image>"),
          e = tok.token_to_id("<end_of_image>");
  ASSERT_GE(ph, 0);
  std::vector<int32_t> plain = tok.encode(t.render({{"user", "<image_placeholder>\nWhat?"}}, true));
  EXPECT_EQ(tok.encode(s), expand_image_ids(plain, ph, b, e, 4));
}

}  // namespace
}  // namespace janus::tokenizers
