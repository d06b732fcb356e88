// janus train --recipe FILE.json [--resume] [--steps N] [--out DIR] [--threads N] [--quiet]
// Trains a text backbone (or a Janus stage, train/run_janus.h) as the recipe says (schema: train/run_recipe.h; a
// "kind": "vq" recipe trains the VQ image tokenizer instead, train/run_vq.h; "kind": "tokenizer" a BPE
// tokenizer, train/run_tokenizer.h): progress line on stderr, metrics JSONL,
// checkpoints (resumable bit-exactly with --resume), a loss-curve PNG and the final model exported as an HF folder that
// `janus run --model DIR` loads.
// --steps N stops after N steps, at most the recipe's train.steps (the lr schedule still spans those, so the run
// can be continued later with --resume); --out DIR replaces the recipe's output.dir.
#include <chrono>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/janus/command.h"
#include "kernels/thread_pool.h"
#include "train/atomic_file.h"
#include "train/json_file.h"
#include "train/malloc_tuning.h"
#include "train/run_janus.h"
#include "train/run_text.h"
#include "train/run_tokenizer.h"
#include "train/run_vq.h"

namespace janus::app {
namespace {

struct TrainArgs {
  std::string recipe, out;
  bool resume = false, quiet = false, skip_bad = false;
  int64_t steps = 0;
  int threads = 0;
};

// The run's summary line (no newline): steps, wall time since t0, first and last loss.
void print_trained(int64_t from, int64_t to, double seconds, double first_loss, double last_loss) {
  std::fprintf(stderr, "trained steps %lld..%lld in %.1f s: loss %.4f -> %.4f", (long long)from, (long long)to, seconds,
               first_loss, last_loss);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "kind": "vq" recipes (train/run_vq.h): the VQ image tokenizer; `janus vq train` adds its evaluation.
int train_vq(const TrainArgs& a, std::chrono::steady_clock::time_point t0) {
  train::VqTrainOptions o = train::load_vq_options(a.recipe);
  if (!a.out.empty()) train::set_output_dir(o, a.out);
  train::VqTrainOverrides ov;
  ov.stop_at_step = a.steps;
  ov.resume = a.resume;
  ov.progress = !a.quiet;
  const train::VqTrainResult r = train::train_vq(o, ov);
  print_trained(r.start_step, r.last.step, seconds_since(t0), r.first_loss, r.last.loss);
  std::fprintf(stderr, "\nmodel: %s\n", r.export_dir.c_str());
  return 0;
}

// "kind": "tokenizer" recipes (train/run_tokenizer.h): byte-level BPE on the records' text.
int train_tokenizer(const TrainArgs& a, std::chrono::steady_clock::time_point t0) {
  train::TokenizerRecipe r = train::load_tokenizer_recipe(a.recipe);
  if (!a.out.empty()) r.output_dir = a.out;
  const train::TokenizerRunSummary s = train::run_tokenizer_recipe(r);
  std::fprintf(stderr,
               "tokenizer: %lld records, %lld bytes of text -> %lld tokens (%lld merges) in %.1f s\nmodel: %s\n",
               (long long)s.records, (long long)s.corpus_bytes, (long long)s.vocab_size, (long long)s.merges,
               seconds_since(t0), r.output_dir.c_str());
  return 0;
}

int train(const TrainArgs& a) {
  const auto t0 = std::chrono::steady_clock::now();  // the summary's time: loading, training, export
  train::keep_freed_memory();
  if (a.threads > 0) kernels::set_num_threads(a.threads);
  {
    const nlohmann::json j = train::read_json_file(a.recipe);
    if (j.is_object() && j.contains("kind") && j["kind"] == "vq") return train_vq(a, t0);
    if (j.is_object() && j.contains("kind") && j["kind"] == "tokenizer") return train_tokenizer(a, t0);
  }
  train::RunRecipe r = train::load_run_recipe(a.recipe);
  if (!a.out.empty()) train::set_output_dir(r, a.out);
  if (a.skip_bad) r.base.jsonl.skip_bad = true;  // bad records and images: log a line and skip them
  train::RunOverrides ov;
  ov.stop_at_step = a.steps;
  ov.resume = a.resume;
  ov.progress = !a.quiet;
  if (r.janus_stage != 0) {  // Janus-Pro stages: train/run_janus.h
    train::JanusRun run(std::move(r), ov);
    const train::RunSummary s = run.run();
    print_trained(s.start_step, s.last.step, seconds_since(t0), s.first_loss, s.last.loss);
    std::fprintf(stderr, "\nmodel: %s\nmetrics: %s\n", s.export_dir.c_str(), run.recipe().metrics_path.c_str());
    return 0;
  }
  train::TextRun run(std::move(r), ov);
  const train::RunSummary s = run.run();
  print_trained(s.start_step, s.last.step, seconds_since(t0), s.first_loss, s.last.loss);
  if (s.first_load_ratio > 0)
    std::fprintf(stderr, ", MoE load max/mean %.3f -> %.3f", s.first_load_ratio, s.last_load_ratio);
  std::fprintf(stderr, "\nmodel: %s\nmetrics: %s\nloss curve: %s\n", s.export_dir.c_str(),
               run.recipe().metrics_path.c_str(), run.recipe().loss_plot_path.c_str());
  return 0;
}

Registrar reg("train", "Train or fine-tune a model from a recipe JSON (train/run_recipe.h)", [](CLI::App& sub) {
  auto a = std::make_shared<TrainArgs>();
  sub.add_option("--recipe", a->recipe, "recipe JSON file")->required();
  sub.add_flag("--resume", a->resume, "continue from the latest valid checkpoint");
  sub.add_option("--steps", a->steps, "stop after N steps (schedule unchanged)");
  sub.add_option("--out", a->out, "output folder (replaces the recipe's output.dir)");
  sub.add_option("--threads", a->threads, "CPU threads (default: all cores)");
  sub.add_flag("--quiet", a->quiet, "no progress line");
  sub.add_flag("--skip-bad", a->skip_bad,
               "log and skip bad JSONL records and unreadable images (recipe data.skip_bad)");
  return [a] { return train(*a); };
});

}  // namespace
}  // namespace janus::app
