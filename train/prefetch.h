// Background preparation of batches (image decoding and preprocessing) on worker threads.
//
// PrefetchSource wraps a DataSource: it pulls batches from it in order on the calling thread
// (packing is cheap), runs `prepare(batch)` for up to `depth` upcoming batches at once, each on
// its own worker thread (std::async), and returns them in the original order. The result is the
// same sequence of batches as the inner source gives, whatever the timing; cursor() is the inner
// cursor after the last batch *returned* (not the ones prepared ahead), so checkpoints stay exact.
// seek() waits for the batches in flight, drops them and seeks the inner source.
//
// `prepare` runs concurrently with itself and with training: it must only touch its batch (and
// thread-safe state), and must not call kernels::parallel_for (the pool runs one region at a time,
// so it would stall the training thread's kernels). An exception from `prepare` (e.g. "data.jsonl:12:
// image 'a.png': not a PNG") is rethrown by the next_batch() call that would return that batch;
// to skip bad images instead, catch inside `prepare` and drop them from the batch. After such an
// exception the batches prepared ahead are still queued; seek(cursor()) to start over cleanly.
// Not thread-safe itself: one consumer thread.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <future>

#include "train/data.h"

namespace janus::train {

class PrefetchSource : public DataSource {
 public:
  using PrepareFn = std::function<void(Batch&)>;
  // `inner` must outlive this; depth >= 1.
  PrefetchSource(DataSource& inner, PrepareFn prepare, int depth = 2);
  ~PrefetchSource() override;
  Batch next_batch() override;
  DataCursor cursor() const override { return cursor_; }
  void seek(const DataCursor& c) override;

 private:
  struct Entry {
    std::future<Batch> batch;
    DataCursor cursor_after;
  };
  void fill();
  void drain();

  DataSource& inner_;
  PrepareFn prepare_;
  int depth_;
  std::deque<Entry> queue_;
  DataCursor cursor_;
};

}  // namespace janus::train
