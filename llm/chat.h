// Text in, text out: a model plus its tokenizer and chat template. Renders the conversation,
// generates, decodes incrementally (a token ending inside a UTF-8 sequence waits for the rest)
// and splits R1 think mode into reasoning and answer, each streamed through its own callback.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "llm/generate.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/tokenizer.h"

namespace janus::llm {

struct TextCallbacks {
  std::function<void(const std::string&)> on_reasoning;  // text inside <think>…</think>
  std::function<void(const std::string&)> on_answer;     // everything else
};

struct TextReply {
  std::string reasoning, answer;
  GenerateResult result;  // tokens and statistics
};

class TextModel {
 public:
  // Loads the model, tokenizer.json (+ tokenizer_config.json) and, when recognised, the chat
  // template of `dir` (without one, chat() throws until set_chat_template()). A Janus folder runs
  // text-only: its language model (Model::load) with the Janus template (ChatTemplate::for_model).
  static TextModel load(const std::string& dir);
  TextModel(std::unique_ptr<Model> model, tokenizers::Tokenizer tok, std::optional<tokenizers::ChatTemplate> tpl,
            std::string no_template_reason = "");

  const Model& model() const { return *model_; }
  const tokenizers::Tokenizer& tokenizer() const { return tok_; }
  const tokenizers::ChatTemplate& chat_template() const;
  void set_chat_template(tokenizers::ChatTemplate tpl) { tpl_ = std::move(tpl); }

  // Chat: renders the messages with the generation prompt (the Janus template with the tokenizer's
  // BOS in front, as the Janus apps do), then generates. The model's and the
  // tokenizer's EOS ids are added to opt.stop_tokens; the stop token is not part of the text.
  TextReply chat(const std::vector<tokenizers::ChatMessage>& messages, GenerateOptions opt,
                 const TextCallbacks& cb = {}) const;
  // Plain completion of raw text (no template; think tags in the output are still split).
  TextReply complete(const std::string& text, GenerateOptions opt, const TextCallbacks& cb = {}) const;

 private:
  TextReply run(const std::vector<int64_t>& prompt, bool starts_in_think, GenerateOptions opt,
                const TextCallbacks& cb) const;
  std::unique_ptr<Model> model_;
  tokenizers::Tokenizer tok_;
  std::optional<tokenizers::ChatTemplate> tpl_;
  std::string no_template_reason_;
};

}  // namespace janus::llm
