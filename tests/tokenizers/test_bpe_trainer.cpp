// BPE training: `janus tokenizer-train` output is reproducible byte for byte, and its encoding
// matches HF tokenizers (test_hf_parity.cpp, TrainedTokenizer...).
#include <gtest/gtest.h>

#include "tests/tokenizers/fixtures.h"
#include "tokenizers/bpe_trainer.h"
#include "tokenizers/tokenizer.h"

namespace janus::tokenizers {
namespace {
using testing::fixture;

TEST(BpeTrainer, RetrainingTheCommittedCorpusReproducesTheCommittedTokenizerExactly) {
  // Same options as the committed fixture: janus tokenizer-train --vocab-size 1200 (defaults).
  BpeTrainOptions opt = default_train_options(1200);
  BpeTrainResult r = train_bpe({read_file(fixture("train_corpus.txt"))}, opt);
  EXPECT_EQ(r.vocab_size, 1200u);
  EXPECT_EQ(r.tokenizer_json, read_file(fixture("trained/tokenizer.json")));
  EXPECT_EQ(r.config_json, read_file(fixture("trained/tokenizer_config.json")));
}

TEST(BpeTrainer, SpecialTokensComeFirstAndRoundTrip) {
  BpeTrainOptions opt = default_train_options(300);
  BpeTrainResult r = train_bpe({"hello hello hello world <think>x</think> world"}, opt);
  Tokenizer tok = Tokenizer::from_json(r.tokenizer_json, r.config_json);
  EXPECT_EQ(tok.token_to_id("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  std::string text = "hello <think>wörld</think> 😀";
  std::vector<int32_t> ids = tok.encode(text);
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_EQ(tok.encode(text, true).front(), 0);
}

TEST(BpeTrainer, RejectsAVocabularySmallerThanTheAlphabet) {
  BpeTrainOptions opt = default_train_options(100);
  EXPECT_THROW(train_bpe({"abc"}, opt), std::invalid_argument);
}

}  // namespace
}  // namespace janus::tokenizers
