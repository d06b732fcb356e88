#include "tokenizers/json_reader.h"

#include <cstring>
#include <stdexcept>

#include "tokenizers/utf8.h"

namespace janus::tokenizers {

void JsonReader::fail(const std::string& what) const {
  throw std::invalid_argument("JSON at byte " + std::to_string(i_) + ": " + what);
}

void JsonReader::skip_ws() {
  while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
}

char JsonReader::peek() {
  skip_ws();
  return i_ < s_.size() ? s_[i_] : 0;
}

bool JsonReader::at_end() {
  skip_ws();
  return i_ >= s_.size();
}

void JsonReader::expect(char c) {
  if (peek() != c) fail(std::string("expected '") + c + "'");
  ++i_;
}

bool JsonReader::consume(char c) {
  if (peek() != c) return false;
  ++i_;
  return true;
}

namespace {
int hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) return -1;
  int v = 0;
  for (size_t k = 0; k < 4; ++k) {
    char c = s[i + k];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}
}  // namespace

void JsonReader::read_string(std::string& out) {
  expect('"');
  out.clear();
  while (true) {
    // Copy the run up to the next quote, backslash or control character.
    size_t j = i_;
    while (j < s_.size() && s_[j] != '"' && s_[j] != '\\' && static_cast<unsigned char>(s_[j]) >= 0x20) ++j;
    out.append(s_.data() + i_, j - i_);
    i_ = j;
    if (i_ >= s_.size()) fail("unterminated string");
    char c = s_[i_];
    if (c == '"') {
      ++i_;
      return;
    }
    if (c != '\\') fail("control character in string");
    if (++i_ >= s_.size()) fail("unterminated escape");
    char e = s_[i_++];
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case '/': out += '/'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        int cp = hex4(s_, i_);
        if (cp < 0) fail("bad \\u escape");
        i_ += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail("lone surrogate in \\u escape");
          int lo = hex4(s_, i_ + 2);
          if (lo < 0xDC00 || lo > 0xDFFF) fail("lone surrogate in \\u escape");
          i_ += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          fail("lone surrogate in \\u escape");
        }
        utf8_append(out, uint32_t(cp));
        break;
      }
      default: fail("bad escape");
    }
  }
}

int64_t JsonReader::read_int() {
  skip_ws();
  size_t b = i_;
  bool neg = i_ < s_.size() && s_[i_] == '-';
  if (neg) ++i_;
  int64_t v = 0;
  size_t digits = 0;
  while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
    if (++digits > 15) fail("integer too large");
    v = v * 10 + (s_[i_++] - '0');
  }
  if (digits == 0) {
    i_ = b;
    fail("expected an integer");
  }
  if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) fail("expected an integer");
  return neg ? -v : v;
}

std::string_view JsonReader::skip_value() {
  skip_ws();
  size_t b = i_;
  int depth = 0;
  do {
    if (i_ >= s_.size()) fail("unexpected end");
    char c = s_[i_];
    if (c == '"') {
      ++i_;
      while (true) {
        const void* q = std::memchr(s_.data() + i_, '"', s_.size() - i_);
        if (!q) fail("unterminated string");
        size_t k = size_t(static_cast<const char*>(q) - s_.data());
        size_t bs = 0;
        while (k - bs > i_ && s_[k - bs - 1] == '\\') ++bs;
        i_ = k + 1;
        if (bs % 2 == 0) break;
      }
    } else if (c == '{' || c == '[') {
      ++depth;
      ++i_;
    } else if (c == '}' || c == ']') {
      if (--depth < 0) fail("unbalanced brackets");
      ++i_;
    } else if (depth == 0 && (c == ',' || c == ':')) {
      break;
    } else {
      ++i_;
    }
    if (depth == 0) {
      // A scalar ends at a delimiter; a container or string just ended.
      if (c == '"' || c == '}' || c == ']') break;
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ' && s_[i_] != '\n' &&
             s_[i_] != '\r' && s_[i_] != '\t')
        ++i_;
      break;
    }
  } while (true);
  if (i_ == b) fail("expected a value");
  return s_.substr(b, i_ - b);
}

}  // namespace janus::tokenizers
