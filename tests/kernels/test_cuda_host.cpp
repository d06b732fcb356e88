// The host side of the CUDA backend, testable without a GPU:
// - SizeClassCache (the device allocator's logic) over malloc/free;
// - without the CUDA backend: CUDA tensors cannot be created, and ops on CUDA tensors say the
//   build lacks the backend;
// - with the backend but no GPU: cuda_available() is false, cuda_status() says why, and
//   allocations and ops throw that reason instead of crashing.
// Each build/machine runs the tests that apply to it and skips the others with the reason.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "kernels/backend.h"
#include "kernels/cuda/size_class_cache.h"
#include "kernels/ops.h"

namespace janus::kernels {
namespace {

// ---- SizeClassCache ---------------------------------------------------------------------

// malloc/free with counters and an optional byte budget (to simulate out-of-memory).
struct HostHeap {
  std::mutex mu;
  std::map<void*, size_t> sizes;
  size_t allocs = 0, frees = 0, live_bytes = 0, budget = SIZE_MAX;
  std::atomic<int> syncs{0};
  SizeClassCache make() {
    return SizeClassCache(
        [this](size_t n, std::string* why) -> void* {
          std::lock_guard<std::mutex> lock(mu);
          if (live_bytes + n > budget) {
            *why = "simulated out of memory";
            return nullptr;
          }
          void* p = std::malloc(n);
          if (p) ++allocs, live_bytes += n, sizes[p] = n;
          return p;
        },
        [this](void* p) {
          std::lock_guard<std::mutex> lock(mu);
          ++frees;
          live_bytes -= sizes.at(p);
          sizes.erase(p);
          std::free(p);
        },
        [this] { ++syncs; });
  }
};

constexpr size_t kKiB = 1024, kMiB = 1024 * 1024;

TEST(SizeClassCache, RoundsSmallRequestsToPowersOfTwo) {
  EXPECT_EQ(SizeClassCache::size_class(0), 0u);
  EXPECT_EQ(SizeClassCache::size_class(1), 512u);
  EXPECT_EQ(SizeClassCache::size_class(512), 512u);
  EXPECT_EQ(SizeClassCache::size_class(513), 1024u);
  EXPECT_EQ(SizeClassCache::size_class(4000), 4096u);
  EXPECT_EQ(SizeClassCache::size_class(kMiB - 1), kMiB);
}

TEST(SizeClassCache, UsesQuarterOctaveClassesUpTo64MiBThen2MiBSteps) {
  EXPECT_EQ(SizeClassCache::size_class(kMiB), kMiB);
  EXPECT_EQ(SizeClassCache::size_class(kMiB + 1), kMiB + 256 * kKiB);
  EXPECT_EQ(SizeClassCache::size_class(3 * kMiB + 1), 3 * kMiB + 512 * kKiB);
  EXPECT_EQ(SizeClassCache::size_class(64 * kMiB - 1), 64 * kMiB);
  EXPECT_EQ(SizeClassCache::size_class(64 * kMiB + 1), 66 * kMiB);
  EXPECT_EQ(SizeClassCache::size_class(size_t(5) << 30), size_t(5) << 30);
}

TEST(SizeClassCache, ClassesCoverTheRequestWithBoundedWaste) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; ++i) {
    const size_t b = 1 + rng() % (size_t(1) << (1 + rng() % 33));  // 1 B .. 8 GiB, log-spread
    const size_t c = SizeClassCache::size_class(b);
    ASSERT_GE(c, b);
    ASSERT_EQ(SizeClassCache::size_class(c), c) << "class " << c << " of " << b << " is not a fixed point";
    if (b >= 64 * kMiB)
      ASSERT_LT(c - b, 2 * kMiB) << b;
    else if (b >= kMiB)
      ASSERT_LE(double(c), 1.25 * double(b)) << b;
    else
      ASSERT_LT(c, 2 * std::max<size_t>(b, 512)) << b;
  }
}

TEST(SizeClassCache, ReusesAFreedBlockOfTheSameClassAndPoolOnly) {
  HostHeap heap;
  SizeClassCache cache = heap.make();
  void* first = nullptr;
  {
    std::shared_ptr<void> a = cache.allocate(1000, /*pool=*/1);
    first = a.get();
    EXPECT_EQ(cache.stats().bytes_in_use, 1024u);
  }
  EXPECT_EQ(cache.stats().bytes_in_use, 0u);
  EXPECT_EQ(cache.stats().bytes_cached, 1024u);
  std::shared_ptr<void> other_pool = cache.allocate(1000, /*pool=*/2);
  EXPECT_NE(other_pool.get(), first);
  std::shared_ptr<void> other_class = cache.allocate(3000, /*pool=*/1);
  EXPECT_NE(other_class.get(), first);
  std::shared_ptr<void> same = cache.allocate(600, /*pool=*/1);  // 1024 class again
  EXPECT_EQ(same.get(), first);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(heap.allocs, 3u);
}

TEST(SizeClassCache, ZeroBytesIsANullBlock) {
  HostHeap heap;
  SizeClassCache cache = heap.make();
  EXPECT_EQ(cache.allocate(0).get(), nullptr);
  EXPECT_EQ(heap.allocs, 0u);
}

TEST(SizeClassCache, ReleaseCachedFreesOnlyUnusedBlocks) {
  HostHeap heap;
  SizeClassCache cache = heap.make();
  std::shared_ptr<void> kept = cache.allocate(100);
  cache.allocate(5000);  // dropped at once: cached
  cache.allocate(70 * kMiB);
  EXPECT_EQ(heap.frees, 0u);
  cache.release_cached();
  EXPECT_EQ(heap.frees, 2u);
  EXPECT_EQ(cache.stats().bytes_cached, 0u);
  EXPECT_EQ(cache.stats().bytes_in_use, 512u);
}

TEST(SizeClassCache, BlocksMayOutliveTheCache) {
  HostHeap heap;
  std::shared_ptr<void> survivor;
  {
    SizeClassCache cache = heap.make();
    survivor = cache.allocate(100);
    cache.allocate(200);  // cached, freed with the cache
  }
  EXPECT_EQ(heap.frees, 1u);
  survivor.reset();  // freed directly, not cached in a dead cache
  EXPECT_EQ(heap.frees, 2u);
  EXPECT_EQ(heap.live_bytes, 0u);
}

TEST(SizeClassCache, OnFailureSynchronisesReleasesTheCacheAndRetries) {
  HostHeap heap;
  heap.budget = 2 * kMiB;
  SizeClassCache cache = heap.make();
  cache.allocate(kMiB + kMiB / 2);                 // 1.5 MiB class, cached after this line
  std::shared_ptr<void> p = cache.allocate(kMiB);  // 1 MiB: over budget while the 1.5 MiB is cached
  ASSERT_NE(p.get(), nullptr);
  EXPECT_EQ(heap.syncs, 1);
  EXPECT_EQ(heap.frees, 1u);
  EXPECT_EQ(cache.stats().bytes_cached, 0u);
}

TEST(SizeClassCache, StillOutOfMemoryThrowsWithSizeAndReason) {
  HostHeap heap;
  heap.budget = kMiB;
  SizeClassCache cache = heap.make();
  try {
    cache.allocate(12345678, 0, "device_alloc");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("device_alloc: out of memory allocating 12345678 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("simulated out of memory"), std::string::npos) << m;
  }
}

TEST(SizeClassCache, ConcurrentThreadsNeverShareABlock) {
  HostHeap heap;
  SizeClassCache cache = heap.make();
  std::atomic<int> clashes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng{uint32_t(t)};
      std::vector<std::shared_ptr<void>> held;
      for (int i = 0; i < 2000; ++i) {
        const size_t n = 8 + rng() % 9000;
        std::shared_ptr<void> b = cache.allocate(n, uint64_t(rng() % 2));  // two shared pools
        std::memset(b.get(), t + 1, 8);
        held.push_back(b);
        if (held.size() > 8) {
          const std::shared_ptr<void>& old = held[rng() % held.size()];
          for (int k = 0; k < 8; ++k)
            if (static_cast<unsigned char*>(old.get())[k] != t + 1) ++clashes;
          held.erase(held.begin() + long(rng() % held.size()));
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(clashes, 0);
  EXPECT_EQ(cache.stats().bytes_in_use, 0u);
  EXPECT_EQ(heap.live_bytes, cache.stats().bytes_cached);  // everything returned is cached
  cache.release_cached();
  EXPECT_EQ(heap.live_bytes, 0u);
}

// ---- Backend behaviour by build -----------------------------------------------------------

// A tensor that claims to live on the GPU without allocating there (never dereferenced: every
// op must refuse it first).
Tensor fake_cuda(const Shape& shape) {
  static float dummy[64];
  return Tensor::borrow(dummy, shape, DType::F32, nullptr, Device::CUDA);
}

void expect_error_containing(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing \"" << text << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

// Every dispatched op on CUDA tensors must throw an Error containing `text`.
void expect_ops_refuse_cuda(const std::string& prefix_suffix) {
  Tensor x = fake_cuda({2, 4}), y = fake_cuda({2, 4}), w = fake_cuda({4}), cpu_y = Tensor::empty({2, 4}, DType::F32);
  auto msg = [&](const char* op) { return std::string(op) + ": " + prefix_suffix; };
  expect_error_containing([&] { rms_norm(y, x, w, 1e-6f); }, msg("rms_norm"));
  expect_error_containing([&] { rms_norm(cpu_y, x, w, 1e-6f); }, msg("rms_norm"));  // mixed devices
  expect_error_containing([&] { layer_norm(y, x, w, Tensor(), 1e-6f); }, msg("layer_norm"));
  expect_error_containing([&] { silu_mul(y, x, x); }, msg("silu_mul"));
  expect_error_containing([&] { gelu(y, x); }, msg("gelu"));
  expect_error_containing([&] { add(y, x, x); }, msg("add"));
  expect_error_containing([&] { axpy(y, 1.0f, x); }, msg("axpy"));
  expect_error_containing([&] { softmax_rows(x); }, msg("softmax_rows"));
  const int64_t ids[2] = {0, 1};
  expect_error_containing([&] { embedding(y, x, ids, 2); }, msg("embedding"));
  Tensor q = fake_cuda({1, 2, 4});
  expect_error_containing([&] { rope(q, ids, {1.0f}, 0, RopeStyle::kHalf); }, msg("rope"));
  expect_error_containing([&] { attention(q, q, q, q, 1.0f, 0); }, msg("attention"));
  Weight lw;
  lw.w = fake_cuda({4, 4});
  expect_error_containing([&] { linear(y, x, lw); }, msg("linear"));
  Weight kv;
  kv.w = fake_cuda({2 * 8, 4});
  expect_error_containing(
      [&] {
        mla_attention_absorbed(q, q, q, fake_cuda({1, 8}), kv, 1.0f, 0);
      },
      msg("mla_attention_absorbed"));
  Tensor ids_t = Tensor::empty({2, 1}, DType::I32), wt = Tensor::empty({2, 1}, DType::F32);
  expect_error_containing([&] { moe_route(ids_t, wt, x, Tensor(), MoeRouting{}); }, msg("moe_route"));
}

// Which tests exist depends on the build: CPU-only builds check the refusal, CUDA builds
// check the no-GPU explanation (CI's CUDA build has no GPU) or, on a GPU machine, the status.
#ifndef JANUS_HAVE_CUDA
TEST(CudaBackendHost, WithoutTheBackendCudaTensorsAreRefused) {
  ASSERT_FALSE(cuda_compiled());
  EXPECT_FALSE(cuda_available());
  EXPECT_EQ(cuda_status(), "CUDA: not compiled in");
  expect_error_containing([] { Tensor::empty({4}, DType::F32, Device::CUDA); }, "no CUDA backend");
  expect_error_containing([] { Tensor::from_f32({1}, {1.0f}).to(Device::CUDA); }, "no CUDA backend");
  expect_ops_refuse_cuda("CUDA tensors need a build with the CUDA backend");
}

#else
TEST(CudaBackendHost, WithoutAGpuEverythingExplainsWhy) {
  ASSERT_TRUE(cuda_compiled());
  if (cuda_available()) GTEST_SKIP() << "a GPU is present (covered by WithAGpuStatusNamesIt): " << cuda_status();
  const std::string status = cuda_status();
  EXPECT_EQ(status.rfind("CUDA: compiled in, but no usable GPU (", 0), 0u) << status;
  EXPECT_GT(status.size(), std::string("CUDA: compiled in, but no usable GPU ()").size()) << status;
  expect_error_containing([] { Tensor::empty({1000}, DType::F32, Device::CUDA); }, "cannot allocate 4000 bytes");
  expect_error_containing([] { Tensor::empty({1000}, DType::F32, Device::CUDA); }, status);
  expect_error_containing([] { Tensor::from_f32({1}, {1.0f}).to(Device::CUDA); }, status);
  static float dummy[4];
  expect_error_containing([] { device_memset_zero(dummy, 16); }, status);
  expect_error_containing([] { device_copy(dummy, Device::CPU, dummy + 2, Device::CUDA, 8); }, status);
  expect_ops_refuse_cuda(status);
}

TEST(CudaBackendHost, WithAGpuStatusNamesIt) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU (covered by WithoutAGpuEverythingExplainsWhy): " << cuda_status();
  EXPECT_EQ(cuda_status().rfind("CUDA: ", 0), 0u);
  EXPECT_NE(cuda_status().find("(sm_"), std::string::npos) << cuda_status();
  Tensor t = Tensor::zeros({8}, DType::F32, Device::CUDA);
  EXPECT_EQ(t.to_f32_vector(), std::vector<float>(8, 0.0f));
}
#endif

}  // namespace
}  // namespace janus::kernels
