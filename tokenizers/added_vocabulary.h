// AddedVocabulary: the "added_tokens" of a tokenizer.json and how they cut the input text before
// normalization and BPE, as HF tokenizers' AddedVocabulary does:
//   1. tokens with normalized=false are found in the raw text (leftmost-longest);
//   2. the remaining text is normalized, then tokens with normalized=true are found in it
//      (their patterns are the normalized token contents).
// Flags: lstrip / rstrip swallow Unicode whitespace beside the match; single_word only matches
// when no word character touches the match on either side; special marks tokens that decode()
// may skip. Immutable after construction; thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizers/hash_map.h"

namespace janus::tokenizers {

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// One cut of the text: either an added token (id >= 0) or a text span [begin, end).
struct TextSplit {
  size_t begin, end;
  int32_t id;  // -1 for text
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  // `normalize` rewrites normalized tokens' contents into their pattern (may be empty).
  AddedVocabulary(const nlohmann::json& added_tokens, const std::function<void(std::string&)>& normalize);

  // Cuts `text` with the raw (normalized == false) or the normalized token set.
  void split(std::string_view text, bool normalized_set, std::vector<TextSplit>& out) const;

  int32_t token_to_id(std::string_view content) const;
  const AddedToken* by_id(int32_t id) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool has_normalized() const { return !norm_.patterns.empty(); }

 private:
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> next;  // sorted by byte
      int32_t token = -1;                                   // index into tokens_
    };
    std::vector<Node> nodes;
    std::vector<std::string> patterns;
    bool first_byte[256] = {};
    void add(const std::string& pattern, int32_t token);
    // Longest pattern starting at `pos`: returns its length (0 if none) and token index.
    size_t longest_at(std::string_view s, size_t pos, int32_t* token) const;
  };
  std::vector<AddedToken> tokens_;
  StringIdMap by_content_;                     // content -> index into tokens_ (first listed wins)
  std::unordered_map<int32_t, size_t> by_id_;  // id -> index into tokens_
  Trie raw_, norm_;
};

}  // namespace janus::tokenizers
