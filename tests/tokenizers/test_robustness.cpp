// Hostile input: invalid UTF-8 gets a clear error (never a silent replacement or a crash),
// malformed tokenizer.json files are rejected with the file named, long inputs stay exact.
#include <gtest/gtest.h>

#include <functional>

#include "tests/error_of.h"
#include "tests/tokenizers/fixtures.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
using testing::fixture;
using testing::shared_tokenizer;

using janus::test_util::error_of;

TEST(Robustness, InvalidUtf8IsRejectedWithTheByteOffset) {
  Tokenizer tok = Tokenizer::from_dir(shared_tokenizer("qwen3"));
  EXPECT_EQ(error_of([&] { tok.encode("ok\xFFok"); }), "encode: invalid UTF-8 at byte 2");
  EXPECT_EQ(error_of([&] { tok.encode("\xC0\xAF"); }), "encode: invalid UTF-8 at byte 0");            // overlong
  EXPECT_EQ(error_of([&] { tok.encode("a\xED\xA0\x80"); }), "encode: invalid UTF-8 at byte 1");       // surrogate
  EXPECT_EQ(error_of([&] { tok.encode("ab\xF4\x90\x80\x80"); }), "encode: invalid UTF-8 at byte 2");  // > U+10FFFF
  EXPECT_EQ(error_of([&] { tok.encode("abc\xE4\xB8"); }), "encode: invalid UTF-8 at byte 3");         // truncated
}

TEST(Robustness, Utf8LossyMatchesRustMaximalSubpartRule) {
  EXPECT_EQ(utf8_lossy("a\xF0\x9F\x98"), "a\xEF\xBF\xBD");        // one truncated sequence: one U+FFFD
  EXPECT_EQ(utf8_lossy("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // two invalid bytes: two
  EXPECT_EQ(utf8_lossy("\xE0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // E0 80 is not a valid prefix
  EXPECT_EQ(utf8_incomplete_tail("x\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8_incomplete_tail("x\xF0\x9F\x98\x80"), 0u);
}

TEST(Robustness, DecodingBrokenByteRunsGivesReplacementCharacters) {
  Tokenizer tok = Tokenizer::from_dir(shared_tokenizer("llama3_1"));
  std::vector<int32_t> ids = tok.encode("😀");
  ids.pop_back();  // drop the last byte of the emoji
  EXPECT_EQ(tok.decode(ids), "\xEF\xBF\xBD");
}

TEST(Robustness, MalformedTokenizerFilesAreRejectedWithTheFileNamed) {
  const char* bad[] = {
      "",
      "{",
      "[]",
      "{}",
      "{\"model\": 5}",
      "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}",
      "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": -4}, \"merges\": []}}",
      "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"},"
      " \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
      "{\"normalizer\": {\"type\": \"Precompiled\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
  };
  for (const char* j : bad) {
    std::string e = error_of([&] { Tokenizer::from_json(j, {}, "bad.json"); });
    EXPECT_EQ(e.rfind("bad.json: ", 0), 0u) << "input " << j << " gave \"" << e << "\"";
  }
  EXPECT_NE(error_of([] { Tokenizer::from_dir("/nonexistent/dir"); }).find("/nonexistent/dir/tokenizer.json"),
            std::string::npos);
}

TEST(Robustness, MinimalTokenizerWithoutPreTokenizerStillEncodes) {
  Tokenizer tok =
      Tokenizer::from_json(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}})");
  EXPECT_EQ(tok.encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{2}));  // no unk token: unknown chars vanish, as in HF
}

TEST(Robustness, LongHostileRunsEncodeExactlyAndQuickly) {
  Tokenizer tok = Tokenizer::from_dir(shared_tokenizer("llama3_1"));
  // 200k letters form one pre-token: the heap merge keeps this O(n log n) (a quadratic merge
  // would take minutes). HF has no fixture this large, so check the exact round trip.
  std::string s(200000, 'a');
  std::vector<int32_t> ids = tok.encode(s);
  EXPECT_EQ(tok.decode(ids), s);
  std::string ws(100000, ' ');
  EXPECT_EQ(tok.decode(tok.encode(ws + "x")), ws + "x");
}

TEST(Unicode, NormalizationFormsOnKnownCases) {
  EXPECT_EQ(unicode_normalize("e\xCC\x81", NormForm::kNFC), "\xC3\xA9");  // e + acute -> é
  EXPECT_EQ(unicode_normalize("\xC3\xA9", NormForm::kNFD), "e\xCC\x81");
  EXPECT_EQ(unicode_normalize("\xE2\x84\xAB", NormForm::kNFC), "\xC3\x85");      // Angstrom -> Å
  EXPECT_EQ(unicode_normalize("\xEF\xAC\x81", NormForm::kNFC), "\xEF\xAC\x81");  // ﬁ kept by NFC
  EXPECT_EQ(unicode_normalize("\xEF\xAC\x81", NormForm::kNFKC), "fi");           // ﬁ -> fi by NFKC
  EXPECT_EQ(unicode_normalize("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", NormForm::kNFC), "\xED\x95\x9C");  // 한
  EXPECT_EQ(unicode_normalize("a\xCC\x95\xCC\x81", NormForm::kNFC), "\xC3\xA1\xCC\x95");  // reorder then compose
  EXPECT_EQ(unicode_lowercase("ÀÉÎ ΣΑΣ İ"), "àéî σασ i\xCC\x87");
}

}  // namespace
}  // namespace janus::tokenizers
