// Unicode services the tokenizers need without ICU: the four normalization forms, per-character
// lowercase (Rust char::to_lowercase), White_Space, and an alphanumeric test.
//
// Tables are generated from Python's unicodedata (see gen_unicode_tables.py, unicode_data.inc).
// Inputs must be valid UTF-8 (the tokenizer validates first). All functions are thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace janus::tokenizers {

enum class NormForm { kNFC, kNFD, kNFKC, kNFKD };

// Returns `s` in the given normalization form (UAX #15). Fast path: text made only of characters
// that are stable under the form is returned unchanged without decomposition.
std::string unicode_normalize(std::string_view s, NormForm form);

// Per-character full lowercase mapping, as HF's Lowercase normalizer (no final-sigma context).
std::string unicode_lowercase(std::string_view s);

// Rust char::is_whitespace (the White_Space property).
bool unicode_is_whitespace(uint32_t cp);

// Approximates Rust char::is_alphanumeric (letters and numbers); used by single_word tokens.
bool unicode_is_alphanumeric(uint32_t cp);

// Canonical combining class.
uint8_t unicode_ccc(uint32_t cp);

}  // namespace janus::tokenizers
