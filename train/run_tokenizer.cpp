#include "train/run_tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizers/bpe_trainer.h"
#include "train/atomic_file.h"
#include "train/data.h"
#include "train/json_file.h"

namespace janus::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
// The trainer options a recipe asks for: the defaults, with the recipe's special tokens when it
// lists any (then BOS / EOS / pad only when the list holds them).
tokenizers::BpeTrainOptions bpe_options(const TokenizerRecipe& recipe) {
  tokenizers::BpeTrainOptions opt = tokenizers::default_train_options(size_t(recipe.vocab_size));
  opt.min_frequency = uint64_t(recipe.min_frequency);
  if (recipe.special_tokens.empty()) return opt;
  const auto& list = recipe.special_tokens;
  for (std::string* role : {&opt.bos_token, &opt.eos_token, &opt.pad_token})
    if (std::find(list.begin(), list.end(), *role) == list.end()) role->clear();
  opt.special_tokens = list;
  return opt;
}
}  // namespace

TokenizerRecipe load_tokenizer_recipe(const std::string& path) {
  TokenizerRecipe r;
  r.source = path;
  const JsonReader rd{path, fs::path(path).parent_path().string()};
  const json j = read_json_file(path);
  rd.keys(j, "", {"kind", "name", "data", "vocab_size", "min_frequency", "special_tokens", "output"});
  if (rd.string(j, "kind", "", "") != "tokenizer") rd.fail("kind", "expected \"tokenizer\"");
  r.name = rd.string(j, "name", "", "");
  const json data = rd.object(j, "data");
  rd.keys(data, "data", {"train"});
  for (const std::string& f : rd.strings(data, "train", "data")) r.train_files.push_back(rd.resolve(f));
  if (r.train_files.empty()) rd.fail("data.train", "expected a non-empty list of JSONL files");
  if (!j.contains("vocab_size")) rd.fail("vocab_size", "missing");
  r.vocab_size = rd.integer(j, "vocab_size", "", 0, 1);
  r.min_frequency = rd.integer(j, "min_frequency", "", r.min_frequency, 1);
  r.special_tokens = rd.strings(j, "special_tokens", "");
  for (const std::string& t : r.special_tokens)
    if (t.empty()) rd.fail("special_tokens", "expected non-empty strings");
  const json output = rd.object(j, "output");
  rd.keys(output, "output", {"dir"});
  r.output_dir = rd.resolve(rd.string(output, "dir", "output", ""));
  if (r.output_dir.empty()) rd.fail("output.dir", "missing");
  const size_t n_special = bpe_options(r).special_tokens.size();
  if (r.vocab_size < int64_t(n_special) + 256)
    rd.fail("vocab_size",
            std::to_string(r.vocab_size) + " is below the " + std::to_string(n_special) + " special + 256 byte tokens");
  return r;
}

TokenizerRunSummary run_tokenizer_recipe(const TokenizerRecipe& recipe) {
  TokenizerRunSummary s;
  std::string corpus;
  for (const auto& f : recipe.train_files)
    for (const Record& rec : read_jsonl(f)) {
      for (const std::string* t : {&rec.prompt, &rec.answer, &rec.text})
        if (!t->empty()) corpus += *t + "\n";
      ++s.records;
    }
  if (corpus.empty()) throw std::runtime_error(recipe.source + ": data.train: the records hold no text");
  const tokenizers::BpeTrainOptions opt = bpe_options(recipe);
  tokenizers::BpeTrainResult r;
  try {
    r = tokenizers::train_bpe({corpus}, opt);
  } catch (const std::invalid_argument& e) {  // e.g. a special token that is a byte token
    throw std::runtime_error(recipe.source + ": special_tokens / vocab_size: " + e.what());
  }
  fs::create_directories(recipe.output_dir);
  write_file_atomic((fs::path(recipe.output_dir) / "tokenizer_config.json").string(), r.config_json);
  write_file_atomic((fs::path(recipe.output_dir) / "tokenizer.json").string(), r.tokenizer_json);
  s.corpus_bytes = int64_t(corpus.size());
  s.vocab_size = int64_t(r.vocab_size);
  s.merges = int64_t(r.merges);
  return s;
}

}  // namespace janus::train
