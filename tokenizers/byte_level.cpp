#include "tokenizers/byte_level.h"

#include <array>

#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
struct Tables {
  std::array<uint32_t, 256> to_char{};
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 512> from_char{};  // alphabet code points are all < 0x144
  Tables() {
    from_char.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      to_char[b] = printable ? uint32_t(b) : uint32_t(256 + n++);
      from_char[to_char[b]] = int16_t(b);
      utf8_append(to_utf8[b], to_char[b]);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

uint32_t byte_level_char(uint8_t b) { return tables().to_char[b]; }

int byte_level_byte(uint32_t cp) { return cp < 512 ? tables().from_char[cp] : -1; }

std::string byte_level_encode(std::string_view bytes) {
  const Tables& t = tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += t.to_utf8[static_cast<uint8_t>(c)];
  return out;
}

bool byte_level_decode(std::string_view s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size();) {
    int b = byte_level_byte(utf8_next(s, i));
    if (b < 0) return false;
    out.push_back(char(b));
  }
  return true;
}

}  // namespace janus::tokenizers
