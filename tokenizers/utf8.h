// UTF-8 helpers shared by the tokenizer room: validation with a precise error, code point
// iteration, encoding, and Rust-compatible lossy decoding (String::from_utf8_lossy).
//
// All functions are pure and thread-safe. Strings are std::string / std::string_view holding bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace janus::tokenizers {

// Returns the byte offset of the first invalid UTF-8 sequence in `s`, or npos when `s` is valid
// (overlong forms, surrogates U+D800..U+DFFF and code points above U+10FFFF are invalid).
size_t utf8_invalid_offset(std::string_view s);

// Throws std::invalid_argument("<what>: invalid UTF-8 at byte N") when `s` is not valid UTF-8.
void utf8_check(std::string_view s, const char* what);

// Decodes the code point starting at s[i] (s must be valid UTF-8) and advances i past it.
inline uint32_t utf8_next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  uint32_t c = p[i];
  if (c < 0x80) {
    i += 1;
    return c;
  }
  if (c < 0xE0) {
    uint32_t r = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);
    i += 2;
    return r;
  }
  if (c < 0xF0) {
    uint32_t r = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
    i += 3;
    return r;
  }
  uint32_t r = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
  i += 4;
  return r;
}

// Length in bytes of the UTF-8 sequence introduced by lead byte `b` (1 for continuation bytes).
inline size_t utf8_len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? (b < 0xC0 ? 1 : 2) : b < 0xF0 ? 3 : 4; }

// Appends the UTF-8 encoding of code point `cp` to `out`.
void utf8_append(std::string& out, uint32_t cp);

// Decodes bytes to valid UTF-8 replacing each maximal invalid subsequence by U+FFFD, exactly as
// Rust's String::from_utf8_lossy (and so HF tokenizers' decoders) do.
std::string utf8_lossy(std::string_view bytes);

// Number of bytes at the end of `s` that form an incomplete (but so far valid) UTF-8 sequence:
// 0 when `s` ends on a character boundary. Used by StreamDecoder to hold partial characters.
size_t utf8_incomplete_tail(std::string_view s);

}  // namespace janus::tokenizers
