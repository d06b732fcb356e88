// Tokenizer: a Hugging Face tokenizer.json (BPE model) with its tokenizer_config.json, encoding
// to exactly the ids HF `tokenizers` produces and decoding back.
//
//   auto tok = janus::tokenizers::Tokenizer::from_dir("models/janus-shapes");
//   std::vector<int32_t> ids = tok.encode("Hello <think>", /*add_special=*/false);
//   std::string text = tok.decode(ids);
//
// Pipeline (HF order): split on added tokens (raw) -> normalizer -> split on added tokens
// (normalized) -> pre-tokenizer -> BPE per word. add_special adds BOS/EOS as tokenizer_config.json
// says (add_bos_token / add_eos_token, which transformers' Llama/DeepSeek tokenizers follow); when
// the config says neither, the tokenizer.json post_processor (TemplateProcessing, Bert/Roberta)
// decides, as HF `tokenizers` does.
//
// Errors: loading throws std::invalid_argument / std::runtime_error naming the file and the
// problem (unreadable, bad JSON, unsupported component). encode() throws std::invalid_argument on
// invalid UTF-8 ("encode: invalid UTF-8 at byte N"); it never replaces silently. decode() ignores
// ids outside the vocabulary (as HF does) and returns valid UTF-8 (lossy on broken byte runs).
//
// Thread-safety: a Tokenizer is an immutable, cheaply copyable handle (shared state); all const
// methods may be called from many threads at once.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace janus::tokenizers {

// What the model folder's tokenizer_config.json says (fields absent in the file stay empty).
struct TokenizerConfig {
  std::string bos_token, eos_token, pad_token, unk_token;
  int add_bos_token = -1, add_eos_token = -1;  // -1: not stated
  std::string chat_template;                   // the Jinja source ("default" one when a list)
  std::string tokenizer_class;
};

class Tokenizer {
 public:
  // Loads tokenizer.json (and tokenizer_config.json from `config_path` when non-empty).
  static Tokenizer from_file(const std::string& tokenizer_json, const std::string& config_path = "");
  // Loads DIR/tokenizer.json and, when present, DIR/tokenizer_config.json.
  static Tokenizer from_dir(const std::string& dir);
  // Parses an in-memory tokenizer.json (and optional tokenizer_config.json text); `origin` names
  // the source in error messages.
  static Tokenizer from_json(std::string_view tokenizer_json, std::string_view config_json = {},
                             const std::string& origin = "tokenizer.json");

  std::vector<int32_t> encode(std::string_view text, bool add_special = false) const;
  // Appends to `ids` (no allocation of a result vector; same ids as encode()).
  void encode_into(std::string_view text, std::vector<int32_t>& ids, bool add_special = false) const;

  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  // The decoder's token strings before joining (HF convert_ids_to_tokens for known ids).
  std::vector<std::string> id_to_tokens(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // Id of a token string (added tokens first, then the model vocabulary); -1 when absent.
  int32_t token_to_id(std::string_view token) const;
  // Token string of an id; empty when the id is unknown.
  std::string id_to_token(int32_t id) const;
  bool is_special(int32_t id) const;

  int32_t bos_id() const;  // -1 when the config names no BOS token
  int32_t eos_id() const;  // -1 when the config names no EOS token
  int32_t pad_id() const;  // -1 when the config names no pad token
  // One past the largest id (model vocabulary and added tokens).
  size_t vocab_size() const;
  const TokenizerConfig& config() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Reads a whole file; throws std::runtime_error("<path>: cannot read") on failure.
std::string read_file(const std::string& path);

}  // namespace janus::tokenizers
