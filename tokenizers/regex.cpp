#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizers/regex.h"

#include <pcre2.h>

#include <stdexcept>

#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
// The Unicode White_Space property, as Oniguruma's \s matches it.
constexpr const char* kSpaceBody =
    "\\x{9}-\\x{d}\\x{20}\\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}"
    "\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}";

#include "tokenizers/onig_classes.inc"

// Extra code points for \p{X} (X one of L N P S M), or nullptr.
const char* onig_extra(char cls) {
  switch (cls) {
    case 'L': return kOnigExtraL;
    case 'N': return kOnigExtraN;
    case 'P': return kOnigExtraP;
    case 'S': return kOnigExtraS;
    case 'M': return kOnigExtraM;
    default: return nullptr;
  }
}

struct ThreadMatchState {
  pcre2_match_data* md = nullptr;
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* ctx = nullptr;
  ThreadMatchState() {
    md = pcre2_match_data_create(4, nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    ctx = pcre2_match_context_create(nullptr);
    pcre2_jit_stack_assign(ctx, nullptr, stack);
  }
  ~ThreadMatchState() {
    pcre2_match_context_free(ctx);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(md);
  }
};

ThreadMatchState& thread_state() {
  thread_local ThreadMatchState st;
  return st;
}
}  // namespace

std::string translate_onig_pattern(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[i + 1];
      if (n == 's' || n == 'S') {
        if (!in_class)
          out += n == 's' ? std::string("[") + kSpaceBody + "]" : std::string("[^") + kSpaceBody + "]";
        else if (n == 's')
          out += kSpaceBody;
        else
          out += "\\S";  // rare inside a class; keep PCRE2's meaning
        ++i;
        continue;
      }
      // \p{X} / \P{X} for a general category whose Unicode version lags Oniguruma's.
      if ((n == 'p' || n == 'P') && i + 4 < p.size() && p[i + 2] == '{' && p[i + 4] == '}' && onig_extra(p[i + 3])) {
        std::string prop = p.substr(i, 5);
        const char* extra = onig_extra(p[i + 3]);
        if (n == 'p')
          out += in_class ? prop + extra : "[" + prop + extra + "]";
        else if (!in_class)
          out += std::string("[^\\p{") + p[i + 3] + "}" + extra + "]";
        else
          out += prop;  // negated property inside a class: keep PCRE2's meaning
        i += 4;
        continue;
      }
      out += c;
      out += n;
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < p.size() && p[i + 1] == '^') {
        out += '^';
        ++i;
      }
      if (i + 1 < p.size() && p[i + 1] == ']') {
        out += ']';
        ++i;
      }
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // POSIX [:alpha:]
      size_t e = p.find(":]", i + 2);
      if (e != std::string::npos) {
        out.append(p, i, e + 2 - i);
        i = e + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

std::string Regex::literal(std::string_view text) {
  std::string out;
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      out += '\\';
    out += c;
  }
  return out;
}

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  utf8_check(pattern, "regex pattern");
  std::string t = translate_onig_pattern(pattern);
  int err = 0;
  PCRE2_SIZE off = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(t.data()), t.size(), PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    throw std::invalid_argument("regex \"" + pattern + "\": " + reinterpret_cast<char*>(buf) + " at offset " +
                                std::to_string(off));
  }
  code_ = code;
  jit_ = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::find_all(std::string_view s, std::vector<std::pair<size_t, size_t>>& out) const {
  out.clear();
  ThreadMatchState& st = thread_state();
  auto* code = static_cast<pcre2_code*>(code_);
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  const size_t n = s.size();
  size_t last_match_end = std::string_view::npos;
  // Mirrors the onig crate's FindMatches: an empty match right where the previous match ended is
  // skipped by stepping one character forward.
  while (pos <= n) {
    int rc = jit_ ? pcre2_jit_match(code, subject, n, pos, 0, st.md, st.ctx)
                  : pcre2_match(code, subject, n, pos, PCRE2_NO_UTF_CHECK, st.md, st.ctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(rc, buf, sizeof buf);
      throw std::runtime_error("regex \"" + pattern_ + "\": match failed: " + reinterpret_cast<char*>(buf));
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(st.md);
    size_t b = ov[0], e = ov[1];
    if (e == b && last_match_end == e) {
      pos += pos < n ? utf8_len(static_cast<unsigned char>(s[pos])) : 1;
      continue;
    }
    pos = e;
    last_match_end = e;
    out.emplace_back(b, e);
  }
}

}  // namespace janus::tokenizers
