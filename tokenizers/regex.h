// Regex: a compiled PCRE2 pattern (UTF + Unicode properties, JIT) with Oniguruma-compatible
// meaning for the patterns found in tokenizer.json files.
//
// HF tokenizers compiles pre-tokenizer patterns with Oniguruma, where \s and \S use the Unicode
// White_Space property (U+0085 included); PCRE2's UCP \s differs, so \s / \S are rewritten to an
// explicit White_Space class before compiling. Everything else is passed to PCRE2 unchanged.
//
// Thread-safety: a Regex is immutable after construction; find_all may be called concurrently
// (match data and the JIT stack are per thread). Errors: the constructor throws
// std::invalid_argument naming the pattern and PCRE2's message; a match that exceeds PCRE2's
// resource limits throws std::runtime_error (never a crash).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace janus::tokenizers {

class Regex {
 public:
  // `pattern` is a regex as written in tokenizer.json ("Regex" patterns). Use literal() for
  // "String" patterns.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // A pattern that matches `text` literally.
  static std::string literal(std::string_view text);

  // Non-overlapping matches, left to right, as [begin, end) byte offsets into `s` (which must be
  // valid UTF-8). An empty match advances one character, as Oniguruma's find_iter does.
  void find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
  bool jit_ = false;
};

// Rewrites Oniguruma \s / \S into explicit White_Space classes (exposed for tests).
std::string translate_onig_pattern(const std::string& pattern);

}  // namespace janus::tokenizers
