// "kind": "tokenizer" recipes (train/run_tokenizer.h) end to end: a byte-level BPE tokenizer
// learnt from a generated JSONL corpus (300 short shape sentences, text and prompt/answer
// records), loaded back with tokenizers::Tokenizer::from_dir. Checks the vocabulary bound, the
// default special tokens at ids 0..9, exact encode → decode round trips, determinism (byte-identical
// tokenizer.json from two runs) and the recipe errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizers/bpe_trainer.h"
#include "tokenizers/tokenizer.h"
#include "train/run_tokenizer.h"

namespace janus {
namespace {

namespace fs = std::filesystem;
namespace tr = train;
using nlohmann::json;

constexpr int64_t kVocab = 400;  // 10 specials + 256 bytes + up to 134 merges

fs::path root() {
  static const fs::path dir = [] {
    fs::path d = fs::path(JANUS_BINARY_DIR) / "train_tokenizer_recipe_tmp";
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

// 300 records: even ones {"text"}, odd ones {"prompt", "answer"}; one line with non-ASCII text.
std::vector<std::string> write_corpus() {
  static const char* colors[] = {"red", "green", "blue", "yellow", "purple"};
  static const char* shapes[] = {"circle", "square", "triangle", "star"};
  static const char* places[] = {"top left", "bottom right", "center", "left edge"};
  std::vector<std::string> lines;
  std::ofstream f(root() / "corpus.jsonl");
  for (int i = 0; i < 300; ++i) {
    const std::string s = std::string("A ") + colors[i % 5] + " " + shapes[(i / 5) % 4] + " at the " +
                          places[(i / 20) % 4] + ", size " + std::to_string(i % 7 + 1) + ".";
    if (i % 2 == 0) {
      f << json{{"text", s}}.dump() << "\n";
      lines.push_back(s);
    } else {
      const std::string q = "What is at the " + std::string(places[(i / 20) % 4]) + "?";
      f << json{{"prompt", q}, {"answer", s}}.dump() << "\n";
      lines.push_back(q);
      lines.push_back(s);
    }
  }
  f << json{{"text", "Un cercle rouge — très grand ☆"}}.dump() << "\n";
  lines.push_back("Un cercle rouge — très grand ☆");
  return lines;
}

std::string write_recipe(const std::string& name, json r) {
  const std::string path = (root() / (name + ".json")).string();
  std::ofstream(path) << r.dump(2);
  return path;
}

json base_recipe(const std::string& out) {
  return {{"kind", "tokenizer"},  {"name", "test"},     {"data", {{"train", {"corpus.jsonl"}}}},
          {"vocab_size", kVocab}, {"min_frequency", 2}, {"output", {{"dir", out}}}};
}

std::string read_all(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(TokenizerRecipe, TrainsALoadableTokenizerWithTheDefaultSpecialsThatRoundTrips) {
  const std::vector<std::string> lines = write_corpus();
  const tr::TokenizerRecipe r = tr::load_tokenizer_recipe(write_recipe("tok", base_recipe("tok_out")));
  EXPECT_EQ(r.output_dir, (root() / "tok_out").string());
  const tr::TokenizerRunSummary s = tr::run_tokenizer_recipe(r);
  EXPECT_EQ(s.records, 301);
  EXPECT_GT(s.merges, 0);
  auto tok = tokenizers::Tokenizer::from_dir(r.output_dir);
  EXPECT_LE(int64_t(tok.vocab_size()), kVocab);
  EXPECT_EQ(int64_t(tok.vocab_size()), s.vocab_size);
  EXPECT_EQ(s.vocab_size, 10 + 256 + s.merges);
  const std::vector<std::string> specials = {
      "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>",    "<|User|>", "<|Assistant|>",
      "<image_placeholder>",     "<begin_of_image>",      "<end_of_image>", "<think>",  "</think>"};
  EXPECT_EQ(specials, tokenizers::default_special_tokens());
  for (size_t i = 0; i < specials.size(); ++i) {
    EXPECT_EQ(tok.token_to_id(specials[i]), int32_t(i)) << specials[i];
    // Added tokens all; "special" (skipped when decoding answers) all but the think tags, which
    // decoded answers keep (as DeepSeek-R1's tokenizer).
    const bool think = specials[i] == "<think>" || specials[i] == "</think>";
    EXPECT_EQ(tok.is_special(int32_t(i)), !think) << specials[i];
  }
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.pad_id(), 2);
  size_t ids = 0, bytes = 0;
  for (const auto& l : lines) {
    const std::vector<int32_t> e = tok.encode(l);
    EXPECT_EQ(tok.decode(e), l);
    ids += e.size(), bytes += l.size();
  }
  // The merges learnt this corpus: well under one token per byte.
  std::printf("tokenizer recipe: vocab %lld (%lld merges), %zu bytes -> %zu tokens\n", (long long)s.vocab_size,
              (long long)s.merges, bytes, ids);
  EXPECT_LT(double(ids), 0.5 * double(bytes));
  // Specials inside text are single tokens.
  const std::vector<int32_t> chat = tok.encode("<|User|>: a red star<think>");
  EXPECT_EQ(chat.front(), 3);
  EXPECT_EQ(chat.back(), 8);

  // Determinism: a second run writes the same bytes.
  tr::run_tokenizer_recipe(tr::load_tokenizer_recipe(write_recipe("tok2", base_recipe("tok_out2"))));
  const std::string a = read_all(root() / "tok_out/tokenizer.json"), b = read_all(root() / "tok_out2/tokenizer.json");
  EXPECT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "tokenizer.json differs between two runs of the same recipe";
  EXPECT_EQ(read_all(root() / "tok_out/tokenizer_config.json"), read_all(root() / "tok_out2/tokenizer_config.json"));
}

void expect_recipe_error(const std::string& name, const json& r, const std::string& key, bool at_run = false) {
  const std::string path = write_recipe(name, r);
  try {
    tr::TokenizerRecipe rec = tr::load_tokenizer_recipe(path);
    if (at_run) tr::run_tokenizer_recipe(rec);
    FAIL() << name << ": no error";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path + ": " + key), std::string::npos) << name << ": " << m;
  }
}

TEST(TokenizerRecipe, BadRecipesNameTheFileAndTheKey) {
  write_corpus();
  json unknown = base_recipe("x");
  unknown["vocab"] = 300;
  expect_recipe_error("unknown_key", unknown, "vocab: unknown key");
  json no_train = base_recipe("x");
  no_train["data"] = json::object();
  expect_recipe_error("no_train", no_train, "data.train:");
  json zero = base_recipe("x");
  zero["vocab_size"] = 0;
  expect_recipe_error("vocab_zero", zero, "vocab_size:");
  // Below the 10 specials + 256 byte tokens: the recipe's error, not the trainer's.
  json small = base_recipe("x");
  small["vocab_size"] = 200;
  expect_recipe_error("vocab_small", small, "vocab_size:", true);
  json data_key = base_recipe("x");
  data_key["data"]["seq_len"] = 10;
  expect_recipe_error("data_key", data_key, "data.seq_len: unknown key");
  json kind = base_recipe("x");
  kind["kind"] = "vq";
  expect_recipe_error("kind", kind, "kind:");
  // Wrong types name the key and the type found (nlohmann's own type errors carry no file name).
  json name = base_recipe("x");
  name["name"] = 7;
  expect_recipe_error("name_type", name, "name: expected a string, got number");
  json vocab_type = base_recipe("x");
  vocab_type["vocab_size"] = "512";
  expect_recipe_error("vocab_type", vocab_type, "vocab_size: expected an integer, got string");
  json specials = base_recipe("x");
  specials["special_tokens"] = {"<s>", 3};
  expect_recipe_error("specials_type", specials, "special_tokens: expected an array of strings");
  json empty_special = base_recipe("x");
  empty_special["special_tokens"] = {"<s>", ""};
  expect_recipe_error("specials_empty", empty_special, "special_tokens: expected non-empty strings");
  json no_output = base_recipe("x");
  no_output.erase("output");
  expect_recipe_error("no_output", no_output, "output.dir: missing");
  json no_vocab = base_recipe("x");
  no_vocab.erase("vocab_size");
  expect_recipe_error("no_vocab", no_vocab, "vocab_size: missing");
  json data_type = base_recipe("x");
  data_type["data"] = {"corpus.jsonl"};
  expect_recipe_error("data_type", data_type, "data: expected an object, got array");
}

}  // namespace
}  // namespace janus
