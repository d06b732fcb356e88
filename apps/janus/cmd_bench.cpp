// janus bench: prefill and decode speed of a model, with the weight bandwidth decode achieves
// and the machine's streaming-read bandwidth (the decode floor) measured in the same run.
#include <chrono>
#include <cstdio>
#include <random>

#include "apps/janus/command.h"
#include "apps/janus/common.h"
#include "kernels/thread_pool.h"
#include "llm/model.h"

namespace janus::app {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Multi-threaded streaming read of a buffer much larger than the caches (GB/s).
double read_bandwidth_gbs(size_t bytes) {
  const size_t n = bytes / 8;
  std::vector<uint64_t> buf(n, 1);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<uint64_t> partial(size_t(kernels::num_threads()) * 8, 0);
    auto t = Clock::now();
    kernels::parallel_for(
        int64_t(n),
        [&](int64_t b, int64_t e) {
          uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          int64_t i = b;
          for (; i + 4 <= e; i += 4) {
            s0 += buf[i];
            s1 += buf[i + 1];
            s2 += buf[i + 2];
            s3 += buf[i + 3];
          }
          for (; i < e; ++i) s0 += buf[i];
          partial[size_t(b * kernels::num_threads() / int64_t(n)) * 8] += s0 + s1 + s2 + s3;
        },
        1 << 20);
    double s = since(t);
    uint64_t sum = 0;
    for (auto v : partial) sum += v;
    if (sum != n) std::fprintf(stderr, "(bandwidth check sum mismatch)\n");
    best = std::max(best, double(n * 8) / s / 1e9);
  }
  return best;
}

struct BenchArgs {
  std::string model;
  int64_t prompt = 128, gen = 32;
  int threads = 0, reps = 2;
};

int bench(const BenchArgs& a) {
  if (a.threads > 0) kernels::set_num_threads(a.threads);
  auto t_load = Clock::now();
  auto model = llm::Model::load(resolve_model_dir(a.model));
  const double load_s = since(t_load);
  const auto& c = model->config();
  std::mt19937_64 rng(1);
  std::vector<int64_t> prompt(size_t(a.prompt));
  for (auto& t : prompt) t = int64_t(rng() % uint64_t(c.vocab_size));
  double best_prefill = 0, best_decode = 0;
  for (int r = 0; r < a.reps; ++r) {
    auto cache = model->new_cache();
    kernels::Tensor logits;
    auto t = Clock::now();
    model->forward(cache, prompt.data(), a.prompt, {nullptr, &logits, true});
    best_prefill = std::max(best_prefill, double(a.prompt) / since(t));
    int64_t tok = prompt.back();
    t = Clock::now();
    for (int64_t i = 0; i < a.gen; ++i) {
      model->forward(cache, &tok, 1, {nullptr, &logits, true});
      tok = int64_t(rng() % uint64_t(c.vocab_size));
    }
    best_decode = std::max(best_decode, double(a.gen) / since(t));
  }
  const double bytes = model->weight_bytes_per_token();
  const double achieved = bytes * best_decode / 1e9;
  const double floor_bw = read_bandwidth_gbs(size_t(1) << 30);
  std::printf("model           %s (%s, %lld layers, hidden %lld, vocab %lld)\n",
              a.model.empty() ? "(default)" : a.model.c_str(), c.model_type.c_str(), (long long)c.num_hidden_layers,
              (long long)c.hidden_size, (long long)c.vocab_size);
  std::printf("threads         %d\n", kernels::num_threads());
  std::printf("load            %.2f s (weights %.1f MB, mapped)\n", load_s, model->weight_file_bytes() / 1e6);
  std::printf("prefill         %.1f tok/s (%lld-token prompt)\n", best_prefill, (long long)a.prompt);
  std::printf("decode          %.2f tok/s (%lld tokens after the prompt)\n", best_decode, (long long)a.gen);
  std::printf("weight traffic  %.1f MB/token -> %.2f GB/s achieved\n", bytes / 1e6, achieved);
  std::printf("memory read bw  %.2f GB/s (streaming read, same threads)\n", floor_bw);
  std::printf("decode floor    %.2f tok/s -> achieved %.0f%% of the bandwidth floor\n", floor_bw * 1e9 / bytes,
              100.0 * achieved / floor_bw);
  return 0;
}

Registrar reg("bench", "Measure prefill/decode tokens/s and achieved weight bandwidth", [](CLI::App& sub) {
  auto a = std::make_shared<BenchArgs>();
  sub.add_option("--model", a->model, "HF model folder (default: the embedded model)");
  sub.add_option("--prompt", a->prompt, "prompt length for the prefill measurement")->check(kPositive);
  sub.add_option("--gen", a->gen, "tokens decoded for the decode measurement")->check(kPositive);
  sub.add_option("--threads", a->threads, "CPU threads (default: all cores)");
  sub.add_option("--reps", a->reps, "repetitions (best is reported)")->check(kPositive);
  return [a] { return bench(*a); };
});

}  // namespace
}  // namespace janus::app
