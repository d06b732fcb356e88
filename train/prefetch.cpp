#include "train/prefetch.h"

#include <stdexcept>

namespace janus::train {

PrefetchSource::PrefetchSource(DataSource& inner, PrepareFn prepare, int depth)
    : inner_(inner), prepare_(std::move(prepare)), depth_(depth), cursor_(inner.cursor()) {
  if (depth_ < 1) throw std::invalid_argument("PrefetchSource: depth must be >= 1");
}

PrefetchSource::~PrefetchSource() { drain(); }

void PrefetchSource::fill() {
  while (int(queue_.size()) < depth_) {
    Batch b = inner_.next_batch();
    Entry e;
    e.cursor_after = inner_.cursor();
    if (prepare_) {
      e.batch = std::async(std::launch::async, [this, b = std::move(b)]() mutable {
        prepare_(b);
        return std::move(b);
      });
    } else {
      std::promise<Batch> ready;
      ready.set_value(std::move(b));
      e.batch = ready.get_future();
    }
    queue_.push_back(std::move(e));
  }
}

Batch PrefetchSource::next_batch() {
  fill();
  Entry e = std::move(queue_.front());
  queue_.pop_front();
  Batch b = e.batch.get();  // rethrows prepare's exception
  cursor_ = e.cursor_after;
  fill();  // start preparing the next ones while this batch trains
  return b;
}

void PrefetchSource::drain() {
  for (auto& e : queue_)
    if (e.batch.valid()) e.batch.wait();
  queue_.clear();
}

void PrefetchSource::seek(const DataCursor& c) {
  drain();
  inner_.seek(c);
  cursor_ = inner_.cursor();
}

}  // namespace janus::train
