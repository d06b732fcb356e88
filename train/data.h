// Training data: JSONL records, deterministic epoch shuffling with a resumable cursor, and
// sequence packing of tokenised examples into fixed-length rows.
//
// JSONL schema (one JSON object per line; blank lines are skipped; unknown keys are ignored):
//   "text":   string   plain text, every token is trained on            } exactly one of the two
//   "answer": string   the response; trained on per "loss" below        }
//   "prompt": string   optional, only with "answer"; context placed before it
//   "images": [string] optional image paths, relative to the JSONL file's folder (or absolute)
//   "task":   string   optional free-form task type ("text", "caption", "vqa", "t2i", ...),
//                      default "text"
//   "loss":   "answer" | "all"   optional; default "answer" when "answer" is given, else "all"
// e.g. {"prompt": "<|User|>: what colour?\n\n<|Assistant|>:", "answer": " red", "images": ["a.png"], "task": "vqa"}
//
// Errors name the file and 1-based line: "data.jsonl:17: invalid JSON (...)", "data.jsonl:3:
// needs exactly one of \"text\" or \"answer\"", "data.jsonl:9: image 'x.png' not found" (with
// check_images). With skip_bad, the same message is passed to `log` and the line is skipped.
//
// Order: epoch e visits every record once, in the order epoch_order(n, seed, e, shuffle) (a
// Fisher-Yates permutation from Rng(seed, e), or 0..n-1 without shuffle); epochs never end (the
// loader rolls over). A DataCursor {epoch, index} names the next record to consume; checkpoints
// store it and seek() restores it, so a resumed run sees exactly the batches it would have seen.
//
// Packing (PackedLoader): each batch is `rows` rows of `seq_len` tokens, filled greedily from the
// record stream in order: an example that fits in the current row's free space is appended to it;
// otherwise the row is closed (padded) and the example starts the next row (or the next batch:
// it is not consumed, the cursor still points at it). An example longer than seq_len is cut to
// seq_len tokens (counted in Batch::truncated). Examples with no tokens are consumed and skipped.
// Every batch starts with empty rows, so packing depends only on the cursor (exact resume).
// Not thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace janus::train {

struct Record {
  std::string text, prompt, answer;  // `text` xor `answer` is set
  std::vector<std::string> images;   // resolved paths
  std::string task = "text";
  bool answer_only_loss = false;  // "loss": "answer"
  std::string source;             // "path:line" for messages
};

using LogFn = std::function<void(const std::string&)>;

struct JsonlOptions {
  bool skip_bad = false;      // log and skip bad lines instead of throwing
  bool check_images = false;  // every image path must name an existing, non-empty regular file
  LogFn log;                  // where skip_bad messages go (default: stderr)
};

// Parses one line (for tests and streaming use). Throws std::runtime_error "source: problem".
Record parse_record(const std::string& line, const std::string& source, const std::string& base_dir, bool check_images);
// Reads a whole JSONL file. `skipped` (optional) receives the number of bad lines skipped.
std::vector<Record> read_jsonl(const std::string& path, const JsonlOptions& options = {}, int64_t* skipped = nullptr);

struct DataCursor {
  int64_t epoch = 0, index = 0;
  bool operator==(const DataCursor& o) const { return epoch == o.epoch && index == o.index; }
};

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);

// A tokenised example: ids[t] is trained on (predicted from position t-1) when loss[t] != 0;
// loss[0] is ignored (nothing predicts the first token). loss.size() == ids.size().
struct Example {
  std::vector<int64_t> ids;
  std::vector<uint8_t> loss;
  std::vector<std::string> images;
};
// prompt ++ answer, loss on the answer tokens only (answer_only) or on every token.
Example make_example(const std::vector<int64_t>& prompt_ids, const std::vector<int64_t>& answer_ids, bool answer_only);

// Turns a record into tokens (the caller's tokenizer and chat template). Must be deterministic.
using TokenizeFn = std::function<Example(const Record&)>;

constexpr int64_t kIgnoreIndex = -100;

struct Batch {
  int64_t rows = 0, seq_len = 0;
  // All [rows·seq_len], row-major.
  std::vector<int64_t> tokens;     // pad_id in padding
  std::vector<int64_t> targets;    // tokens[r, t+1] if that token is in the same example and trained on, else -100
  std::vector<int32_t> segments;   // example index within the batch (0, 1, ...), -1 for padding
  std::vector<int64_t> positions;  // position within the example (0-based), 0 for padding
  struct Placement {
    int64_t row, begin, length;  // tokens [begin, begin+length) of `row`
    DataCursor cursor;           // where the record came from
    std::vector<std::string> images;
  };
  std::vector<Placement> examples;
  int64_t real_tokens = 0;    // non-padding tokens
  int64_t target_tokens = 0;  // targets != -100
  int64_t truncated = 0;      // examples cut to seq_len
  // Filled by a prepare step (PrefetchSource), e.g. one preprocessed image tensor per entry of
  // examples[*].images, in order. Empty otherwise.
  std::vector<kernels::Tensor> pixel_values;
};

// What the Trainer pulls batches from.
class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual Batch next_batch() = 0;
  virtual DataCursor cursor() const = 0;  // the next record not yet in a returned batch
  virtual void seek(const DataCursor& c) = 0;
};

struct PackOptions {
  int64_t rows = 1, seq_len = 0;  // seq_len > 0
  int64_t pad_id = 0;
  uint64_t seed = 0;
  bool shuffle = true;
};

class PackedLoader : public DataSource {
 public:
  // `records` must outlive the loader and not be empty (throws std::invalid_argument).
  PackedLoader(const std::vector<Record>* records, TokenizeFn tokenize, PackOptions options);
  Batch next_batch() override;
  DataCursor cursor() const override { return cursor_; }
  void seek(const DataCursor& c) override;

 private:
  const std::vector<int64_t>& order(int64_t epoch);
  const Example& current();  // the tokenised record at cursor_ (cached)
  void advance();

  const std::vector<Record>* records_;
  TokenizeFn tokenize_;
  PackOptions opt_;
  DataCursor cursor_;
  std::map<int64_t, std::vector<int64_t>> orders_;  // epoch -> permutation (at most two kept)
  DataCursor cached_at_{-1, -1};
  Example cached_;
};

}  // namespace janus::train
