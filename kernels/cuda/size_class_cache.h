// SizeClassCache: a caching allocator over any alloc/free pair (cudaMalloc/cudaFree on the
// GPU, malloc/free in tests). Pure host code, header-only, so it is tested without a GPU.
//
// - Requests are rounded up to a size class (size_class()); a freed block goes back to the free
//   list of its class and pool and is handed out again for the next request of that class from
//   that pool. No splitting or merging: waste is the rounding (≤ 25% between 1 and 64 MiB,
//   < 2 MiB above, up to 2× below 1 MiB where blocks are small).
// - Pools: every block remembers the pool it was allocated from and only returns there. The
//   CUDA backend uses one pool per host thread, because each thread has its own stream: a block
//   freed while kernels of its thread may still read it is only reused by later work of the
//   same, in-order stream. Blocks are never reused across pools without release_cached().
// - When alloc fails, the cache calls `sync` (the GPU: wait for pending kernels), frees every
//   cached block of every pool and retries once; a second failure throws Error with the size
//   and the allocator's reason.
// - Thread-safe (one mutex). Blocks may outlive the cache: they are then freed directly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kernels/tensor.h"

namespace janus::kernels {

class SizeClassCache {
 public:
  // alloc returns nullptr on failure and may set *why; free releases what alloc returned.
  using AllocFn = std::function<void*(size_t bytes, std::string* why)>;
  using FreeFn = std::function<void(void* p)>;
  using SyncFn = std::function<void()>;

  struct Stats {
    size_t bytes_in_use = 0;  // handed out (size-class bytes)
    size_t bytes_cached = 0;  // sitting in free lists
    size_t allocs = 0;        // calls to alloc that succeeded
    size_t hits = 0;          // requests served from a free list
    size_t releases = 0;      // blocks given back to free()
  };

  static constexpr size_t kMinClass = 512;
  static constexpr size_t kSmallLimit = size_t(1) << 20;   // below: powers of two
  static constexpr size_t kLargeLimit = size_t(64) << 20;  // from here: multiples of kLargeStep
  static constexpr size_t kLargeStep = size_t(2) << 20;

  // The class a request of `bytes` is served from (0 for 0).
  static size_t size_class(size_t bytes) {
    if (bytes == 0) return 0;
    if (bytes <= kMinClass) return kMinClass;
    if (bytes >= kLargeLimit) return (bytes + kLargeStep - 1) / kLargeStep * kLargeStep;
    size_t p = kMinClass;
    while (p * 2 <= bytes) p *= 2;  // largest power of two ≤ bytes
    if (bytes < kSmallLimit) return p == bytes ? p : p * 2;
    const size_t step = p / 4;  // four classes per octave
    return (bytes + step - 1) / step * step;
  }

  SizeClassCache(AllocFn alloc, FreeFn free, SyncFn sync = nullptr) : s_(std::make_shared<State>()) {
    s_->alloc = std::move(alloc);
    s_->free = std::move(free);
    s_->sync = std::move(sync);
  }
  ~SizeClassCache() {
    release_cached();
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->closed = true;
  }
  SizeClassCache(const SizeClassCache&) = delete;
  SizeClassCache& operator=(const SizeClassCache&) = delete;

  // A block of at least `bytes` from `pool`; its deleter returns it to that pool's free list.
  // `what` names the caller in error messages. Throws Error when alloc fails twice.
  std::shared_ptr<void> allocate(size_t bytes, uint64_t pool = 0, const char* what = "allocate") {
    if (bytes == 0) return std::shared_ptr<void>(nullptr, [](void*) {});
    const size_t cls = size_class(bytes);
    void* p = nullptr;
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      auto it = s_->free_lists.find({pool, cls});
      if (it != s_->free_lists.end() && !it->second.empty()) {
        p = it->second.back();
        it->second.pop_back();
        s_->stats.bytes_cached -= cls;
        ++s_->stats.hits;
      }
    }
    if (!p) {
      std::string why;
      p = s_->alloc(cls, &why);
      if (!p) {
        if (s_->sync) s_->sync();
        release_cached();
        why.clear();
        p = s_->alloc(cls, &why);
      }
      if (!p) {
        const Stats st = stats();
        throw Error(std::string(what) + ": out of memory allocating " + std::to_string(bytes) + " bytes (size class " +
                    std::to_string(cls) + "): " + (why.empty() ? "allocation failed" : why) + "; this process holds " +
                    std::to_string(st.bytes_in_use) + " bytes in use");
      }
      std::lock_guard<std::mutex> lock(s_->mu);
      ++s_->stats.allocs;
    }
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      s_->stats.bytes_in_use += cls;
    }
    std::shared_ptr<State> s = s_;
    return std::shared_ptr<void>(p, [s, pool, cls](void* q) { s->give_back(q, pool, cls); });
  }

  // Frees every cached (unused) block of every pool. Callers on a GPU synchronise first.
  void release_cached() {
    std::vector<void*> blocks;
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      for (auto& kv : s_->free_lists) {
        blocks.insert(blocks.end(), kv.second.begin(), kv.second.end());
        s_->stats.bytes_cached -= kv.first.second * kv.second.size();
      }
      s_->free_lists.clear();
      s_->stats.releases += blocks.size();
    }
    for (void* b : blocks) s_->free(b);
  }

  Stats stats() const {
    std::lock_guard<std::mutex> lock(s_->mu);
    return s_->stats;
  }

 private:
  struct State {
    AllocFn alloc;
    FreeFn free;
    SyncFn sync;
    mutable std::mutex mu;
    std::map<std::pair<uint64_t, size_t>, std::vector<void*>> free_lists;  // (pool, class)
    Stats stats;
    bool closed = false;

    void give_back(void* p, uint64_t pool, size_t cls) {
      {
        std::lock_guard<std::mutex> lock(mu);
        stats.bytes_in_use -= cls;
        if (!closed) {
          free_lists[{pool, cls}].push_back(p);
          stats.bytes_cached += cls;
          return;
        }
        ++stats.releases;
      }
      free(p);
    }
  };
  std::shared_ptr<State> s_;
};

}  // namespace janus::kernels
