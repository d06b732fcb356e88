// BpeModel: the "model" of a tokenizer.json of type BPE. Vocabulary and ranked merges, with
// ignore_merges, continuing_subword_prefix / end_of_word_suffix, unk_token + fuse_unk and
// byte_fallback exactly as HF tokenizers' BPE (no dropout).
//
// Byte mode: when the pre-tokenizer ends with ByteLevel, words arrive as raw bytes and the model
// looks them up through the GPT-2 byte alphabet (equivalent to mapping them first, but without
// building the mapped strings). Ids are int32. Merging picks the lowest rank, leftmost on ties.
//
// Thread-safety: immutable after construction; tokenize() may run concurrently (the word cache is
// per thread). Errors: from_json throws std::invalid_argument (merge token not in vocab, ...).
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizers/hash_map.h"

namespace janus::tokenizers {

class JsonReader;

// The "model" object of a tokenizer.json, read without a DOM for the vocabulary and merges.
struct BpeSpec {
  nlohmann::json* params = nullptr;  // every other key of the model object (owned by the caller)
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  // Reads the model object at the reader's position into `params` (other keys), vocab, merges.
  static BpeSpec read(JsonReader& r, nlohmann::json& params);
};

class BpeModel {
 public:
  // `byte_input`: words arrive as raw bytes (see above).
  BpeModel(BpeSpec& spec, bool byte_input);

  // Appends the ids of one pre-tokenized word.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  int32_t token_to_id(std::string_view token) const { return vocab_.find(token); }
  // The vocabulary string of `id`, or nullptr when out of range / unassigned.
  const std::string* id_to_token(int32_t id) const;
  // One past the largest id in the vocabulary.
  size_t vocab_size() const { return id_to_token_.size(); }

 private:
  void tokenize_uncached(std::string_view word, std::vector<int32_t>& out) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>& syms) const;
  void merge(std::vector<int32_t>& syms) const;
  void merge_heap(std::vector<int32_t>& syms) const;

  StringIdMap vocab_;       // token string -> id
  StringIdMap byte_vocab_;  // byte mode: raw bytes of each token -> id
  std::vector<std::string> id_to_token_;
  PairMap merges_;
  std::string unk_token_, prefix_, suffix_;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256];      // byte mode: id of each byte's alphabet character (-1 if absent)
  int32_t fallback_ids_[256];  // byte_fallback: id of "<0xXX>" (-1 if absent)
  bool byte_input_ = false, fast_bytes_ = false, ignore_merges_ = false, fuse_unk_ = false, byte_fallback_ = false;
  uint64_t instance_ = 0;  // keys the per-thread word cache
};

}  // namespace janus::tokenizers
