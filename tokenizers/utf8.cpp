#include "tokenizers/utf8.h"

#include <stdexcept>

namespace janus::tokenizers {
namespace {
// Length of the valid UTF-8 sequence at s[i], or 0 if invalid; `maximal` receives the length of
// the maximal prefix of a valid sequence (at least 1), per the Unicode "maximal subpart" rule.
size_t seq_len(const unsigned char* p, size_t n, size_t i, size_t* maximal) {
  unsigned char b = p[i];
  *maximal = 1;
  if (b < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF)
    need = 2;
  else if (b == 0xE0) {
    need = 3;
    lo = 0xA0;
  } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF)
    need = 3;
  else if (b == 0xED) {
    need = 3;
    hi = 0x9F;
  } else if (b == 0xF0) {
    need = 4;
    lo = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3)
    need = 4;
  else if (b == 0xF4) {
    need = 4;
    hi = 0x8F;
  } else
    return 0;
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= n) return 0;
    unsigned char c = p[i + k];
    unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (c < l || c > h) return 0;
    *maximal = k + 1;
  }
  return need;
}
}  // namespace

size_t utf8_invalid_offset(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size(), i = 0, m;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, p + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    size_t l = seq_len(p, n, i, &m);
    if (l == 0) return i;
    i += l;
  }
  return std::string_view::npos;
}

void utf8_check(std::string_view s, const char* what) {
  size_t off = utf8_invalid_offset(s);
  if (off != std::string_view::npos)
    throw std::invalid_argument(std::string(what) + ": invalid UTF-8 at byte " + std::to_string(off));
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80)
    out.push_back(char(cp));
  else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

std::string utf8_lossy(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size(), i = 0, m;
  std::string out;
  out.reserve(n);
  while (i < n) {
    if (p[i] < 0x80) {
      out.push_back(char(p[i++]));
      continue;
    }
    size_t l = seq_len(p, n, i, &m);
    if (l) {
      out.append(bytes.data() + i, l);
      i += l;
    } else {
      out += "\xEF\xBF\xBD";
      i += m;
    }
  }
  return out;
}

size_t utf8_incomplete_tail(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    unsigned char b = p[n - k];
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    if (b < 0xC2 || b > 0xF4) return 0;
    size_t need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (need <= k) return 0;
    size_t m;
    // A valid prefix of a sequence: seq_len reports how far it stayed valid.
    seq_len(p, n, n - k, &m);
    return m == k ? k : 0;
  }
  return 0;
}

}  // namespace janus::tokenizers
