// libFuzzer target: tokenizer.json loading and encoding never crash.
// Input layout: byte 0 picks the mode.
//   even: the rest is "<tokenizer.json>\0<text>": load it (errors are fine), then encode the text
//         (invalid UTF-8 must be rejected with std::invalid_argument), decode and stream-decode
//         the ids, and decode the raw input bytes read as ids.
//   odd:  the rest is text encoded with the committed trained tokenizer and the Llama-2-style
//         byte-fallback tokenizer (fixtures), then decoded; valid UTF-8 must round-trip.
// Build: cmake -DJANUS_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang; run:
//   tests/fuzz/run_fuzzers.sh 30 fuzz_tokenizer   (seeds: tests/fuzz/corpus/tokenizer/)
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "tokenizers/stream_decoder.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/utf8.h"

using janus::tokenizers::StreamDecoder;
using janus::tokenizers::Tokenizer;

namespace {
void exercise(const Tokenizer& tok, const std::string& text) {
  std::vector<int32_t> ids;
  bool valid = janus::tokenizers::utf8_invalid_offset(text) == std::string::npos;
  try {
    ids = tok.encode(text, /*add_special=*/true);
  } catch (const std::invalid_argument&) {
    if (valid) throw;  // valid UTF-8 must encode (or fail on a regex resource limit)
    return;
  } catch (const std::runtime_error&) {
    return;  // PCRE2 resource limit on a pathological pattern
  }
  if (!valid) std::abort();  // invalid UTF-8 accepted silently
  std::string s = tok.decode(ids);
  if (janus::tokenizers::utf8_invalid_offset(s) != std::string::npos) std::abort();
  StreamDecoder sd(tok);
  for (int32_t id : ids) sd.step(id);
  sd.flush();
}

const Tokenizer& fixture_tokenizer(int which) {
  static const Tokenizer trained = Tokenizer::from_dir(std::string(JANUS_FIXTURES) + "/tokenizers/trained");
  static const Tokenizer fallback = Tokenizer::from_dir(std::string(JANUS_FIXTURES) + "/tokenizers/bytefallback");
  return which ? fallback : trained;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const char* p = reinterpret_cast<const char*>(data) + 1;
  const size_t n = size - 1;
  if (data[0] & 1) {
    std::string text(p, n);
    for (int which = 0; which < 2; ++which) {
      const Tokenizer& tok = fixture_tokenizer(which);
      exercise(tok, text);
      if (janus::tokenizers::utf8_invalid_offset(text) == std::string::npos && which == 0 &&
          tok.decode(tok.encode(text)) != text)
        std::abort();  // byte-level BPE without a normalizer must round-trip exactly
    }
    return 0;
  }
  const char* sep = static_cast<const char*>(std::memchr(p, 0, n));
  std::string json(p, sep ? size_t(sep - p) : n);
  std::string text = sep ? std::string(sep + 1, p + n) : std::string("Hello, world! 123 <s>");
  // Ids with 8+ digits would make the vocabulary table huge (legal but slow); skip them.
  size_t run = 0;
  for (char c : json) {
    run = (c >= '0' && c <= '9') ? run + 1 : 0;
    if (run >= 8) return 0;
  }
  try {
    Tokenizer tok = Tokenizer::from_json(json, {}, "fuzz.json");
    exercise(tok, text);
    std::vector<int32_t> raw_ids;
    for (size_t k = 0; k + 2 <= n && raw_ids.size() < 64; k += 2)
      raw_ids.push_back(int32_t(data[1 + k] | (data[2 + k] << 8)) - 8);
    tok.decode(raw_ids);
  } catch (const std::invalid_argument&) {
  } catch (const std::runtime_error&) {
  }
  return 0;
}
