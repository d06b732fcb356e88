#include "kernels/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace janus::kernels {

namespace {

thread_local bool tl_in_worker = false;

struct Job {
  const std::function<void(int64_t, int64_t)>* f;
  int64_t n, chunks;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> pending{0};
  // The first exception a chunk threw; the chunks not yet started are then skipped, and run()
  // rethrows it on the calling thread once every chunk is accounted for.
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::exception_ptr error;
};

class Pool {
 public:
  explicit Pool(int n) : n_(std::max(1, n)) {
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  void run(int64_t n, const std::function<void(int64_t, int64_t)>& f, int64_t grain) {
    int64_t chunks = std::min<int64_t>(n_, std::max<int64_t>(1, n / std::max<int64_t>(1, grain)));
    if (chunks <= 1 || tl_in_worker) {
      f(0, n);
      return;
    }
    std::lock_guard<std::mutex> run_lock(run_mu_);  // one parallel region at a time
    auto job = std::make_shared<Job>();
    job->f = &f;
    job->n = n;
    job->chunks = chunks;
    job->pending = chunks;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = job;
      ++generation_;
    }
    cv_.notify_all();
    tl_in_worker = true;
    work(*job);
    tl_in_worker = false;
    std::unique_lock<std::mutex> lk(mu_);
    done_cv_.wait(lk, [&] { return job->pending.load() == 0; });
    job_.reset();
    if (job->error) std::rethrow_exception(job->error);
  }

 private:
  void work(Job& job) {
    for (;;) {
      int64_t c = job.next.fetch_add(1);
      if (c >= job.chunks) return;
      int64_t b = job.n * c / job.chunks, e = job.n * (c + 1) / job.chunks;
      if (!job.failed.load()) {
        try {
          (*job.f)(b, e);
        } catch (...) {  // never let it escape: a worker would terminate, the caller leave f dangling
          std::lock_guard<std::mutex> lk(job.error_mu);
          if (!job.error) job.error = std::current_exception();
          job.failed = true;
        }
      }
      if (job.pending.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lk(mu_);
        done_cv_.notify_all();
      }
    }
  }
  void loop() {
    tl_in_worker = true;
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        job = job_;
      }
      if (job) work(*job);
    }
  }

  int n_;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::shared_ptr<Job> job_;
};

int g_requested = 0;

int default_threads() {
  if (int n = threads_from_env(std::getenv("JANUS_THREADS")); n > 0) return n;
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

Pool& pool() {
  static Pool p(g_requested > 0 ? g_requested : default_threads());
  return p;
}

}  // namespace

int threads_from_env(const char* text) {
  if (!text || !*text) return 0;
  const std::string s(text);
  long n = 0;
  bool ok = s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (ok) n = std::stol(s);
  if (!ok || n <= 0)
    throw std::invalid_argument("JANUS_THREADS='" + s + "': expected a positive whole number of threads");
  return int(n);
}

void set_num_threads(int n) { g_requested = n; }
int num_threads() { return pool().size(); }
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& f, int64_t grain) {
  if (n <= 0) return;
  pool().run(n, f, grain);
}

}  // namespace janus::kernels
