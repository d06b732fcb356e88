// JanusSession: a loaded Janus model with its tokenizer and the prompt formats of the CLI. `janus
// chat`, `janus generate` and `janus shapes eval --model` all go through it, so they build
// identical prompts and decode answers the same way.
//   chat_ids   BOS + the "janus" chat template rendered with the generation prompt, each
//              "<image_placeholder>" expanded to the config's image_tokens placeholders
//   t2i_ids    BOS + "<|User|>: {prompt}\n\n<|Assistant|>:<begin_of_image>" (janus.md §4.1)
//   answer     llm::janus_answer, its tokens decoded as a stream (special tokens skipped, the stop
//              token dropped); the stop token is the tokenizer's EOS (the release's
//              language_config often names none), else the config's eos_token_ids
//   image_sampling  the folder's text-to-image sampling defaults: generation_config.json's
//              "image_generation": {"cfg": w, "temperature": t} (either key optional), else the
//              release's cfg 5, temperature 1; command-line flags override them
// Errors: std::runtime_error / kernels::Error naming the folder or file (missing config.json,
// weights or tokenizer.json; unreadable images; a bad generation_config.json "image_generation").
// Thread-safety: const methods may run concurrently (JanusModel is immutable after load).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "llm/generate.h"
#include "llm/janus_model.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/tokenizer.h"

namespace janus::app {

// The understanding system prompt of the release (VLChatProcessor.system_prompt).
constexpr const char* kUnderstandingSystem =
    "You are a helpful language and vision assistant. You are able to understand the visual content that the user "
    "provides, and assist the user with a variety of tasks using natural language.";

// What the first user turn starts with: one "<image_placeholder>\n" per image.
std::string image_slots(size_t n_images);

// Text-to-image sampling defaults of a model folder; `source` says where they came from.
struct ImageSampling {
  float cfg = 5.0f, temperature = 1.0f;
  std::string source = "release defaults";
};

class JanusSession {
 public:
  // `model_arg` as given to --model (empty: the embedded model; see resolve_model_dir).
  explicit JanusSession(const std::string& model_arg);

  const std::string& dir() const { return dir_; }
  const llm::JanusModel& model() const { return *model_; }
  const tokenizers::Tokenizer& tokenizer() const { return tok_; }
  // The understanding system prompt: processor_config.json's "system_prompt" when the folder has
  // one (as the release's VLChatProcessor takes it; "" = none, e.g. the embedded model, trained
  // without), else kUnderstandingSystem.
  const std::string& system_prompt() const { return system_; }

  // Loads, converts to RGB and preprocesses every image into one [B, 3, S, S] f32 batch, with the
  // checkpoint's own resize rounding. Undefined tensor for no paths.
  kernels::Tensor load_pixels(const std::vector<std::string>& paths) const;
  std::vector<int64_t> chat_ids(const std::vector<tokenizers::ChatMessage>& messages) const;
  std::vector<int64_t> t2i_ids(const std::string& prompt) const;
  // The "<｜▁pad▁｜>" id the unconditional CFG rows use; throws when the tokenizer has none.
  int64_t pad_id() const;
  // The image sampling to use: `cfg` / `temperature` when given (the command line), else the
  // folder's defaults; `source` names where each came from.
  ImageSampling image_sampling(std::optional<float> cfg = {}, std::optional<float> temperature = {}) const;
  // Options with the answer stop tokens set (max_new_tokens, sampling and seed left to the caller).
  llm::GenerateOptions answer_options() const;
  // Generates the answer to `ids` (images: JanusModel::image_embeds of the images the prompt
  // holds, undefined for none) and returns its text. on_text (optional) receives every piece as
  // soon as it is final; `result` (optional) receives the token counts and timings.
  std::string answer(const std::vector<int64_t>& ids, const kernels::Tensor& images, llm::GenerateOptions opt,
                     const std::function<void(const std::string&)>& on_text = {},
                     llm::GenerateResult* result = nullptr) const;

 private:
  std::string dir_;
  std::unique_ptr<llm::JanusModel> model_;
  tokenizers::Tokenizer tok_;
  tokenizers::ChatTemplate tpl_;
  std::string system_ = kUnderstandingSystem;
  int64_t bos_ = -1;
  std::vector<int64_t> stop_;
  ImageSampling sampling_;
};

// Reads the "image_generation" object of a generation_config.json (the file may be absent:
// defaults). Throws std::runtime_error naming the file and key for invalid JSON, an unknown key,
// a non-number, or a negative value.
ImageSampling read_image_sampling(const std::string& generation_config_path);

}  // namespace janus::app
