// bench_tokenizer: encode throughput (MB/s, one thread and N threads) and load time of HF
// tokenizer.json files, printed beside HF `tokenizers` numbers measured on the same corpus and
// machine by tools/make_tokenizer_fixtures.py --bench (passed with --reference).
//
//   bench_tokenizer --corpus FILE --tokenizer DIR [--tokenizer DIR ...] [--threads N]
//                   [--reference hf.jsonl] [--repeat R]
// Each corpus line is one document (encode without special tokens). Throughput counts UTF-8
// input bytes; the best of R timed passes after one warm-up pass (both sides keep word caches).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tokenizers/tokenizer.h"

using janus::tokenizers::Tokenizer;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Persistent workers so per-thread word caches survive between passes (as HF's shared cache does).
class Pool {
 public:
  explicit Pool(int n) {
    for (int k = 0; k < n; ++k) workers_.emplace_back([this, k] { loop(k); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> g(m_);
      stop_ = true;
      ++gen_;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  // Runs job(k) on every worker k and waits.
  void run(const std::function<void(int)>& job) {
    {
      std::lock_guard<std::mutex> g(m_);
      job_ = job;
      pending_ = int(workers_.size());
      ++gen_;
    }
    cv_.notify_all();
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [&] { return pending_ == 0; });
  }

 private:
  void loop(int k) {
    uint64_t seen = 0;
    while (true) {
      std::function<void(int)> job;
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return gen_ != seen; });
        seen = gen_;
        if (stop_) return;
        job = job_;
      }
      job(k);
      std::lock_guard<std::mutex> g(m_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable cv_, done_;
  std::function<void(int)> job_;
  uint64_t gen_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};
}  // namespace

int main(int argc, char** argv) {
  std::string corpus_path, reference_path;
  std::vector<std::string> dirs;
  int threads = int(std::thread::hardware_concurrency()), repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--corpus")
      corpus_path = next();
    else if (a == "--tokenizer")
      dirs.push_back(next());
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--reference")
      reference_path = next();
    else if (a == "--repeat")
      repeat = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (corpus_path.empty() || dirs.empty()) {
    std::fprintf(stderr,
                 "usage: bench_tokenizer --corpus FILE --tokenizer DIR... [--threads N] [--reference hf.jsonl]\n");
    return 2;
  }
  std::map<std::string, nlohmann::json> ref;
  if (!reference_path.empty()) {
    std::ifstream f(reference_path);
    std::string line;
    while (std::getline(f, line))
      if (!line.empty()) {
        auto j = nlohmann::json::parse(line);
        ref[j.at("tokenizer").get<std::string>()] = j;
      }
  }
  std::vector<std::string> lines;
  size_t bytes = 0;
  {
    std::string text = janus::tokenizers::read_file(corpus_path), line;
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t e = text.find('\n', pos);
      if (e == std::string::npos) e = text.size();
      lines.push_back(text.substr(pos, e - pos));
      bytes += e - pos;
      pos = e + 1;
    }
  }
  const double mb = double(bytes) / 1e6;
  std::printf("corpus %s: %.2f MB, %zu lines; %d threads\n\n", corpus_path.c_str(), mb, lines.size(), threads);
  std::printf(
      "| tokenizer | load s (janus / HF / ratio) | 1 thread MB/s (janus / HF / ratio) | %d threads MB/s (janus / HF / "
      "ratio) |\n",
      threads);
  std::printf("|---|---|---|---|\n");
  Pool pool(threads);
  for (const std::string& dir : dirs) {
    std::string name = dir.substr(dir.find_last_of('/') + 1);
    double load = 1e9;
    Tokenizer tok = Tokenizer::from_dir(dir);
    for (int r = 0; r < repeat; ++r) {
      auto t0 = Clock::now();
      Tokenizer t = Tokenizer::from_dir(dir);
      load = std::min(load, seconds_since(t0));
    }
    size_t ntok = 0;
    std::vector<int32_t> ids;
    for (const auto& l : lines) {
      ids.clear();
      tok.encode_into(l, ids);
      ntok += ids.size();
    }  // warm-up
    double single = 1e9;
    for (int r = 0; r < repeat; ++r) {
      auto t0 = Clock::now();
      for (const auto& l : lines) {
        ids.clear();
        tok.encode_into(l, ids);
      }
      single = std::min(single, seconds_since(t0));
    }
    std::atomic<size_t> next{0};
    auto job = [&](int) {
      std::vector<int32_t> local;
      for (size_t k; (k = next.fetch_add(64)) < lines.size();)
        for (size_t e = std::min(k + 64, lines.size()); k < e; ++k) {
          local.clear();
          tok.encode_into(lines[k], local);
        }
    };
    next = 0;
    pool.run(job);  // warm-up: fills every worker's cache
    double multi = 1e9;
    for (int r = 0; r < repeat; ++r) {
      next = 0;
      auto t0 = Clock::now();
      pool.run(job);
      multi = std::min(multi, seconds_since(t0));
    }
    auto cell = [&](double ours, const char* key, bool lower_better) {
      char buf[96];
      auto it = ref.find(name);
      if (it == ref.end() || !it->second.contains(key)) {
        std::snprintf(buf, sizeof buf, "%.3f / - / -", ours);
      } else {
        double hf = it->second.at(key).get<double>();
        std::snprintf(buf, sizeof buf, "%.3f / %.3f / %.2fx", ours, hf, lower_better ? hf / ours : ours / hf);
      }
      return std::string(buf);
    };
    std::printf("| %s | %s | %s | %s |\n", name.c_str(), cell(load, "load_s", true).c_str(),
                cell(mb / single, "single_mb_s", false).c_str(), cell(mb / multi, "batch_mb_s", false).c_str());
    std::fflush(stdout);
    (void)ntok;
  }
  std::printf("\nratio > 1 means janus is faster.\n");
  return 0;
}
