#include "tokenizers/added_vocabulary.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
// Last / first character of a valid UTF-8 string.
uint32_t last_char(std::string_view s) {
  size_t j = s.size() - 1;
  while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
  return utf8_next(s, j);
}
uint32_t first_char(std::string_view s) {
  size_t j = 0;
  return utf8_next(s, j);
}
bool is_word_char(uint32_t c) { return c == '_' || unicode_is_alphanumeric(c); }
}  // namespace

void AddedVocabulary::Trie::add(const std::string& pattern, int32_t token) {
  if (pattern.empty()) return;
  if (nodes.empty()) nodes.emplace_back();
  size_t cur = 0;
  for (unsigned char c : pattern) {
    auto& nx = nodes[cur].next;
    auto it = std::lower_bound(nx.begin(), nx.end(), std::make_pair(c, int32_t(-1)),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it != nx.end() && it->first == c) {
      cur = size_t(it->second);
      continue;
    }
    int32_t idx = int32_t(nodes.size());
    nx.insert(it, {c, idx});
    nodes.emplace_back();
    cur = size_t(idx);
  }
  // When two tokens share a content the first one listed keeps it.
  if (nodes[cur].token < 0) nodes[cur].token = token;
  patterns.push_back(pattern);
  first_byte[static_cast<unsigned char>(pattern[0])] = true;
}

size_t AddedVocabulary::Trie::longest_at(std::string_view s, size_t pos, int32_t* token) const {
  size_t cur = 0, best = 0;
  for (size_t i = pos; i < s.size(); ++i) {
    const auto& nx = nodes[cur].next;
    unsigned char c = static_cast<unsigned char>(s[i]);
    auto it = std::lower_bound(nx.begin(), nx.end(), std::make_pair(c, int32_t(-1)),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    if (it == nx.end() || it->first != c) break;
    cur = size_t(it->second);
    if (nodes[cur].token >= 0) {
      best = i + 1 - pos;
      *token = nodes[cur].token;
    }
  }
  return best;
}

AddedVocabulary::AddedVocabulary(const nlohmann::json& added, const std::function<void(std::string&)>& normalize) {
  if (added.is_null()) return;
  for (const auto& t : added) {
    AddedToken a;
    a.content = t.at("content").get<std::string>();
    utf8_check(a.content, "added token");
    int64_t id = t.at("id").get<int64_t>();
    if (id < 0 || id > (1 << 28)) throw std::invalid_argument("added token id out of range: \"" + a.content + "\"");
    a.id = int32_t(id);
    a.special = t.value("special", false);
    a.lstrip = t.value("lstrip", false);
    a.rstrip = t.value("rstrip", false);
    a.single_word = t.value("single_word", false);
    a.normalized = t.value("normalized", !a.special);
    tokens_.push_back(std::move(a));
  }
  for (size_t k = tokens_.size(); k-- > 0;) {
    by_content_.insert(tokens_[k].content, int32_t(k));
    by_id_[tokens_[k].id] = k;
  }
  for (size_t k = 0; k < tokens_.size(); ++k) {
    const AddedToken& a = tokens_[k];
    if (!a.normalized) {
      raw_.add(a.content, int32_t(k));
    } else {
      std::string p = a.content;
      if (normalize) normalize(p);
      norm_.add(p, int32_t(k));
    }
  }
}

int32_t AddedVocabulary::token_to_id(std::string_view content) const {
  int32_t k = by_content_.find(content);
  return k < 0 ? -1 : tokens_[size_t(k)].id;
}

const AddedToken* AddedVocabulary::by_id(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

void AddedVocabulary::split(std::string_view s, bool normalized_set, std::vector<TextSplit>& out) const {
  const Trie& trie = normalized_set ? norm_ : raw_;
  size_t start_offset = 0;
  if (!trie.nodes.empty()) {
    size_t pos = 0;
    while (pos < s.size()) {
      if (!trie.first_byte[static_cast<unsigned char>(s[pos])]) {
        ++pos;
        continue;
      }
      int32_t k = -1;
      size_t len = trie.longest_at(s, pos, &k);
      if (len == 0) {
        ++pos;
        continue;
      }
      const AddedToken& t = tokens_[size_t(k)];
      size_t start = pos, stop = pos + len;
      // The search resumes after the match whatever the flags decide (aho-corasick find_iter).
      pos = stop;
      if (t.single_word) {
        bool start_space = start == 0 || !is_word_char(last_char(s.substr(0, start)));
        bool stop_space = stop == s.size() || !is_word_char(first_char(s.substr(stop)));
        if (!start_space || !stop_space) continue;
      }
      if (t.lstrip) {
        size_t ns = start;
        while (ns > 0) {
          size_t j = ns - 1;
          while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
          size_t k2 = j;
          if (!unicode_is_whitespace(utf8_next(s, k2))) break;
          ns = j;
        }
        start = std::max(ns, start_offset);
      }
      if (t.rstrip) {
        while (stop < s.size()) {
          size_t j = stop;
          if (!unicode_is_whitespace(utf8_next(s, j))) break;
          stop = j;
        }
      }
      if (start_offset < start) out.push_back({start_offset, start, -1});
      out.push_back({start, stop, t.id});
      start_offset = stop;
    }
  }
  if (start_offset < s.size()) out.push_back({start_offset, s.size(), -1});
}

}  // namespace janus::tokenizers
