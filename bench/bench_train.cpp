// bench_train: training tokens/s of a tiny DeepSeek-V3-shaped model (bench/train_v3_tiny.json:
// hidden 256, 4 layers, MLA, 16-expert MoE after one dense layer) on this CPU, f32: one step =
// TrainableModel forward + next-token cross-entropy + backward + AdamW, batch × seq tokens.
// The peer is tools/bench_train_torch.py (transformers DeepseekV3ForCausalLM, same config, batch,
// threads); pass its tokens/s with --torch to print the ratio.
//
// Usage: bench_train [--config FILE] [--batch 4] [--seq 256] [--steps 10] [--warmup 2]
//                    [--threads 2] [--torch TOKENS_PER_S] [--malloc-tuning on|off]
// --malloc-tuning off skips train::keep_freed_memory() (train/malloc_tuning.h), which `janus
// train` applies.
// Prints the median step and its split into forward / backward / optimizer, the best step, and
// the process CPU time per step (the machine is shared: CPU time is the steadier number).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "kernels/thread_pool.h"
#include "llm/config.h"
#include "llm/trainable.h"
#include "train/malloc_tuning.h"
#include "train/optimizer.h"

using namespace janus;

namespace {

double cpu_s() { return double(std::clock()) / CLOCKS_PER_SEC; }

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string config = std::string(JANUS_SOURCE_DIR) + "/bench/train_v3_tiny.json";
  int64_t B = 4, T = 256, steps = 10, warmup = 2;
  int threads = 2;
  double torch_tps = 0;
  bool tune_malloc = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--config")
      config = v;
    else if (k == "--batch")
      B = std::atoll(v.c_str());
    else if (k == "--seq")
      T = std::atoll(v.c_str());
    else if (k == "--steps")
      steps = std::atoll(v.c_str());
    else if (k == "--warmup")
      warmup = std::atoll(v.c_str());
    else if (k == "--threads")
      threads = std::atoi(v.c_str());
    else if (k == "--malloc-tuning")
      tune_malloc = v != "off";
    else if (k == "--torch")
      torch_tps = std::atof(v.c_str());
    else {
      std::fprintf(stderr, "bench_train: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (tune_malloc) train::keep_freed_memory();  // as `janus train` does
  kernels::set_num_threads(threads);
  const llm::ModelConfig cfg = llm::load_config(config);
  auto model = llm::TrainableModel::random(cfg, 0, 0.02);
  int64_t n_params = 0;
  for (const auto& p : model.params()) n_params += p.var.numel();
  train::AdamWConfig ac;
  ac.beta1 = 0.9, ac.beta2 = 0.95, ac.weight_decay = 0.1;
  train::AdamW opt(model.params(), ac);
  std::vector<int64_t> ids(size_t(B * T)), targets(size_t(B * T));
  uint64_t x = 1;
  for (size_t i = 0; i < ids.size(); ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    ids[i] = int64_t((x >> 33) % uint64_t(cfg.vocab_size));
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) targets[size_t(b * T + t)] = t + 1 < T ? ids[size_t(b * T + t + 1)] : int64_t(-100);
  std::vector<double> tf, tb, to, tall, tcpu;
  double loss_first = 0, loss_last = 0;
  for (int64_t s = 0; s < warmup + steps; ++s) {
    const double t0 = now_s(), c0 = cpu_s();
    auto fw = model.forward(ids, B, T);
    auto loss = llm::lm_loss(fw, targets, B, T, 0.0).total;
    const double t1 = now_s();
    kernels::ag::backward(loss);
    const double t2 = now_s();
    {
      kernels::ag::NoGradGuard ng;
      opt.step(1e-4);
    }
    opt.zero_grad();
    const double t3 = now_s();
    const double l = loss.value().to_f32_vector()[0];
    if (s == 0) loss_first = l;
    loss_last = l;
    if (s >= warmup) {
      tf.push_back(t1 - t0), tb.push_back(t2 - t1), to.push_back(t3 - t2), tall.push_back(t3 - t0);
      tcpu.push_back(cpu_s() - c0);
    }
  }
  const double step = median(tall), tps = double(B * T) / step;
  std::printf("bench_train: %s, %lld params, batch %lld x seq %lld, %d threads, f32\n", config.c_str(),
              (long long)n_params, (long long)B, (long long)T, threads);
  std::printf("loss first %.4f last %.4f\n", loss_first, loss_last);
  std::printf("| impl | ms/step (median of %lld) | forward ms | backward ms | AdamW ms | tokens/s | ratio |\n",
              (long long)steps);
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| janus | %.1f | %.1f | %.1f | %.1f | %.0f | %s |\n", 1e3 * step, 1e3 * median(tf), 1e3 * median(tb),
              1e3 * median(to), tps, torch_tps > 0 ? std::to_string(tps / torch_tps).substr(0, 4).c_str() : "-");
  if (torch_tps > 0) std::printf("| pytorch | %.1f | | | | %.0f | 1.00 |\n", 1e3 * B * T / torch_tps, torch_tps);
  std::printf("best step %.1f ms (%.0f tokens/s); process CPU time per step (median, all threads) %.1f ms\n",
              1e3 * *std::min_element(tall.begin(), tall.end()),
              double(B * T) / *std::min_element(tall.begin(), tall.end()), 1e3 * median(tcpu));
  return 0;
}
