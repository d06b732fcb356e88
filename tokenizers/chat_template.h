// ChatTemplate: the chat formats of the models we run, written as code (no Jinja engine). Each
// renders exactly what transformers' apply_chat_template renders with the model's own
// tokenizer_config.json for conversations of system / user / assistant messages (tools are not
// supported):
//   deepseek-v3  DeepSeek-V3: BOS + all system prompts joined by "\n\n" + <｜User｜>… /
//   <｜Assistant｜>…<｜end▁of▁sentence｜> deepseek-r1  DeepSeek-R1 and R1-Distill: as V3, past assistant turns keep
//   only the text after
//                the last "</think>", and the generation prompt opens "<｜Assistant｜><think>\n"
//   qwen2.5      Qwen2.5-Instruct (default system prompt "You are Qwen, created by Alibaba Cloud…")
//   qwen3        Qwen3 (think blocks after the last user turn, enable_thinking=false -> empty think)
//   llama3       Llama 3 Instruct (header ids, trimmed contents, <|eot_id|>)
//   llama3.1     Llama 3.1 Instruct: as llama3 plus a system header that always carries
//                "Cutting Knowledge Date: December 2023" / "Today Date: 26 Jul 2024"
//   janus        Janus-Pro "deepseek" SFT format (DESIGN §3): "[system\n\n]<|User|>: …\n\n<|Assistant|>:
//   …<｜end▁of▁sentence｜>",
//                contents and the result stripped; generation prompt "<|Assistant|>:"
// Janus image placeholders: with expand_images, each "<image_placeholder>" in the rendered text
// becomes "<begin_of_image>" + image_tokens × "<image_placeholder>" + "<end_of_image>".
//
// Errors: std::invalid_argument for an unknown role, an unknown format name, or a model folder
// whose template is not recognised. Immutable; thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace janus::tokenizers {

struct TokenizerConfig;

enum class ChatFormat { kDeepSeekV3, kDeepSeekR1, kQwen25, kQwen3, kLlama3, kLlama31, kJanus };

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatOptions {
  bool add_generation_prompt = true;
  int enable_thinking = -1;    // Qwen3: 0 renders an empty think block in the generation prompt
  bool expand_images = false;  // Janus: expand each image placeholder (see above)
};

class ChatTemplate {
 public:
  // Picks the format from a model folder: config.json / processor_config.json name Janus, else
  // the tokenizer_config.json chat_template is recognised by its markers.
  static ChatTemplate for_model(const std::string& model_dir);
  // Picks the format from a parsed tokenizer_config.json (model_type from config.json, or "").
  static ChatTemplate from_config(const TokenizerConfig& cfg, const std::string& model_type = "");
  // Explicit choice (override): one of the names listed above.
  static ChatTemplate from_name(const std::string& name, const std::string& bos_token = "");

  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    ChatOptions o;
    o.add_generation_prompt = add_generation_prompt;
    return render(messages, o);
  }
  std::string render(const std::vector<ChatMessage>& messages, const ChatOptions& opt) const;

  ChatFormat format() const { return format_; }
  const std::string& name() const { return name_; }
  // True when the generation prompt already opens a think block (R1): the model's output starts
  // inside <think>.
  bool generation_opens_think() const { return format_ == ChatFormat::kDeepSeekR1; }

  // Janus image expansion settings (defaults: 576 tokens, <image_placeholder>, <begin_of_image>,
  // <end_of_image>).
  int image_tokens = 576;
  std::string image_tag = "<image_placeholder>", image_begin = "<begin_of_image>", image_end = "<end_of_image>";
  std::string expand_images(const std::string& text) const;

 private:
  ChatTemplate(ChatFormat f, std::string name, std::string bos)
      : format_(f), name_(std::move(name)), bos_(std::move(bos)) {}
  ChatFormat format_;
  std::string name_, bos_;
};

// Expands every `placeholder` id into begin + n × placeholder + end (ids level, as Janus'
// processor does after tokenizing).
std::vector<int32_t> expand_image_ids(const std::vector<int32_t>& ids, int32_t placeholder, int32_t begin, int32_t end,
                                      int n);

}  // namespace janus::tokenizers
