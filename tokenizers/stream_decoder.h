// StreamDecoder: incremental decoding for streaming generation. Feed ids one at a time; each
// step returns the text that became final. A token that ends inside a UTF-8 sequence (or whose
// decoding still ends in U+FFFD) yields nothing until the following tokens complete it.
//
// Same algorithm as HF tokenizers' DecodeStream: decode the ids since the last emitted prefix,
// emit the new suffix once it no longer ends in U+FFFD. So the concatenation of step() outputs
// plus flush() equals Tokenizer::decode() of all the ids for byte-level tokenizers, and decoders
// with first-token rules (Metaspace, Strip) behave as in a full decode.
//
// Thread-safety: one StreamDecoder per stream (not thread-safe); the Tokenizer may be shared.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizers/tokenizer.h"

namespace janus::tokenizers {

class StreamDecoder {
 public:
  explicit StreamDecoder(Tokenizer tok, bool skip_special = false)
      : tok_(std::move(tok)), skip_special_(skip_special) {}

  // Adds one id; returns the newly final text (possibly empty).
  std::string step(int32_t id);
  // Returns whatever is still held back (lossily decoded: an unfinished character becomes
  // U+FFFD) and resets the stream.
  std::string flush();
  void reset();

 private:
  Tokenizer tok_;
  bool skip_special_;
  std::vector<int32_t> ids_;
  std::string prefix_;
  size_t prefix_index_ = 0;
};

}  // namespace janus::tokenizers
