// Decoders from tokenizer.json ("decoder" key): ByteLevel, Metaspace, Replace, ByteFallback,
// Fuse, Strip, WordPiece and Sequence, with HF tokenizers' semantics: each step maps the list of
// token strings to a new list, and the result is their concatenation.
//
// Output is always valid UTF-8: ByteLevel decodes bytes lossily (maximal invalid subsequences
// become U+FFFD, as Rust's from_utf8_lossy) and ByteFallback turns an invalid byte run into one
// U+FFFD per byte. Immutable after construction; thread-safe. make_decoder throws
// std::invalid_argument for unknown or malformed types.
#pragma once
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace janus::tokenizers {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// nullptr for JSON null (HF then joins tokens with a space).
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j);

}  // namespace janus::tokenizers
