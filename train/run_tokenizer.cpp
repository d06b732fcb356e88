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
  auto fail = [&](const std::string& key, const std::string& m) -> void {
    throw std::runtime_error(path + ": " + key + ": " + m);
  };
  const json j = read_json_file(path);
  if (!j.is_object()) fail("(top level)", "expected an object");
  for (const auto& [k, v] : j.items())
    if (k != "kind" && k != "name" && k != "data" && k != "vocab_size" && k != "min_frequency" &&
        k != "special_tokens" && k != "output")
      fail(k, "unknown key");
  if (j.value("kind", "") != "tokenizer") fail("kind", "expected \"tokenizer\"");
  const fs::path base = fs::path(path).parent_path();
  auto resolve = [&](const std::string& p) { return fs::path(p).is_absolute() ? p : (base / p).string(); };
  r.name = j.value("name", "");
  if (!j.contains("data") || !j["data"].is_object() || !j["data"].contains("train") || !j["data"]["train"].is_array() ||
      j["data"]["train"].empty())
    fail("data.train", "expected a non-empty list of JSONL files");
  for (const auto& [k, v] : j["data"].items())
    if (k != "train") fail("data." + k, "unknown key");
  for (const auto& f : j["data"]["train"]) {
    if (!f.is_string()) fail("data.train", "expected file names");
    r.train_files.push_back(resolve(f.get<std::string>()));
  }
  if (!j.contains("vocab_size") || !j["vocab_size"].is_number_integer() || j["vocab_size"].get<int64_t>() < 1)
    fail("vocab_size", "expected a positive integer");
  r.vocab_size = j["vocab_size"].get<int64_t>();
  if (j.contains("min_frequency")) {
    if (!j["min_frequency"].is_number_integer() || j["min_frequency"].get<int64_t>() < 1)
      fail("min_frequency", "expected a positive integer");
    r.min_frequency = j["min_frequency"].get<int64_t>();
  }
  if (j.contains("special_tokens")) {
    if (!j["special_tokens"].is_array()) fail("special_tokens", "expected a list of strings");
    for (const auto& t : j["special_tokens"]) {
      if (!t.is_string() || t.get<std::string>().empty()) fail("special_tokens", "expected non-empty strings");
      r.special_tokens.push_back(t.get<std::string>());
    }
  }
  if (!j.contains("output") || !j["output"].is_object() || !j["output"].contains("dir") ||
      !j["output"]["dir"].is_string())
    fail("output.dir", "missing");
  for (const auto& [k, v] : j["output"].items())
    if (k != "dir") fail("output." + k, "unknown key");
  r.output_dir = resolve(j["output"]["dir"].get<std::string>());
  const size_t n_special = bpe_options(r).special_tokens.size();
  if (r.vocab_size < int64_t(n_special) + 256)
    fail("vocab_size",
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
