// Normalizers from tokenizer.json ("normalizer" key): NFC, NFD, NFKC, NFKD, Lowercase, Strip,
// StripAccents, Replace, Prepend, ByteLevel and Sequence, with HF tokenizers' semantics.
//
// A normalizer rewrites one piece of text (the text between added tokens) before
// pre-tokenization. Input and output are valid UTF-8. Immutable after construction; normalize()
// is thread-safe. make_normalizer throws std::invalid_argument for unknown or malformed types.
#pragma once
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace janus::tokenizers {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// Builds the normalizer described by `j`; returns nullptr for JSON null or an empty Sequence.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j);

}  // namespace janus::tokenizers
