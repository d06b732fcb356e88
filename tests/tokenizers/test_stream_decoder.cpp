// Incremental decoding: ids fed one by one give, concatenated, exactly decode(all ids); a token
// ending inside a UTF-8 sequence is held back until the sequence completes.
#include <gtest/gtest.h>

#include "tests/tokenizers/fixtures.h"
#include "tokenizers/stream_decoder.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
using testing::corpus;
using testing::fixture;
using testing::shared_tokenizer;

void expect_stream_equals_decode(const Tokenizer& tok) {
  for (const std::string& text : corpus()) {
    std::vector<int32_t> ids = tok.encode(text);
    StreamDecoder sd(tok);
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece = sd.step(id);
      // Every emitted piece is complete UTF-8 on its own.
      EXPECT_EQ(utf8_invalid_offset(piece), std::string::npos);
      streamed += piece;
    }
    streamed += sd.flush();
    ASSERT_EQ(streamed, tok.decode(ids)) << nlohmann::json(text).dump();
  }
}

TEST(StreamDecoder, ByteLevelStreamConcatenatesToFullDecode) {
  expect_stream_equals_decode(Tokenizer::from_dir(shared_tokenizer("llama3_1")));
  expect_stream_equals_decode(Tokenizer::from_dir(shared_tokenizer("deepseek_v3")));
}

TEST(StreamDecoder, ByteFallbackStreamConcatenatesToFullDecode) {
  expect_stream_equals_decode(Tokenizer::from_dir(fixture("bytefallback")));
}

TEST(StreamDecoder, HoldsATokenThatEndsInsideAUtf8Sequence) {
  Tokenizer tok = Tokenizer::from_dir(shared_tokenizer("llama3_1"));
  // "😀" is several byte-level tokens in Llama 3; no prefix of them is emitted alone.
  std::vector<int32_t> ids = tok.encode("😀");
  ASSERT_GT(ids.size(), 1u);
  StreamDecoder sd(tok);
  for (size_t k = 0; k + 1 < ids.size(); ++k) EXPECT_EQ(sd.step(ids[k]), "");
  EXPECT_EQ(sd.step(ids.back()), "😀");
  EXPECT_EQ(sd.flush(), "");
}

TEST(StreamDecoder, FlushReplacesAnUnfinishedCharacter) {
  Tokenizer tok = Tokenizer::from_dir(shared_tokenizer("llama3_1"));
  std::vector<int32_t> ids = tok.encode("😀");
  StreamDecoder sd(tok);
  EXPECT_EQ(sd.step(ids[0]), "");
  EXPECT_EQ(sd.flush(), "\xEF\xBF\xBD");
}

}  // namespace
}  // namespace janus::tokenizers
