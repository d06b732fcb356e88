#include "tokenizers/pre_tokenizer.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizers/byte_level.h"
#include "tokenizers/regex.h"
#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

Behavior parse_behavior(const std::string& s) {
  if (s == "Removed") return Behavior::kRemoved;
  if (s == "Isolated") return Behavior::kIsolated;
  if (s == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return Behavior::kMergedWithNext;
  if (s == "Contiguous") return Behavior::kContiguous;
  throw std::invalid_argument("unknown split behavior \"" + s + "\"");
}

struct Span {
  size_t b, e;
  bool flag;  // is_match before the behavior fold; "remove" after it
};

// HF NormalizedString::split: `matches` are the pattern's matches inside p.text.
void split_piece(const Piece& p, const std::vector<std::pair<size_t, size_t>>& matches, Behavior behavior, bool invert,
                 std::vector<Piece>& out) {
  thread_local std::vector<Span> spans, folded;
  spans.clear();
  const size_t n = p.text.size();
  if (n == 0) return;
  size_t prev = 0;
  for (auto [b, e] : matches) {
    if (prev != b) spans.push_back({prev, b, invert});
    spans.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != n) spans.push_back({prev, n, invert});

  folded.clear();
  switch (behavior) {
    case Behavior::kIsolated:
      for (auto& s : spans) folded.push_back({s.b, s.e, false});
      break;
    case Behavior::kRemoved: folded = spans; break;
    case Behavior::kContiguous: {
      bool prev_match = false;
      for (auto& s : spans) {
        if (s.flag == prev_match && !folded.empty())
          folded.back().e = s.e;
        else
          folded.push_back({s.b, s.e, false});
        prev_match = s.flag;
      }
      break;
    }
    case Behavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (auto& s : spans) {
        if (s.flag && !prev_match && !folded.empty())
          folded.back().e = s.e;
        else
          folded.push_back({s.b, s.e, false});
        prev_match = s.flag;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool prev_match = false;
      for (size_t k = spans.size(); k-- > 0;) {
        const Span& s = spans[k];
        if (s.flag && !prev_match && !folded.empty())
          folded.back().b = s.b;
        else
          folded.push_back({s.b, s.e, false});
        prev_match = s.flag;
      }
      std::reverse(folded.begin(), folded.end());
      break;
    }
  }
  for (auto& s : folded) {
    if (s.flag || s.e == s.b) continue;
    out.push_back({p.text.substr(s.b, s.e - s.b), p.at_start && s.b == 0});
  }
}

// Applies `fn(piece, out)` to every piece.
template <class Fn>
void for_each_piece(std::vector<Piece>& pieces, Fn&& fn) {
  thread_local std::vector<Piece> next;
  next.clear();
  for (const Piece& p : pieces) fn(p, next);
  pieces.swap(next);
}

class RegexSplit final : public PreTokenizer {
 public:
  RegexSplit(const std::string& pattern, Behavior b, bool invert) : re_(pattern), behavior_(b), invert_(invert) {}
  void split(std::vector<Piece>& pieces, PieceArena&) const override {
    thread_local std::vector<std::pair<size_t, size_t>> m;
    for_each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      re_.find_all(p.text, m);
      split_piece(p, m, behavior_, invert_, out);
    });
  }

 private:
  Regex re_;
  Behavior behavior_;
  bool invert_;
};

// Splits on each character satisfying a predicate (HF's `impl Pattern for Fn(char) -> bool`).
template <class Pred>
class CharSplit final : public PreTokenizer {
 public:
  CharSplit(Pred pred, Behavior b) : pred_(pred), behavior_(b) {}
  void split(std::vector<Piece>& pieces, PieceArena&) const override {
    thread_local std::vector<std::pair<size_t, size_t>> m;
    for_each_piece(pieces, [&](const Piece& p, std::vector<Piece>& out) {
      m.clear();
      for (size_t i = 0; i < p.text.size();) {
        size_t b = i;
        uint32_t c = utf8_next(p.text, i);
        if (pred_(c)) m.emplace_back(b, i);
      }
      split_piece(p, m, behavior_, false, out);
    });
  }

 private:
  Pred pred_;
  Behavior behavior_;
};
template <class Pred>
std::unique_ptr<PreTokenizer> char_split(Pred p, Behavior b) {
  return std::make_unique<CharSplit<Pred>>(p, b);
}

class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex, bool map_now)
      : add_prefix_space_(add_prefix_space), map_now_(map_now) {
    if (use_regex)
      re_ =
          std::make_unique<Regex>("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
  }
  void split(std::vector<Piece>& pieces, PieceArena& arena) const override {
    thread_local std::vector<std::pair<size_t, size_t>> m;
    for_each_piece(pieces, [&](const Piece& in, std::vector<Piece>& out) {
      Piece p = in;
      if (add_prefix_space_ && (p.text.empty() || p.text[0] != ' ')) p.text = arena.keep(" " + std::string(p.text));
      size_t first = out.size();
      if (re_) {
        re_->find_all(p.text, m);
        split_piece(p, m, Behavior::kIsolated, false, out);
      } else if (!p.text.empty()) {
        out.push_back(p);
      }
      if (map_now_)
        for (size_t k = first; k < out.size(); ++k) out[k].text = arena.keep(byte_level_encode(out[k].text));
    });
  }

 private:
  bool add_prefix_space_, map_now_;
  std::unique_ptr<Regex> re_;
};

class Metaspace final : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  Metaspace(std::string replacement, Prepend scheme, bool split)
      : rep_(std::move(replacement)), scheme_(scheme), split_(split), re_(Regex::literal(rep_)) {}
  void split(std::vector<Piece>& pieces, PieceArena& arena) const override {
    thread_local std::vector<std::pair<size_t, size_t>> m;
    for_each_piece(pieces, [&](const Piece& in, std::vector<Piece>& out) {
      std::string t;
      t.reserve(in.text.size() + rep_.size());
      for (char c : in.text) {
        if (c == ' ')
          t += rep_;
        else
          t += c;
      }
      bool starts = t.compare(0, rep_.size(), rep_) == 0;
      if (!starts && (scheme_ == Prepend::kAlways || (scheme_ == Prepend::kFirst && in.at_start))) t.insert(0, rep_);
      Piece p{arena.keep(std::move(t)), in.at_start};
      if (!split_) {
        if (!p.text.empty()) out.push_back(p);
        return;
      }
      re_.find_all(p.text, m);
      split_piece(p, m, Behavior::kMergedWithNext, false, out);
    });
  }

 private:
  std::string rep_;
  Prepend scheme_;
  bool split_;
  Regex re_;
};

class Sequence final : public PreTokenizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<PreTokenizer>> s) : s_(std::move(s)) {}
  void split(std::vector<Piece>& pieces, PieceArena& arena) const override {
    for (const auto& s : s_) s->split(pieces, arena);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> s_;
};

std::string punct_pattern() { return "[\\p{P}!-/:-@\\[-`{-~]"; }

std::unique_ptr<PreTokenizer> make_one(const nlohmann::json& j, bool last, bool* byte_level_last) {
  const std::string type = j.at("type").get<std::string>();
  if (type == "Split") {
    const auto& p = j.at("pattern");
    std::string pat =
        p.contains("Regex") ? p.at("Regex").get<std::string>() : Regex::literal(p.at("String").get<std::string>());
    return std::make_unique<RegexSplit>(pat, parse_behavior(j.at("behavior").get<std::string>()),
                                        j.value("invert", false));
  }
  if (type == "ByteLevel") {
    if (last && byte_level_last) *byte_level_last = true;
    return std::make_unique<ByteLevel>(j.value("add_prefix_space", true), j.value("use_regex", true), !last);
  }
  if (type == "Digits") {
    bool individual = j.value("individual_digits", false);
    return char_split([](uint32_t c) { return c >= '0' && c <= '9'; },
                      individual ? Behavior::kIsolated : Behavior::kContiguous);
  }
  if (type == "Metaspace") {
    std::string rep = j.value("replacement", std::string("\xE2\x96\x81"));
    Metaspace::Prepend scheme = Metaspace::Prepend::kAlways;
    if (j.contains("prepend_scheme")) {
      std::string s = j.at("prepend_scheme").get<std::string>();
      scheme = s == "first"   ? Metaspace::Prepend::kFirst
               : s == "never" ? Metaspace::Prepend::kNever
                              : Metaspace::Prepend::kAlways;
    } else if (j.contains("add_prefix_space") && !j.at("add_prefix_space").get<bool>()) {
      scheme = Metaspace::Prepend::kNever;
    }
    return std::make_unique<Metaspace>(rep, scheme, j.value("split", true));
  }
  if (type == "Whitespace") return std::make_unique<RegexSplit>("\\w+|[^\\w\\s]+", Behavior::kRemoved, true);
  if (type == "WhitespaceSplit")
    return char_split([](uint32_t c) { return unicode_is_whitespace(c); }, Behavior::kRemoved);
  if (type == "CharDelimiterSplit")
    return std::make_unique<RegexSplit>(Regex::literal(j.at("delimiter").get<std::string>()), Behavior::kRemoved,
                                        false);
  if (type == "Punctuation")
    return std::make_unique<RegexSplit>(punct_pattern(), parse_behavior(j.value("behavior", std::string("Isolated"))),
                                        false);
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> v;
    v.push_back(char_split([](uint32_t c) { return unicode_is_whitespace(c); }, Behavior::kRemoved));
    v.push_back(std::make_unique<RegexSplit>(punct_pattern(), Behavior::kIsolated, false));
    return std::make_unique<Sequence>(std::move(v));
  }
  if (type == "Sequence") {
    const auto& arr = j.at("pretokenizers");
    std::vector<std::unique_ptr<PreTokenizer>> v;
    for (size_t k = 0; k < arr.size(); ++k) v.push_back(make_one(arr[k], last && k + 1 == arr.size(), byte_level_last));
    return std::make_unique<Sequence>(std::move(v));
  }
  throw std::invalid_argument("unsupported pre_tokenizer type \"" + type + "\"");
}
}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, bool* byte_level_last) {
  if (byte_level_last) *byte_level_last = false;
  if (j.is_null()) return nullptr;
  return make_one(j, true, byte_level_last);
}

}  // namespace janus::tokenizers
