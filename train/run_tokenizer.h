// "kind": "tokenizer" recipes: a byte-level BPE tokenizer (tokenizers/bpe_trainer.h) learnt from
// the text of JSONL records, written as an HF tokenizer folder. The first step of the embedded
// model's reproduction (train/recipes/janus_shapes_tokenizer.json), run by `janus train`.
//
// {
//   "kind": "tokenizer",
//   "name": "janus-shapes-tokenizer",                 free text
//   "data": {"train": ["a.jsonl", ...]},              records (train/data.h): the corpus is every
//                                                     record's prompt, answer and text, one per line
//   "vocab_size": 512,                                specials + 256 bytes + merges (an upper bound:
//   "min_frequency": 2,                               training stops when no pair occurs this often)
//   "special_tokens": [...],                          optional; default: BOS, EOS, pad, the Janus chat,
//                                                     image and think markers (default_special_tokens);
//                                                     <think> / </think> are written "special": false,
//                                                     as DeepSeek-R1's, so decoded answers keep them
//   "output": {"dir": "runs/tok"}                     gets tokenizer.json + tokenizer_config.json
// }
// Paths are relative to the recipe's folder. The result depends only on the recipe and the data
// (the trainer is deterministic). Files are written atomically.
// Errors: std::runtime_error "<file>: <key path>: <problem>" (unknown keys too).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace janus::train {

struct TokenizerRecipe {
  std::string source, name, output_dir;
  std::vector<std::string> train_files, special_tokens;
  int64_t vocab_size = 0, min_frequency = 2;
};

TokenizerRecipe load_tokenizer_recipe(const std::string& path);

struct TokenizerRunSummary {
  int64_t records = 0, corpus_bytes = 0, vocab_size = 0, merges = 0;
};
TokenizerRunSummary run_tokenizer_recipe(const TokenizerRecipe& recipe);

}  // namespace janus::train
