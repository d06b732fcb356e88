#include "tokenizers/normalizer.h"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "tokenizers/byte_level.h"
#include "tokenizers/regex.h"
#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {

class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(NormForm f) : form_(f) {}
  void normalize(std::string& t) const override { t = unicode_normalize(t, form_); }

 private:
  NormForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void normalize(std::string& t) const override { t = unicode_lowercase(t); }
};

class Strip final : public Normalizer {
 public:
  Strip(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& t) const override {
    size_t b = 0, e = t.size();
    if (left_) {
      while (b < e) {
        size_t j = b;
        if (!unicode_is_whitespace(utf8_next(t, j))) break;
        b = j;
      }
    }
    if (right_) {
      while (e > b) {
        size_t j = e - 1;
        while (j > b && (static_cast<unsigned char>(t[j]) & 0xC0) == 0x80) --j;
        size_t k = j;
        if (!unicode_is_whitespace(utf8_next(t, k))) break;
        e = j;
      }
    }
    t = t.substr(b, e - b);
  }

 private:
  bool left_, right_;
};

// Removes combining marks (HF: is_combining_mark, i.e. general category M*), typically after NFD.
class StripAccents final : public Normalizer {
 public:
  StripAccents() : mark_("\\p{M}") {}
  void normalize(std::string& t) const override {
    std::vector<std::pair<size_t, size_t>> m;
    mark_.find_all(t, m);
    if (m.empty()) return;
    std::string r;
    size_t prev = 0;
    for (auto [b, e] : m) {
      r.append(t, prev, b - prev);
      prev = e;
    }
    r.append(t, prev, std::string::npos);
    t.swap(r);
  }

 private:
  Regex mark_;
};

class Replace final : public Normalizer {
 public:
  Replace(const std::string& pattern, std::string content) : re_(pattern), content_(std::move(content)) {}
  void normalize(std::string& t) const override {
    std::vector<std::pair<size_t, size_t>> m;
    re_.find_all(t, m);
    if (m.empty()) return;
    std::string r;
    size_t prev = 0;
    for (auto [b, e] : m) {
      if (b == e) continue;
      r.append(t, prev, b - prev);
      r += content_;
      prev = e;
    }
    r.append(t, prev, std::string::npos);
    t.swap(r);
  }

 private:
  Regex re_;
  std::string content_;
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string p) : p_(std::move(p)) {}
  void normalize(std::string& t) const override {
    if (!t.empty()) t.insert(0, p_);
  }

 private:
  std::string p_;
};

class ByteLevelNorm final : public Normalizer {
 public:
  void normalize(std::string& t) const override { t = byte_level_encode(t); }
};

class Sequence final : public Normalizer {
 public:
  explicit Sequence(std::vector<std::unique_ptr<Normalizer>> n) : n_(std::move(n)) {}
  void normalize(std::string& t) const override {
    for (const auto& n : n_) n->normalize(t);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> n_;
};

std::string pattern_of(const nlohmann::json& j) {
  const auto& p = j.at("pattern");
  if (p.contains("Regex")) return p.at("Regex").get<std::string>();
  return Regex::literal(p.at("String").get<std::string>());
}
}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.at("type").get<std::string>();
  if (type == "NFC") return std::make_unique<UnicodeForm>(NormForm::kNFC);
  if (type == "NFD") return std::make_unique<UnicodeForm>(NormForm::kNFD);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(NormForm::kNFKC);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(NormForm::kNFKD);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Strip") return std::make_unique<Strip>(j.value("strip_left", true), j.value("strip_right", true));
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Replace") return std::make_unique<Replace>(pattern_of(j), j.at("content").get<std::string>());
  if (type == "Prepend") return std::make_unique<Prepend>(j.at("prepend").get<std::string>());
  if (type == "ByteLevel") return std::make_unique<ByteLevelNorm>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> v;
    for (const auto& n : j.at("normalizers"))
      if (auto p = make_normalizer(n)) v.push_back(std::move(p));
    if (v.empty()) return nullptr;
    if (v.size() == 1) return std::move(v[0]);
    return std::make_unique<Sequence>(std::move(v));
  }
  throw std::invalid_argument("unsupported normalizer type \"" + type + "\"");
}

}  // namespace janus::tokenizers
