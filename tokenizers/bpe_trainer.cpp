#include "tokenizers/bpe_trainer.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "tokenizers/byte_level.h"
#include "tokenizers/pre_tokenizer.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {

const char* const kTrainSplitPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

std::vector<std::string> default_special_tokens() {
  return {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>",    "<|User|>", "<|Assistant|>",
          "<image_placeholder>",     "<begin_of_image>",      "<end_of_image>", "<think>",  "</think>"};
}

BpeTrainOptions default_train_options(size_t vocab_size) {
  BpeTrainOptions o;
  o.vocab_size = vocab_size;
  o.special_tokens = default_special_tokens();
  o.bos_token = o.special_tokens[0];
  o.eos_token = o.special_tokens[1];
  o.pad_token = o.special_tokens[2];
  o.non_special_tokens = {"<think>", "</think>"};
  return o;
}

namespace {
using ojson = nlohmann::ordered_json;

ojson pre_tokenizer_json() {
  return ojson{
      {"type", "Sequence"},
      {"pretokenizers",
       ojson::array(
           {ojson{{"type", "Split"},
                  {"pattern", ojson{{"Regex", kTrainSplitPattern}}},
                  {"behavior", "Isolated"},
                  {"invert", false}},
            ojson{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}})}};
}

struct Word {
  std::vector<int32_t> syms;
  uint64_t count;
};

inline uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
}  // namespace

BpeTrainResult train_bpe(const std::vector<std::string>& texts, const BpeTrainOptions& opt) {
  const size_t n_special = opt.special_tokens.size();
  if (opt.vocab_size < n_special + 256)
    throw std::invalid_argument("vocab size " + std::to_string(opt.vocab_size) + " is below the " +
                                std::to_string(n_special + 256) + " special + byte tokens");
  // 1. Count pre-tokenized words (raw bytes), cutting the text at special tokens first.
  nlohmann::json pre_j = nlohmann::json::parse(pre_tokenizer_json().dump());
  bool byte_last = false;
  auto pre = make_pre_tokenizer(pre_j, &byte_last);
  std::unordered_map<std::string, uint64_t> counts;
  std::vector<Piece> pieces;
  PieceArena arena;
  auto count_text = [&](std::string_view t) {
    if (t.empty()) return;
    pieces.assign(1, Piece{t, true});
    arena.clear();
    pre->split(pieces, arena);
    for (const Piece& p : pieces) ++counts[std::string(p.text)];
  };
  for (const std::string& text : texts) {
    utf8_check(text, "training corpus");
    size_t pos = 0;
    while (pos < text.size()) {
      size_t best = std::string::npos, best_len = 0;
      for (const auto& s : opt.special_tokens) {
        size_t f = text.find(s, pos);
        if (f != std::string::npos && (f < best || (f == best && s.size() > best_len))) {
          best = f;
          best_len = s.size();
        }
      }
      if (best == std::string::npos) {
        count_text(std::string_view(text).substr(pos));
        break;
      }
      count_text(std::string_view(text).substr(pos, best - pos));
      pos = best + best_len;
    }
  }

  // 2. Initial vocabulary: specials, then the byte alphabet.
  std::vector<std::string> vocab;  // id -> byte-level token string
  for (const auto& s : opt.special_tokens) vocab.push_back(s);
  std::unordered_map<std::string, int32_t> index;
  for (size_t k = 0; k < vocab.size(); ++k) index.emplace(vocab[k], int32_t(k));
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8_append(ch, byte_level_char(uint8_t(b)));
    if (index.count(ch)) throw std::invalid_argument("special token \"" + ch + "\" collides with a byte token");
    index.emplace(ch, int32_t(vocab.size()));
    vocab.push_back(ch);
  }
  const int32_t byte_base = int32_t(n_special);

  // Words in a deterministic order (sorted by bytes) so training does not depend on hashing.
  std::vector<std::pair<std::string, uint64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words;
  words.reserve(sorted.size());
  for (auto& [w, c] : sorted) {
    Word word{{}, c};
    for (unsigned char ch : w) word.syms.push_back(byte_base + ch);
    words.push_back(std::move(word));
  }

  // 3. Pair statistics.
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::unordered_set<uint32_t>> where;
  for (uint32_t wi = 0; wi < words.size(); ++wi) {
    const auto& s = words[wi].syms;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t k = pair_key(s[i], s[i + 1]);
      pair_count[k] += int64_t(words[wi].count);
      where[k].insert(wi);
    }
  }
  struct Cand {
    int64_t count;
    uint64_t key;
  };
  auto worse = [&](const Cand& x, const Cand& y) {  // priority_queue keeps the "largest" on top
    if (x.count != y.count) return x.count < y.count;
    const std::string& xa = vocab[size_t(x.key >> 32)];
    const std::string& ya = vocab[size_t(y.key >> 32)];
    if (xa != ya) return xa > ya;
    return vocab[size_t(uint32_t(x.key))] > vocab[size_t(uint32_t(y.key))];
  };
  std::priority_queue<Cand, std::vector<Cand>, decltype(worse)> heap(worse);
  for (auto& [k, c] : pair_count) heap.push({c, k});

  // 4. Merge until the vocabulary is full.
  std::vector<std::pair<std::string, std::string>> merges;
  while (vocab.size() < opt.vocab_size && !heap.empty()) {
    Cand top = heap.top();
    heap.pop();
    auto it = pair_count.find(top.key);
    int64_t now = it == pair_count.end() ? 0 : it->second;
    if (now != top.count) {  // stale entry
      if (now > 0) heap.push({now, top.key});
      continue;
    }
    if (uint64_t(now) < std::max<uint64_t>(opt.min_frequency, 1)) break;
    int32_t a = int32_t(top.key >> 32), b = int32_t(uint32_t(top.key));
    std::string joined = vocab[size_t(a)] + vocab[size_t(b)];
    int32_t id;
    auto found = index.find(joined);
    if (found != index.end()) {
      id = found->second;
    } else {
      id = int32_t(vocab.size());
      vocab.push_back(joined);
      index.emplace(joined, id);
    }
    merges.emplace_back(vocab[size_t(a)], vocab[size_t(b)]);
    std::vector<uint32_t> affected(where[top.key].begin(), where[top.key].end());
    std::sort(affected.begin(), affected.end());
    std::unordered_map<uint64_t, int64_t> delta;
    for (uint32_t wi : affected) {
      Word& w = words[wi];
      auto& s = w.syms;
      const int64_t c = int64_t(w.count);
      for (size_t i = 0; i + 1 < s.size(); ++i) delta[pair_key(s[i], s[i + 1])] -= c;
      std::vector<int32_t> merged;
      merged.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          merged.push_back(id);
          ++i;
        } else
          merged.push_back(s[i]);
      }
      s.swap(merged);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        uint64_t k = pair_key(s[i], s[i + 1]);
        delta[k] += c;
        where[k].insert(wi);
      }
    }
    for (auto& [k, d] : delta) {
      if (d == 0) continue;
      int64_t& pc = pair_count[k];
      pc += d;
      if (pc <= 0) {
        pair_count.erase(k);
        where.erase(k);
        continue;
      }
      if (d > 0) heap.push({pc, k});
    }
    pair_count.erase(top.key);
    where.erase(top.key);
  }

  // 5. Serialize in HF's layout.
  ojson added = ojson::array();
  for (size_t k = 0; k < n_special; ++k)
    added.push_back(ojson{{"id", k},
                          {"content", vocab[k]},
                          {"single_word", false},
                          {"lstrip", false},
                          {"rstrip", false},
                          {"normalized", false},
                          {"special", std::find(opt.non_special_tokens.begin(), opt.non_special_tokens.end(),
                                                vocab[k]) == opt.non_special_tokens.end()}});
  ojson vj = ojson::object();
  for (size_t k = 0; k < vocab.size(); ++k) vj[vocab[k]] = k;
  ojson mj = ojson::array();
  for (auto& [l, r] : merges) mj.push_back(ojson::array({l, r}));
  ojson byte_level{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}};
  // With a BOS token the post-processor prepends it, so HF `tokenizers` (add_special_tokens) and
  // the add_bos_token in tokenizer_config.json agree.
  ojson post = byte_level;
  if (!opt.bos_token.empty()) {
    int32_t bos = index.at(opt.bos_token);
    ojson bos_item{{"SpecialToken", ojson{{"id", opt.bos_token}, {"type_id", 0}}}};
    post = ojson{
        {"type", "Sequence"},
        {"processors",
         ojson::array(
             {byte_level,
              ojson{{"type", "TemplateProcessing"},
                    {"single", ojson::array({bos_item, ojson{{"Sequence", ojson{{"id", "A"}, {"type_id", 0}}}}})},
                    {"pair", ojson::array({bos_item, ojson{{"Sequence", ojson{{"id", "A"}, {"type_id", 0}}}},
                                           ojson{{"SpecialToken", ojson{{"id", opt.bos_token}, {"type_id", 1}}}},
                                           ojson{{"Sequence", ojson{{"id", "B"}, {"type_id", 1}}}}})},
                    {"special_tokens", ojson{{opt.bos_token, ojson{{"id", opt.bos_token},
                                                                   {"ids", ojson::array({bos})},
                                                                   {"tokens", ojson::array({opt.bos_token})}}}}}}})}};
  }
  ojson tj{{"version", "1.0"},
           {"truncation", nullptr},
           {"padding", nullptr},
           {"added_tokens", added},
           {"normalizer", nullptr},
           {"pre_tokenizer", pre_tokenizer_json()},
           {"post_processor", post},
           {"decoder", byte_level},
           {"model", ojson{{"type", "BPE"},
                           {"dropout", nullptr},
                           {"unk_token", nullptr},
                           {"continuing_subword_prefix", nullptr},
                           {"end_of_word_suffix", nullptr},
                           {"fuse_unk", false},
                           {"byte_fallback", false},
                           {"ignore_merges", false},
                           {"vocab", vj},
                           {"merges", mj}}}};
  ojson cj = ojson::object();
  cj["tokenizer_class"] = "PreTrainedTokenizerFast";
  if (!opt.bos_token.empty()) {
    cj["bos_token"] = opt.bos_token;
    cj["add_bos_token"] = true;
  }
  if (!opt.eos_token.empty()) {
    cj["eos_token"] = opt.eos_token;
    cj["add_eos_token"] = false;
  }
  if (!opt.pad_token.empty()) cj["pad_token"] = opt.pad_token;
  cj["clean_up_tokenization_spaces"] = false;
  cj["model_max_length"] = 16384;

  BpeTrainResult r;
  r.tokenizer_json = tj.dump(1, ' ', false) + "\n";
  r.config_json = cj.dump(1, ' ', false) + "\n";
  r.vocab_size = vocab.size();
  r.merges = merges.size();
  return r;
}

}  // namespace janus::tokenizers
