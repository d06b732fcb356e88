#include "tokenizers/decoder.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizers/byte_level.h"
#include "tokenizers/regex.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {

class ByteLevelDec final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes, raw;
    for (const auto& t : tokens) {
      // A token with a character outside the byte alphabet contributes its UTF-8 bytes as is.
      if (byte_level_decode(t, raw))
        bytes += raw;
      else
        bytes += t;
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class MetaspaceDec final : public Decoder {
 public:
  MetaspaceDec(std::string rep, bool prepend) : rep_(std::move(rep)), prepend_(prepend) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string r;
      const std::string& t = tokens[i];
      for (size_t k = 0; k < t.size();) {
        if (!rep_.empty() && t.compare(k, rep_.size(), rep_) == 0) {
          if (!(i == 0 && prepend_)) r += ' ';
          k += rep_.size();
        } else {
          r += t[k++];
        }
      }
      tokens[i].swap(r);
    }
  }

 private:
  std::string rep_;
  bool prepend_;
};

class ReplaceDec final : public Decoder {
 public:
  ReplaceDec(const std::string& pattern, std::string content) : re_(pattern), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::pair<size_t, size_t>> m;
    for (auto& t : tokens) {
      re_.find_all(t, m);
      if (m.empty()) continue;
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
  }

 private:
  Regex re_;
  std::string content_;
};

class ByteFallbackDec final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flush = [&] {
      if (pending.empty()) return;
      if (utf8_invalid_offset(pending) == std::string::npos)
        out.push_back(pending);
      else
        for (size_t k = 0; k < pending.size(); ++k) out.push_back("\xEF\xBF\xBD");
      pending.clear();
    };
    for (auto& t : tokens) {
      int byte = -1;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
        auto hex = [](char c) {
          return c >= '0' && c <= '9'   ? c - '0'
                 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                        : -1;
        };
        int hi = hex(t[3]), lo = hex(t[4]);
        if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
      }
      if (byte >= 0) {
        pending.push_back(char(byte));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens.swap(out);
  }
};

class FuseDec final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (auto& t : tokens) all += t;
    tokens.assign(1, all);
  }
};

class StripDec final : public Decoder {
 public:
  StripDec(uint32_t content, size_t start, size_t stop) : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::vector<uint32_t> cps;
      for (size_t i = 0; i < t.size();) cps.push_back(utf8_next(t, i));
      size_t b = 0, e = cps.size();
      while (b < e && b < start_ && cps[b] == content_) ++b;
      size_t cut = 0;
      while (e > b && cut < stop_ && cps[e - 1] == content_) {
        --e;
        ++cut;
      }
      std::string r;
      for (size_t k = b; k < e; ++k) utf8_append(r, cps[k]);
      t.swap(r);
    }
  }

 private:
  uint32_t content_;
  size_t start_, stop_;
};

class WordPieceDec final : public Decoder {
 public:
  WordPieceDec(std::string prefix, bool cleanup) : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.compare(0, prefix_.size(), prefix_) == 0)
          t.erase(0, prefix_.size());
        else
          t.insert(0, " ");
      }
      if (cleanup_) t = cleanup(t);
    }
  }

 private:
  static std::string cleanup(const std::string& s) {
    static const std::pair<const char*, const char*> kRules[] = {
        {" .", "."},   {" ?", "?"},           {" !", "!"},   {" ,", ","},     {" ' ", "'"},   {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    std::string r = s;
    for (auto [from, to] : kRules) {
      std::string out;
      size_t pos = 0, f;
      std::string fs(from);
      while ((f = r.find(fs, pos)) != std::string::npos) {
        out.append(r, pos, f - pos);
        out += to;
        pos = f + fs.size();
      }
      out.append(r, pos, std::string::npos);
      r.swap(out);
    }
    return r;
  }
  std::string prefix_;
  bool cleanup_;
};

class SequenceDec final : public Decoder {
 public:
  explicit SequenceDec(std::vector<std::unique_ptr<Decoder>> d) : d_(std::move(d)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& d : d_) d->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> d_;
};
}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j) {
  if (j.is_null()) return nullptr;
  const std::string type = j.at("type").get<std::string>();
  if (type == "ByteLevel") return std::make_unique<ByteLevelDec>();
  if (type == "Metaspace") {
    bool prepend = true;
    if (j.contains("prepend_scheme"))
      prepend = j.at("prepend_scheme").get<std::string>() != "never";
    else if (j.contains("add_prefix_space"))
      prepend = j.at("add_prefix_space").get<bool>();
    return std::make_unique<MetaspaceDec>(j.value("replacement", std::string("\xE2\x96\x81")), prepend);
  }
  if (type == "Replace") {
    const auto& p = j.at("pattern");
    std::string pat =
        p.contains("Regex") ? p.at("Regex").get<std::string>() : Regex::literal(p.at("String").get<std::string>());
    return std::make_unique<ReplaceDec>(pat, j.at("content").get<std::string>());
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDec>();
  if (type == "Fuse") return std::make_unique<FuseDec>();
  if (type == "Strip") {
    std::string c = j.at("content").get<std::string>();
    size_t i = 0;
    uint32_t cp = c.empty() ? 0 : utf8_next(c, i);
    return std::make_unique<StripDec>(cp, j.value("start", size_t(0)), j.value("stop", size_t(0)));
  }
  if (type == "WordPiece")
    return std::make_unique<WordPieceDec>(j.value("prefix", std::string("##")), j.value("cleanup", true));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> v;
    for (const auto& d : j.at("decoders"))
      if (auto p = make_decoder(d)) v.push_back(std::move(p));
    return std::make_unique<SequenceDec>(std::move(v));
  }
  throw std::invalid_argument("unsupported decoder type \"" + type + "\"");
}

}  // namespace janus::tokenizers
