// GPT-2 byte-level alphabet: the bijection between the 256 byte values and 256 printable code
// points that ByteLevel pre-tokenizers and decoders use (printable Latin-1 maps to itself, the
// rest to U+0100.. in order).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace janus::tokenizers {

// The code point that byte `b` is written as.
uint32_t byte_level_char(uint8_t b);

// The byte that code point `cp` stands for, or -1 when `cp` is outside the alphabet.
int byte_level_byte(uint32_t cp);

// Maps raw bytes to their byte-level string ("Ġhello" for " hello").
std::string byte_level_encode(std::string_view bytes);

// Maps a byte-level string back to raw bytes; false (out unspecified) when `s` holds a character
// outside the alphabet. `s` must be valid UTF-8.
bool byte_level_decode(std::string_view s, std::string& out);

}  // namespace janus::tokenizers
