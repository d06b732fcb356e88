// JsonReader: a small, fast JSON scanner for the big arrays of tokenizer.json (model.vocab,
// model.merges), so loading does not build an nlohmann DOM of ~10^5 strings. Everything else is
// handed to nlohmann::json as raw text spans.
//
// Strict JSON (RFC 8259) for what it reads: escapes incl. \uXXXX surrogate pairs (a lone
// surrogate is an error), no raw control characters in strings. Errors throw
// std::invalid_argument("JSON at byte N: ..."). Not thread-safe (one reader per parse).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace janus::tokenizers {

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : s_(text) {}

  void skip_ws();
  // Consumes `c` after optional whitespace, or throws.
  void expect(char c);
  // True (and consumed) when the next non-space character is `c`.
  bool consume(char c);
  char peek();  // next non-space character (0 at end)
  // Reads a string value (the next token must be one).
  void read_string(std::string& out);
  int64_t read_int();
  // Skips any value and returns its raw text.
  std::string_view skip_value();
  bool at_end();
  size_t pos() const { return i_; }
  [[noreturn]] void fail(const std::string& what) const;

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace janus::tokenizers
