// BPE training: learns a byte-level BPE tokenizer from text and writes a tokenizer.json (plus a
// tokenizer_config.json) that HF `tokenizers` loads and encodes exactly as janus does.
//
// Layout of the result: pre-tokenizer = Split(llama-3 style regex, Isolated) + ByteLevel (no
// prefix space), no normalizer, ByteLevel decoder, BPE model. Ids: special tokens first (in the
// order given), then the 256 byte-level characters in byte order, then one token per merge.
// Training is deterministic: the most frequent adjacent pair wins; ties go to the pair whose
// (left, right) token strings sort first. Special tokens never take part in merges.
//
// Thread-safety: plain functions, no shared state. Errors: std::invalid_argument for bad options
// (vocab_size below specials + 256), std::runtime_error for unreadable/ invalid UTF-8 corpora.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace janus::tokenizers {

struct BpeTrainOptions {
  size_t vocab_size = 4096;                 // total, including special tokens and the 256 byte tokens
  uint64_t min_frequency = 2;               // a pair seen fewer times is never merged
  std::vector<std::string> special_tokens;  // added tokens (never split, normalized=false), ids first
  // Those of special_tokens written with "special": false: kept when decoding with special tokens
  // skipped (DeepSeek-R1 marks its <think> / </think> so, so answers keep their think trace).
  std::vector<std::string> non_special_tokens;
  std::string bos_token, eos_token, pad_token;  // written to tokenizer_config.json when non-empty
};

struct BpeTrainResult {
  std::string tokenizer_json;  // the tokenizer.json text
  std::string config_json;     // the tokenizer_config.json text
  size_t vocab_size = 0, merges = 0;
};

// The split regex of trained tokenizers (Llama-3 style).
extern const char* const kTrainSplitPattern;

// Trains on the given texts (each a document; UTF-8 validated).
BpeTrainResult train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& opt);

// The options `janus tokenizer-train --vocab-size N` uses: default_special_tokens(), with the
// first three as BOS, EOS and pad, <think> and </think> not special (as R1), min_frequency 2.
BpeTrainOptions default_train_options(size_t vocab_size);

// The special tokens `janus tokenizer-train` adds by default (Janus / DeepSeek chat markers,
// image markers and think tags).
std::vector<std::string> default_special_tokens();

}  // namespace janus::tokenizers
