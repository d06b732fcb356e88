// Pre-tokenizers from tokenizer.json ("pre_tokenizer" key): Split (Regex or String pattern, with
// behavior Removed / Isolated / MergedWithPrevious / MergedWithNext / Contiguous and the invert
// flag), ByteLevel, Digits, Metaspace, Whitespace, WhitespaceSplit, Punctuation,
// BertPreTokenizer, CharDelimiterSplit and Sequence, with HF tokenizers' semantics.
//
// A pre-tokenizer replaces each piece by its sub-pieces; empty pieces are dropped. Pieces are
// views into the caller's text or into a PieceArena (for rewritten text such as a prefix space).
// Immutable after construction; split() is thread-safe. make_pre_tokenizer throws
// std::invalid_argument for unknown or malformed types.
#pragma once
#include <deque>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace janus::tokenizers {

struct Piece {
  std::string_view text;
  bool at_start;  // begins at offset 0 of the encoded text (Metaspace prepend_scheme "first")
};

// Owns rewritten piece text; string_views into it stay valid until clear().
class PieceArena {
 public:
  std::string_view keep(std::string s) {
    owned_.push_back(std::move(s));
    return owned_.back();
  }
  void clear() { owned_.clear(); }

 private:
  std::deque<std::string> owned_;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void split(std::vector<Piece>& pieces, PieceArena& arena) const = 0;
};

// Builds the pre-tokenizer described by `j` (nullptr for JSON null). When the last step is a
// ByteLevel pre-tokenizer its byte->character mapping is left to the model: *byte_level_last is
// set and the pieces stay raw bytes (the model then works on bytes, which is faster and
// equivalent). A ByteLevel step that is not last maps its pieces itself.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, bool* byte_level_last);

}  // namespace janus::tokenizers
