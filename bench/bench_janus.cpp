// Janus CPU benchmark on a random-weight model of a given shape (no weights can be downloaded).
//
//   bench_janus --shape bench/janus_pro_1b_shape --work /tmp/janus1b [--threads N] [--skip-gen]
//
// --shape holds config.json, tokenizer files and manifest.json {tensor name: shape} written by
// `tools/make_janus_mm_fixtures.py --bench-manifest DIR`. The model folder is created in --work
// (random bf16 weights: matrices U(±0.02·√3), norm weights 1, biases 0) unless it already exists.
// Measures, single process, wall-clock seconds:
//   load            JanusModel::load (mmap + shape checks)
//   understanding   one 384 px image: SigLIP + aligner, then the LM prefill of the prompt with the
//                   576 spliced embeddings (first-token latency)
//   generation      one image with CFG (2 rows): prompt prefill, 576 sampled codes, VQ decode
// and the peak RSS (getrusage). Prints one markdown table row per measurement.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "kernels/thread_pool.h"
#include "llm/janus_generate.h"
#include "llm/safetensors.h"

namespace fs = std::filesystem;
using janus::kernels::DType;
using janus::kernels::Tensor;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double peak_rss_gb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / (1024.0 * 1024.0);
}

void make_model(const fs::path& shape, const fs::path& dir) {
  std::ifstream mf(shape / "manifest.json");
  const auto manifest = nlohmann::json::parse(mf);
  janus::llm::NamedTensors tensors;
  uint64_t seed = 1;
  for (const auto& [name, js] : manifest.items()) {
    janus::kernels::Shape s = js.get<janus::kernels::Shape>();
    Tensor t = Tensor::empty(s, DType::BF16);
    const bool norm_w = s.size() == 1 && name.find("norm") != std::string::npos && name.size() > 7 &&
                        name.compare(name.size() - 7, 7, ".weight") == 0;
    const bool bias = s.size() == 1 && !norm_w;
    const int64_t n = t.numel();
    uint16_t* p = t.data<uint16_t>();
    const uint64_t my_seed = seed++;
    janus::kernels::parallel_for(
        n,
        [&](int64_t b, int64_t e) {
          std::mt19937 rng(uint32_t(my_seed * 1000003u + uint64_t(b)));
          std::uniform_real_distribution<float> u(-0.0346f, 0.0346f);
          for (int64_t i = b; i < e; ++i) p[i] = janus::kernels::f32_to_bf16(norm_w ? 1.0f : bias ? 0.0f : u(rng));
        },
        1 << 16);
    tensors.emplace_back(name, t);
  }
  fs::create_directories(dir);
  janus::llm::write_safetensors((dir / "model.safetensors").string(), tensors);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(shape / f, dir / f, fs::copy_options::overwrite_existing);
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape, work;
  int threads = 0;
  bool skip_gen = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--shape" && i + 1 < argc)
      shape = argv[++i];
    else if (a == "--work" && i + 1 < argc)
      work = argv[++i];
    else if (a == "--threads" && i + 1 < argc)
      threads = std::stoi(argv[++i]);
    else if (a == "--skip-gen")
      skip_gen = true;
    else {
      std::fprintf(stderr, "usage: bench_janus --shape DIR --work DIR [--threads N] [--skip-gen]\n");
      return 2;
    }
  }
  if (shape.empty() || work.empty()) {
    std::fprintf(stderr, "usage: bench_janus --shape DIR --work DIR [--threads N] [--skip-gen]\n");
    return 2;
  }
  if (threads > 0) janus::kernels::set_num_threads(threads);
  const fs::path dir = fs::path(work) / "model";
  double t0 = now();
  if (!fs::exists(dir / "model.safetensors")) {
    make_model(shape, dir);
    std::printf("| write random model | %.1f s |\n", now() - t0);
    std::fflush(stdout);
    execv("/proc/self/exe", argv);  // measure in a fresh process: peak RSS without the writer's copy
    std::perror("execv");
    return 1;
  }
  t0 = now();
  auto model = janus::llm::JanusModel::load(dir.string());
  const auto& c = model->config();
  std::printf("| load (mmap) | %.2f s |\n", now() - t0);
  std::fflush(stdout);

  // Understanding: BOS, a few text ids, <begin_of_image>, N placeholders, <end_of_image>, text.
  const int64_t S = c.vision.image_size, N = c.image_tokens();
  std::vector<int64_t> ids = {0, 303, 61, 35};
  ids.push_back(301);
  for (int64_t k = 0; k < N; ++k) ids.push_back(model->image_token_id());
  ids.push_back(302);
  for (int64_t t : {13, 90, 107, 100, 119, 35, 108, 118, 35, 119, 107, 108, 118, 66, 13, 13, 304, 61}) ids.push_back(t);
  std::vector<float> px(size_t(3 * S * S));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& v : px) v = u(rng);
  const Tensor pixels = Tensor::from_f32({1, 3, S, S}, px);
  t0 = now();
  const Tensor images = model->image_embeds(pixels);
  const double t_vit = now() - t0;
  t0 = now();
  janus::llm::KvCache cache = model->language_model().new_cache();
  Tensor logits;
  janus::llm::ForwardOutput out;
  out.logits = &logits;
  out.last_only = true;
  model->language_model().forward_embeds(cache, model->splice(ids.data(), int64_t(ids.size()), images), out);
  const double t_prefill = now() - t0;
  std::printf("| understanding: SigLIP + aligner (1 image, %lld px) | %.2f s |\n", (long long)S, t_vit);
  std::printf("| understanding: LM prefill (%zu tokens) | %.2f s |\n", ids.size(), t_prefill);
  std::printf("| understanding: first-token latency | %.2f s |\n", t_vit + t_prefill);
  std::fflush(stdout);

  if (!skip_gen) {
    janus::llm::ImageGenOptions o;
    o.cfg_weight = 5.0f;
    o.seed = 0;
    const double tg = now();
    o.on_progress = [tg](int64_t d, int64_t n) {
      if (d % 64 == 0 || d == n)
        std::fprintf(stderr, "  %lld/%lld codes, %.1f s\n", (long long)d, (long long)n, now() - tg);
    };
    const std::vector<int64_t> prompt = {0,  303, 61,  35,  100, 35, 117, 104, 103,
                                         35, 102, 108, 117, 13,  13, 304, 61,  301};
    const auto r = janus::llm::generate_images(*model, prompt, 2, o);
    std::printf("| generation: prompt prefill (2 CFG rows) | %.2f s |\n", r.prefill_seconds);
    std::printf("| generation: %lld codes x 2 rows | %.1f s (%.1f ms/code) |\n", (long long)c.gen_image_tokens(),
                r.sample_seconds, 1e3 * r.sample_seconds / double(c.gen_image_tokens()));
    std::printf("| generation: VQ decode (1 image) | %.1f s |\n", r.decode_seconds);
    std::printf("| generation: one image with CFG, total | %.1f s |\n",
                r.prefill_seconds + r.sample_seconds + r.decode_seconds);
  }
  std::printf("| peak RSS | %.2f GB |\n", peak_rss_gb());
  return 0;
}
