#include "tokenizers/bpe.h"

#include <atomic>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <queue>
#include <stdexcept>
#include <unordered_map>

#include "tokenizers/byte_level.h"
#include "tokenizers/json_reader.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
std::atomic<uint64_t> g_instances{1};

// Per-thread cache of word -> ids for one model instance (HF caches words the same way).
struct WordCache {
  static constexpr size_t kMaxEntries = 1 << 16;
  static constexpr size_t kMaxWordBytes = 256;
  uint64_t owner = 0;
  StringIdMap index;                 // word -> slot
  std::vector<uint32_t> offsets{0};  // slot k's ids are ids[offsets[k] .. offsets[k+1])
  std::vector<int32_t> ids;
  void reset(uint64_t who) {
    owner = who;
    index = StringIdMap();
    index.reserve(1024);
    offsets.assign(1, 0);
    ids.clear();
  }
};
WordCache& cache_for(uint64_t instance) {
  thread_local WordCache c;
  if (c.owner != instance) c.reset(instance);
  return c;
}

}  // namespace

BpeSpec BpeSpec::read(JsonReader& r, nlohmann::json& params) {
  BpeSpec spec;
  params = nlohmann::json::object();
  spec.params = &params;
  bool has_vocab = false, has_merges = false;
  std::string key, a, b;
  r.expect('{');
  if (!r.consume('}')) {
    do {
      r.read_string(key);
      r.expect(':');
      if (key == "vocab" && r.peek() == '{') {
        has_vocab = true;
        spec.vocab.clear();
        r.expect('{');
        if (!r.consume('}')) {
          do {
            r.read_string(a);
            r.expect(':');
            spec.vocab.emplace_back(a, r.read_int());
          } while (r.consume(','));
          r.expect('}');
        }
      } else if (key == "merges" && r.peek() == '[') {
        has_merges = true;
        spec.merges.clear();
        r.expect('[');
        if (!r.consume(']')) {
          do {
            if (r.peek() == '[') {  // ["a", "b"]
              r.expect('[');
              r.read_string(a);
              r.expect(',');
              r.read_string(b);
              r.expect(']');
            } else {  // "a b"
              r.read_string(a);
              size_t sp = a.find(' ');
              if (sp == std::string::npos || a.find(' ', sp + 1) != std::string::npos)
                r.fail("BPE merge \"" + a + "\" is not two tokens separated by a space");
              b = a.substr(sp + 1);
              a.resize(sp);
            }
            spec.merges.emplace_back(a, b);
          } while (r.consume(','));
          r.expect(']');
        }
      } else {
        std::string_view raw = r.skip_value();
        params[key] = nlohmann::json::parse(raw.begin(), raw.end());
      }
    } while (r.consume(','));
    r.expect('}');
  }
  if (!has_vocab) throw std::invalid_argument("model has no \"vocab\" object");
  if (!has_merges && !params.contains("merges")) throw std::invalid_argument("model has no \"merges\" array");
  if (params.contains("merges") || params.contains("vocab"))
    throw std::invalid_argument("model \"vocab\" must be an object and \"merges\" an array");
  return spec;
}

BpeModel::BpeModel(BpeSpec& spec, bool byte_input) : byte_input_(byte_input) {
  const nlohmann::json& model = *spec.params;
  instance_ = g_instances.fetch_add(1);
  if (model.value("type", std::string("BPE")) != "BPE")
    throw std::invalid_argument("unsupported model type \"" + model.value("type", std::string()) + "\" (BPE only)");
  vocab_.reserve(spec.vocab.size());
  for (auto& [tok, id] : spec.vocab) {
    if (id < 0 || id >= (1 << 24)) throw std::invalid_argument("vocab id out of range for \"" + tok + "\"");
    utf8_check(tok, "vocab token");
    vocab_.insert(tok, int32_t(id));
    if (size_t(id) >= id_to_token_.size()) id_to_token_.resize(size_t(id) + 1);
    id_to_token_[size_t(id)] = std::move(tok);
  }
  auto opt_string = [&](const char* key) {
    auto it = model.find(key);
    return (it == model.end() || it->is_null()) ? std::string() : it->get<std::string>();
  };
  unk_token_ = opt_string("unk_token");
  prefix_ = opt_string("continuing_subword_prefix");
  suffix_ = opt_string("end_of_word_suffix");
  auto opt_bool = [&](const char* key) {
    auto it = model.find(key);
    return it != model.end() && it->is_boolean() && it->get<bool>();
  };
  ignore_merges_ = opt_bool("ignore_merges");
  fuse_unk_ = opt_bool("fuse_unk");
  byte_fallback_ = opt_bool("byte_fallback");
  if (!unk_token_.empty()) {
    unk_id_ = vocab_.find(unk_token_);
    if (unk_id_ < 0) throw std::invalid_argument("unk_token \"" + unk_token_ + "\" is not in the vocabulary");
  }
  if (model.contains("dropout") && !model.at("dropout").is_null() && model.at("dropout").get<double>() > 0.0)
    throw std::invalid_argument("BPE dropout is not supported");

  merges_.reserve(spec.merges.size());
  std::string joined;
  for (size_t r = 0; r < spec.merges.size(); ++r) {
    const std::string& a = spec.merges[r].first;
    const std::string& b = spec.merges[r].second;
    int32_t ia = vocab_.find(a), ib = vocab_.find(b);
    joined = a;
    if (b.compare(0, prefix_.size(), prefix_) == 0)
      joined.append(b, prefix_.size(), std::string::npos);
    else
      joined += b;
    int32_t ij = vocab_.find(joined);
    if (ia < 0 || ib < 0 || ij < 0)
      throw std::invalid_argument("BPE merge " + std::to_string(r) + " (\"" + a + "\" \"" + b +
                                  "\") uses a token that is not in the vocabulary");
    merges_.insert(ia, ib, {uint32_t(r), ij});
  }
  spec.vocab.clear();
  spec.merges.clear();

  for (int b = 0; b < 256; ++b) {
    std::string ch;
    utf8_append(ch, byte_level_char(uint8_t(b)));
    byte_ids_[b] = vocab_.find(ch);
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    fallback_ids_[b] = vocab_.find(hex);
  }
  if (byte_input_) {
    fast_bytes_ = prefix_.empty() && suffix_.empty();
    for (int b = 0; b < 256; ++b) fast_bytes_ = fast_bytes_ && byte_ids_[b] >= 0;
    if (fast_bytes_) {
      byte_vocab_.reserve(id_to_token_.size());
      std::string raw;
      for (size_t id = 0; id < id_to_token_.size(); ++id)
        if (!id_to_token_[id].empty() && byte_level_decode(id_to_token_[id], raw) &&
            vocab_.find(id_to_token_[id]) == int32_t(id))
          byte_vocab_.insert(raw, int32_t(id));
    }
  }
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || size_t(id) >= id_to_token_.size()) return nullptr;
  const std::string& s = id_to_token_[size_t(id)];
  // An empty slot is a hole in the id space unless "" really is a token with this id.
  if (s.empty() && vocab_.find("") != id) return nullptr;
  return &s;
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (word.size() > WordCache::kMaxWordBytes) return tokenize_uncached(word, out);
  WordCache& c = cache_for(instance_);
  int32_t slot = c.index.find(word);
  if (slot >= 0) {
    out.insert(out.end(), c.ids.begin() + c.offsets[size_t(slot)], c.ids.begin() + c.offsets[size_t(slot) + 1]);
    return;
  }
  size_t before = out.size();
  tokenize_uncached(word, out);
  if (c.offsets.size() > WordCache::kMaxEntries) c.reset(instance_);
  c.index.insert(word, int32_t(c.offsets.size() - 1));
  c.ids.insert(c.ids.end(), out.begin() + before, out.end());
  c.offsets.push_back(uint32_t(c.ids.size()));
}

void BpeModel::tokenize_uncached(std::string_view word, std::vector<int32_t>& out) const {
  thread_local std::string mapped;
  std::string_view w = word;
  if (byte_input_ && !fast_bytes_) {  // byte mode without the fast path: map, then as HF does
    mapped = byte_level_encode(word);
    w = mapped;
  }
  if (ignore_merges_) {
    int32_t id = fast_bytes_ ? byte_vocab_.find(w) : vocab_.find(w);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  thread_local std::vector<int32_t> syms;
  syms.clear();
  initial_symbols(w, syms);
  merge(syms);
  out.insert(out.end(), syms.begin(), syms.end());
}

void BpeModel::initial_symbols(std::string_view w, std::vector<int32_t>& syms) const {
  if (fast_bytes_) {
    for (char c : w) syms.push_back(byte_ids_[static_cast<uint8_t>(c)]);
    return;
  }
  // HF BPE::merge_word: one symbol per character, with prefix/suffix, byte fallback and unk.
  thread_local std::string s;
  int32_t pending_unk = -1;  // HF keeps (unk_id, len); the id is all that matters here
  for (size_t i = 0; i < w.size();) {
    size_t b = i;
    i += utf8_len(static_cast<unsigned char>(w[i]));
    if (i > w.size()) i = w.size();
    s.clear();
    if (b != 0) s += prefix_;
    s.append(w.data() + b, i - b);
    if (i == w.size()) s += suffix_;
    int32_t id = vocab_.find(s);
    if (id >= 0) {
      if (pending_unk >= 0) {
        syms.push_back(pending_unk);
        pending_unk = -1;
      }
      syms.push_back(id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : s) all = all && fallback_ids_[static_cast<uint8_t>(c)] >= 0;
      if (all) {
        // HF pushes byte tokens without flushing a pending unk first (it stays pending).
        for (char c : s) syms.push_back(fallback_ids_[static_cast<uint8_t>(c)]);
        continue;
      }
    }
    if (unk_id_ >= 0) {
      if (pending_unk >= 0 && !fuse_unk_) syms.push_back(pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk >= 0) syms.push_back(pending_unk);
}

void BpeModel::merge(std::vector<int32_t>& syms) const {
  if (syms.size() > 256) return merge_heap(syms);
  // Short words: repeatedly merge the lowest-ranked pair (leftmost on ties). The rank of every
  // adjacent pair is kept in `rank`, so a merge costs two lookups plus a linear scan.
  thread_local std::vector<PairMap::Value> rank;
  const size_t n = syms.size();
  if (n < 2) return;
  rank.resize(n - 1);
  auto lookup = [&](size_t i) {
    const PairMap::Value* v = merges_.find(syms[i], syms[i + 1]);
    return v ? *v : PairMap::Value{UINT32_MAX, -1};
  };
  for (size_t i = 0; i + 1 < n; ++i) rank[i] = lookup(i);
  size_t len = n;
  while (len > 1) {
    uint32_t best_rank = UINT32_MAX;
    size_t best = 0;
    for (size_t i = 0; i + 1 < len; ++i)
      if (rank[i].rank < best_rank) {
        best_rank = rank[i].rank;
        best = i;
      }
    if (best_rank == UINT32_MAX) break;
    syms[best] = rank[best].id;
    syms.erase(syms.begin() + long(best) + 1);
    rank.erase(rank.begin() + long(best));
    --len;
    if (best + 1 < len) rank[best] = lookup(best);
    if (best > 0) rank[best - 1] = lookup(best - 1);
  }
}

void BpeModel::merge_heap(std::vector<int32_t>& syms) const {
  // Long words: HF's priority-queue algorithm over a doubly linked list of symbols.
  struct Cand {
    uint32_t rank;
    uint32_t pos;
    int32_t id;
    bool operator<(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  const size_t n = syms.size();
  std::vector<int32_t> prev(n), next(n);
  std::vector<char> alive(n, 1);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = int32_t(i) - 1;
    next[i] = i + 1 < n ? int32_t(i + 1) : -1;
  }
  std::priority_queue<Cand> q;
  for (size_t i = 0; i + 1 < n; ++i)
    if (const PairMap::Value* v = merges_.find(syms[i], syms[i + 1])) q.push({v->rank, uint32_t(i), v->id});
  while (!q.empty()) {
    Cand c = q.top();
    q.pop();
    if (!alive[c.pos] || next[c.pos] < 0) continue;
    size_t r = size_t(next[c.pos]);
    const PairMap::Value* v = merges_.find(syms[c.pos], syms[r]);
    if (!v || v->id != c.id) continue;  // stale entry
    syms[c.pos] = c.id;
    alive[r] = 0;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[size_t(next[r])] = int32_t(c.pos);
    if (prev[c.pos] >= 0) {
      size_t p = size_t(prev[c.pos]);
      if (const PairMap::Value* pv = merges_.find(syms[p], syms[c.pos])) q.push({pv->rank, uint32_t(p), pv->id});
    }
    if (next[c.pos] >= 0) {
      if (const PairMap::Value* nv = merges_.find(syms[c.pos], syms[size_t(next[c.pos])]))
        q.push({nv->rank, c.pos, nv->id});
    }
  }
  size_t k = 0;
  for (int32_t i = 0; i >= 0; i = next[size_t(i)]) syms[k++] = syms[size_t(i)];
  syms.resize(k);
}

}  // namespace janus::tokenizers
