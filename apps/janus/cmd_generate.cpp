// janus generate: text-to-image with a Janus model (classifier-free guidance, seeded sampling).
// Writes OUT/img_<seed>_<i>.png (generation parameters in PNG tEXt chunks) and a JSON sidecar
// OUT/img_<seed>_<i>.json per image, each atomically (temporary file + rename).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/janus/command.h"
#include "apps/janus/janus_session.h"
#include "kernels/thread_pool.h"
#include "llm/janus_generate.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace janus::app {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct GenArgs {
  std::string model, prompt, out = ".";
  int64_t n = 1, chunk = 1;
  float cfg = 5.0f, temperature = 1.0f, top_p = 1.0f;            // cfg / temperature: the model's defaults
  CLI::Option *cfg_flag = nullptr, *temperature_flag = nullptr;  // unless these were given
  int top_k = 0, threads = 0;
  uint64_t seed = 0;
  bool quiet = false;  // no progress bar (it is drawn only when stderr is a terminal)
};

void write_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    f.flush();
    if (!f) {
      fs::remove(tmp);
      throw std::runtime_error(path + ": cannot write");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp);
    throw std::runtime_error(path + ": cannot rename into place (" + ec.message() + ")");
  }
}

void progress_bar(int64_t done, int64_t total, double t0) {
  const int width = 30, filled = int(width * done / std::max<int64_t>(total, 1));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count() - t0;
  std::fprintf(stderr, "\r[%s%s] %lld/%lld codes  %.1fs", std::string(size_t(filled), '#').c_str(),
               std::string(size_t(width - filled), '.').c_str(), (long long)done, (long long)total, s);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

int generate(GenArgs a) {
  if (a.threads > 0) kernels::set_num_threads(a.threads);
  if (a.prompt.empty()) throw std::runtime_error("--prompt is empty");
  if (a.n < 1 || a.n > 64) throw std::runtime_error("-n must be in [1, 64]");
  const JanusSession s(a.model);
  const std::string& dir = s.dir();
  const ImageSampling sampling =
      s.image_sampling(a.cfg_flag->count() ? std::optional<float>(a.cfg) : std::nullopt,
                       a.temperature_flag->count() ? std::optional<float>(a.temperature) : std::nullopt);
  a.cfg = sampling.cfg;
  a.temperature = sampling.temperature;

  llm::ImageGenOptions opt;
  opt.num_images = a.n;
  opt.cfg_weight = a.cfg;
  opt.sampling = {a.temperature, a.top_k, a.top_p, 0.0f};
  opt.seed = a.seed;
  opt.decode_chunk = a.chunk;
  const double t0 = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (!a.quiet && isatty(2)) opt.on_progress = [t0](int64_t d, int64_t n) { progress_bar(d, n, t0); };
  const llm::ImageGenResult r = llm::generate_images(s.model(), s.t2i_ids(a.prompt), s.pad_id(), opt);

  fs::create_directories(a.out);
  const int64_t n_codes = r.codes.size(1);
  const auto codes = r.codes.to_i64_vector();
  for (int64_t i = 0; i < a.n; ++i) {
    const vision::Image img = vision::postprocess(r.images.select(0, i));
    const std::string stem = (fs::path(a.out) / ("img_" + std::to_string(a.seed) + "_" + std::to_string(i))).string();
    json side = {
        {"prompt", a.prompt},
        {"model", dir},
        {"index", i},
        {"num_images", a.n},
        {"seed", a.seed},
        {"cfg", a.cfg},
        {"temperature", a.temperature},
        {"sampling_from", sampling.source},
        {"top_k", a.top_k},
        {"top_p", a.top_p},
        {"width", img.width},
        {"height", img.height},
        {"codes", std::vector<int64_t>(codes.begin() + i * n_codes, codes.begin() + (i + 1) * n_codes)},
        {"seconds", {{"prefill", r.prefill_seconds}, {"sample", r.sample_seconds}, {"decode", r.decode_seconds}}}};
    vision::save_png(stem + ".png", img,
                     {{"prompt", a.prompt},
                      {"parameters", "seed=" + std::to_string(a.seed) + " index=" + std::to_string(i) + " cfg=" +
                                         std::to_string(a.cfg) + " temperature=" + std::to_string(a.temperature) +
                                         " top_k=" + std::to_string(a.top_k) + " top_p=" + std::to_string(a.top_p)},
                      {"Software", "janus generate"}});
    write_atomic(stem + ".json", side.dump(1) + "\n");
    std::printf("%s.png\n", stem.c_str());
  }
  if (!a.quiet)
    std::fprintf(stderr, "%lld image(s): prefill %.2fs, sampling %.2fs, VQ decode %.2fs\n", (long long)a.n,
                 r.prefill_seconds, r.sample_seconds, r.decode_seconds);
  return 0;
}

Registrar reg("generate", "Text-to-image with a Janus model (CFG, seeded sampling)", [](CLI::App& sub) {
  auto a = std::make_shared<GenArgs>();
  sub.add_option("--model", a->model, "Janus model folder (default: the embedded model)");
  sub.add_option("--prompt", a->prompt, "what to draw")->required();
  sub.add_option("-n,--num-images", a->n, "images generated in parallel (default 1)");
  a->cfg_flag = sub.add_option("--cfg", a->cfg,
                               "classifier-free guidance weight (default: the model's generation_config.json "
                               "image_generation.cfg, else 5; 1 = no guidance)")
                    ->check(kNonNegative);
  a->temperature_flag = sub.add_option("--temperature", a->temperature,
                                       "sampling temperature (default: the model's image_generation.temperature, "
                                       "else 1; 0 = greedy)")
                            ->check(kNonNegative);
  sub.add_option("--top-k", a->top_k, "keep the k most likely codes (0 = off)")->check(kNonNegative);
  sub.add_option("--top-p", a->top_p, "nucleus sampling mass (1 = off)")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--seed", a->seed, "sampling seed (default 0)");
  sub.add_option("--out", a->out, "output folder (created; default .)");
  sub.add_option("--decode-chunk", a->chunk, "images per VQ decoder pass (memory bound; default 1)")->check(kPositive);
  sub.add_option("--threads", a->threads, "CPU threads (default: all cores)");
  sub.add_flag("-q,--quiet", a->quiet, "no progress bar");
  return [a] { return generate(*a); };
});

}  // namespace
}  // namespace janus::app
