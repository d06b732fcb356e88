#include "tokenizers/unicode.h"

#include <algorithm>
#include <vector>

#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
struct DecompEntry {
  uint32_t cp, offset, len;
};
struct ComposeEntry {
  uint64_t key;
  uint32_t composite;
};
#include "tokenizers/unicode_data.inc"

constexpr uint16_t kInertNfc = 1 << 8, kInertNfkc = 1 << 9, kWhite = 1 << 10, kAlnum = 1 << 11;
// Hangul syllable algorithm constants (Unicode §3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

inline uint16_t props(uint32_t cp) {
  if (cp >= 0x110000) return 0;
  return kStage2[size_t(kStage1[cp >> 8]) * 256 + (cp & 0xFF)];
}

const DecompEntry* find_entry(const DecompEntry* t, size_t n, uint32_t cp) {
  const DecompEntry* e = std::lower_bound(t, t + n, cp, [](const DecompEntry& a, uint32_t c) { return a.cp < c; });
  return (e != t + n && e->cp == cp) ? e : nullptr;
}

void decompose_into(uint32_t cp, bool compat, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  const DecompEntry* e =
      compat ? find_entry(kCompat, std::size(kCompat), cp) : find_entry(kCanon, std::size(kCanon), cp);
  if (!e) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), kDecompPool + e->offset, kDecompPool + e->offset + e->len);
}

uint32_t compose_pair(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount)
    return a + (b - kTBase);
  uint64_t key = (uint64_t(a) << 21) | b;
  const ComposeEntry* e = std::lower_bound(kCompose, kCompose + std::size(kCompose), key,
                                           [](const ComposeEntry& x, uint64_t k) { return x.key < k; });
  return (e != kCompose + std::size(kCompose) && e->key == key) ? e->composite : 0;
}
}  // namespace

uint8_t unicode_ccc(uint32_t cp) { return uint8_t(props(cp) & 0xFF); }
bool unicode_is_whitespace(uint32_t cp) { return props(cp) & kWhite; }
bool unicode_is_alphanumeric(uint32_t cp) { return props(cp) & kAlnum; }

std::string unicode_normalize(std::string_view s, NormForm form) {
  const bool compat = form == NormForm::kNFKC || form == NormForm::kNFKD;
  const bool compose = form == NormForm::kNFC || form == NormForm::kNFKC;
  const uint16_t inert = compat ? kInertNfkc : kInertNfc;
  const DecompEntry* table = compat ? kCompat : kCanon;
  const size_t table_n = compat ? std::size(kCompat) : std::size(kCanon);
  auto stable = [&](uint32_t cp) {
    uint16_t p = props(cp);
    if (compose) return (p & inert) != 0;
    if ((p & 0xFF) != 0 || (cp >= kSBase && cp < kSBase + kSCount)) return false;
    return find_entry(table, table_n, cp) == nullptr;
  };
  // Fast path: every character is stable under the form (ASCII always is).
  bool all_stable = true;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!stable(utf8_next(s, i))) {
      all_stable = false;
      break;
    }
  }
  if (all_stable) return std::string(s);

  // 1. Full decomposition.
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t i = 0; i < s.size();) decompose_into(utf8_next(s, i), compat, cps);
  // 2. Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t a = 0; a < cps.size();) {
    if (unicode_ccc(cps[a]) == 0) {
      ++a;
      continue;
    }
    size_t b = a;
    while (b < cps.size() && unicode_ccc(cps[b]) != 0) ++b;
    std::stable_sort(cps.begin() + a, cps.begin() + b,
                     [](uint32_t x, uint32_t y) { return unicode_ccc(x) < unicode_ccc(y); });
    a = b;
  }
  // 3. Canonical composition (UAX #15 reference algorithm).
  if (compose && !cps.empty()) {
    size_t starter = 0, out = 1;
    int last_class = unicode_ccc(cps[0]) ? 256 : 0;
    for (size_t k = 1; k < cps.size(); ++k) {
      uint32_t c = cps[k];
      int cls = unicode_ccc(c);
      uint32_t comp = compose_pair(cps[starter], c);
      if (comp && (last_class < cls || last_class == 0)) {
        cps[starter] = comp;
        continue;
      }
      if (cls == 0) starter = out;
      last_class = cls;
      cps[out++] = c;
    }
    cps.resize(out);
  }
  std::string r;
  r.reserve(s.size() + 8);
  for (uint32_t c : cps) utf8_append(r, c);
  return r;
}

std::string unicode_lowercase(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      r.push_back(char(b >= 'A' && b <= 'Z' ? b + 32 : b));
      ++i;
      continue;
    }
    uint32_t cp = utf8_next(s, i);
    const DecompEntry* e = find_entry(kLower, std::size(kLower), cp);
    if (!e) {
      utf8_append(r, cp);
      continue;
    }
    for (uint32_t k = 0; k < e->len; ++k) utf8_append(r, kDecompPool[e->offset + k]);
  }
  return r;
}

}  // namespace janus::tokenizers
