// JSONL records, deterministic shuffling, sequence packing with loss masks, resumable cursor.
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

#include <thread>

#include "tests/error_of.h"
#include "train/data.h"
#include "train/prefetch.h"

namespace {

namespace tr = janus::train;
namespace fs = std::filesystem;
using janus::kernels::Tensor;

std::string data_dir() { return testing::TempDir() + "/janus_train_data_" + std::to_string(getpid()); }
// Removes this process's data folder at exit.
struct CleanDataDir {
  ~CleanDataDir() {
    std::error_code ec;
    fs::remove_all(data_dir(), ec);
  }
} g_clean_data_dir;

std::string write_temp(const std::string& name, const std::string& contents) {
  const std::string dir = data_dir();
  fs::create_directories(dir);
  const std::string path = dir + "/" + name;
  std::ofstream(path) << contents;
  return path;
}

using janus::test_util::error_of;

TEST(Jsonl, ParsesTheDocumentedSchema) {
  const std::string path = write_temp("ok.jsonl",
                                      "{\"text\": \"hello world\"}\n"
                                      "\n"
                                      "{\"prompt\": \"Q: 2+2?\", \"answer\": \" 4\", \"task\": \"vqa\", \"images\": "
                                      "[\"img/a.png\"], \"extra\": 1}\n"
                                      "{\"answer\": \"all of it\", \"loss\": \"all\"}\r\n");
  auto recs = tr::read_jsonl(path);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].text, "hello world");
  EXPECT_FALSE(recs[0].answer_only_loss);
  EXPECT_EQ(recs[0].task, "text");
  EXPECT_EQ(recs[1].prompt, "Q: 2+2?");
  EXPECT_EQ(recs[1].answer, " 4");
  EXPECT_TRUE(recs[1].answer_only_loss);
  EXPECT_EQ(recs[1].task, "vqa");
  ASSERT_EQ(recs[1].images.size(), 1u);
  EXPECT_EQ(recs[1].images[0], (fs::path(path).parent_path() / "img/a.png").string());
  EXPECT_EQ(recs[1].source, path + ":3");
  EXPECT_FALSE(recs[2].answer_only_loss);
}

TEST(Jsonl, BadLinesNameFileAndLineOrAreSkippedWithSkipBad) {
  const std::string path = write_temp("bad.jsonl",
                                      "{\"text\": \"fine\"}\n"
                                      "{\"text\": \"unterminated}\n"
                                      "{\"prompt\": \"p\"}\n"
                                      "[1, 2]\n"
                                      "{\"text\": \"t\", \"answer\": \"a\"}\n"
                                      "{\"answer\": \"a\", \"loss\": \"most\"}\n"
                                      "{\"text\": \"also fine\", \"images\": [\"missing.png\"]}\n");
  EXPECT_NE(error_of([&] { tr::read_jsonl(path); }).find(path + ":2: invalid JSON"), std::string::npos);
  std::vector<std::string> logged;
  tr::JsonlOptions o;
  o.skip_bad = true;
  o.check_images = true;
  o.log = [&](const std::string& m) { logged.push_back(m); };
  int64_t skipped = 0;
  auto recs = tr::read_jsonl(path, o, &skipped);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].text, "fine");
  EXPECT_EQ(skipped, 6);
  ASSERT_EQ(logged.size(), 6u);
  EXPECT_NE(logged[0].find(":2: invalid JSON"), std::string::npos) << logged[0];
  EXPECT_NE(logged[1].find(":3: needs exactly one of \"text\" or \"answer\""), std::string::npos) << logged[1];
  EXPECT_NE(logged[2].find(":4: expected a JSON object, got array"), std::string::npos) << logged[2];
  EXPECT_NE(logged[3].find(":5: needs exactly one"), std::string::npos) << logged[3];
  EXPECT_NE(logged[4].find(":6: \"loss\" must be \"answer\" or \"all\""), std::string::npos) << logged[4];
  EXPECT_NE(logged[5].find(":7: image 'missing.png' not found"), std::string::npos) << logged[5];
  EXPECT_NE(error_of([] { tr::read_jsonl("/nonexistent/x.jsonl"); }).find("/nonexistent/x.jsonl: cannot open"),
            std::string::npos);
}

TEST(EpochOrder, IsASeededPermutationDifferentPerEpoch) {
  auto a = tr::epoch_order(100, 5, 0, true), b = tr::epoch_order(100, 5, 0, true);
  auto c = tr::epoch_order(100, 5, 1, true), d = tr::epoch_order(100, 6, 0, true);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  auto s = a;
  std::sort(s.begin(), s.end());
  EXPECT_EQ(s, tr::epoch_order(100, 5, 0, false));  // a permutation of 0..99
}

// Toy tokenizer: one id per byte; prompt/answer split kept for the loss mask.
tr::Example byte_tokens(const tr::Record& r) {
  auto ids = [](const std::string& s) { return std::vector<int64_t>(s.begin(), s.end()); };
  if (!r.text.empty()) return tr::make_example({}, ids(r.text), false);
  return tr::make_example(ids(r.prompt), ids(r.answer), r.answer_only_loss);
}

tr::Record text(const std::string& t) {
  tr::Record r;
  r.text = t;
  return r;
}
tr::Record qa(const std::string& p, const std::string& a) {
  tr::Record r;
  r.prompt = p;
  r.answer = a;
  r.answer_only_loss = true;
  return r;
}

TEST(PackedLoader, PacksExamplesWithSegmentsPositionsAndAnswerOnlyTargets) {
  // Unshuffled: records in file order. seq_len 8, 2 rows.
  std::vector<tr::Record> recs = {qa("ab", "cd"), text("xyz"), text("0123456"), text("longer than eight")};
  tr::PackedLoader L(&recs, byte_tokens, {2, 8, /*pad*/ 0, /*seed*/ 0, /*shuffle*/ false});
  tr::Batch b = L.next_batch();
  // Row 0: "abcd" (4) + "xyz" (3) = 7 tokens, 1 pad; "0123456" (7) does not fit -> row 1.
  // Row 1: "0123456" + 1 pad; "longer..." does not fit -> next batch.
  const int64_t P = 0, I = tr::kIgnoreIndex;
  EXPECT_EQ(b.tokens, (std::vector<int64_t>{'a', 'b', 'c', 'd', 'x', 'y', 'z', P,  //
                                            '0', '1', '2', '3', '4', '5', '6', P}));
  // Answer-only: predicting 'c' (from 'b') and 'd' (from 'c') only; nothing across examples.
  EXPECT_EQ(b.targets, (std::vector<int64_t>{I, 'c', 'd', I, 'y', 'z', I, I,  //
                                             '1', '2', '3', '4', '5', '6', I, I}));
  EXPECT_EQ(b.segments, (std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1, -1, 2, 2, 2, 2, 2, 2, 2, -1}));
  EXPECT_EQ(b.positions, (std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 0, 0, 1, 2, 3, 4, 5, 6, 0}));
  EXPECT_EQ(b.real_tokens, 14);
  EXPECT_EQ(b.target_tokens, 10);
  ASSERT_EQ(b.examples.size(), 3u);
  EXPECT_EQ(b.examples[2].row, 1);
  EXPECT_EQ(L.cursor(), (tr::DataCursor{0, 3}));  // the long example was not consumed
  // Next batch: the long example is cut to 8 tokens; then the epoch rolls over.
  tr::Batch c = L.next_batch();
  EXPECT_EQ(c.truncated, 1);
  EXPECT_EQ(std::string(c.tokens.begin(), c.tokens.begin() + 8), "longer t");
  EXPECT_EQ(c.examples[1].cursor, (tr::DataCursor{1, 0}));
  EXPECT_EQ(c.targets[7], I);  // the cut example's last token predicts nothing
}

TEST(PackedLoader, SeekingToASavedCursorReproducesTheFollowingBatches) {
  std::vector<tr::Record> recs;
  for (int i = 0; i < 23; ++i) recs.push_back(text(std::string(size_t(1 + (i * 7) % 9), char('a' + i))));
  tr::PackOptions o{3, 12, 0, /*seed*/ 99, true};
  tr::PackedLoader a(&recs, byte_tokens, o);
  std::vector<tr::Batch> straight;
  std::vector<tr::DataCursor> cursors;
  for (int i = 0; i < 12; ++i) {  // several epochs
    cursors.push_back(a.cursor());
    straight.push_back(a.next_batch());
  }
  EXPECT_GE(a.cursor().epoch, 2);
  tr::PackedLoader b(&recs, byte_tokens, o);
  b.seek(cursors[5]);
  for (int i = 5; i < 12; ++i) {
    tr::Batch x = b.next_batch();
    EXPECT_EQ(x.tokens, straight[size_t(i)].tokens) << "batch " << i;
    EXPECT_EQ(x.targets, straight[size_t(i)].targets) << "batch " << i;
    EXPECT_EQ(x.segments, straight[size_t(i)].segments) << "batch " << i;
  }
  EXPECT_EQ(b.cursor(), a.cursor());
  // Every record is visited exactly once per epoch.
  std::vector<int> seen(23, 0);
  for (const auto& bt : straight)
    for (const auto& ex : bt.examples)
      if (ex.cursor.epoch == 1) seen[size_t(bt.tokens[size_t(ex.row * 12 + ex.begin)] - 'a')]++;
  for (int k : seen) EXPECT_EQ(k, 1);
  EXPECT_THROW(b.seek({0, 24}), std::invalid_argument);
}

TEST(PrefetchSource, PreparesOnWorkerThreadsAndKeepsOrderAndCursorExact) {
  std::vector<tr::Record> recs;
  for (int i = 0; i < 17; ++i) recs.push_back(text(std::string(size_t(2 + i % 5), char('a' + i))));
  tr::PackOptions o{2, 8, 0, 3, true};
  tr::PackedLoader plain(&recs, byte_tokens, o), inner(&recs, byte_tokens, o);
  const auto main_id = std::this_thread::get_id();
  std::atomic<int> off_main{0};
  tr::PrefetchSource pre(
      inner,
      [&](tr::Batch& b) {
        if (std::this_thread::get_id() != main_id) ++off_main;
        b.pixel_values.push_back(Tensor::from_f32({1}, {float(b.tokens[0])}));  // stands in for an image
      },
      3);
  EXPECT_EQ(pre.cursor(), plain.cursor());
  for (int i = 0; i < 9; ++i) {
    tr::Batch want = plain.next_batch(), got = pre.next_batch();
    EXPECT_EQ(got.tokens, want.tokens) << "batch " << i;
    EXPECT_EQ(got.targets, want.targets) << "batch " << i;
    ASSERT_EQ(got.pixel_values.size(), 1u);
    EXPECT_EQ(got.pixel_values[0].to_f32_vector()[0], float(want.tokens[0]));
    EXPECT_EQ(pre.cursor(), plain.cursor()) << "batch " << i;  // not the prepared-ahead position
  }
  EXPECT_GE(off_main.load(), 9);
  // Seek back: the same batches again.
  tr::PackedLoader again(&recs, byte_tokens, o);
  for (int i = 0; i < 4; ++i) again.next_batch();
  pre.seek(again.cursor());
  EXPECT_EQ(pre.cursor(), again.cursor());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(pre.next_batch().tokens, again.next_batch().tokens);
}

TEST(PrefetchSource, RethrowsAPrepareErrorForTheBatchThatHadIt) {
  std::vector<tr::Record> recs = {text("abc"), text("defgh"), text("ij")};
  tr::PackedLoader inner(&recs, byte_tokens, {1, 4, 0, 0, false});
  tr::PrefetchSource pre(inner, [](tr::Batch& b) {
    if (b.tokens[0] == 'd') throw std::runtime_error("data.jsonl:2: image 'x.png': cannot decode");
  });
  EXPECT_EQ(pre.next_batch().tokens[0], 'a');
  EXPECT_EQ(error_of([&] { pre.next_batch(); }), "data.jsonl:2: image 'x.png': cannot decode");
}

}  // namespace
