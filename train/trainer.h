// The training loop, model-agnostic: parameters, a loss function, data, AdamW, an lr schedule.
//
// One step (Trainer::train_step):
//   zero_grad; for k in 1..grad_accum: batch = data.next_batch(); loss = loss_fn(batch, rng);
//   backward(loss, seed = 1/grad_accum)        (grads accumulate: the mean over micro-batches)
//   grad_norm = clip_grad_norm(params, clip_norm)     (norm only when clip_norm <= 0)
//   if grad_norm is finite (or !skip_nonfinite): optimizer.step(schedule.lr(step))
//   step += 1; hooks(result); metrics line; progress bar; checkpoint every N steps.
// loss_fn must return a one-element Var: the micro-batch's mean loss. It gets the trainer's Rng
// (dropout, sampling), whose state is saved in checkpoints. Hooks run after the optimizer update,
// in the order added (e.g. DeepSeek-V3's MoE bias update from the step's expert load); state a
// hook keeps must live in params (trainable = false params are saved too) or in buffers
// (set_buffers: e.g. TrainableModel::buffers(), the MoE correction biases) to survive a resume.
//
// Exact resume: a checkpoint holds every param value, the buffers, the optimizer state (m, v, per-param step
// counts), the Rng state, the data cursor and the step; the lr is a pure function of the step.
// So N steps straight and k steps + save + a fresh process + resume + (N-k) steps give the same
// bits, provided loss_fn is deterministic (tests/train/test_trainer.cpp checks it with memcmp),
// also when the resumed process has another thread count (autograd ops, clipping and AdamW do not
// depend on the pool size).
// Resume refuses a checkpoint whose recipe_hash differs from the config's (unless either is
// empty), naming both hashes.
// Not thread-safe. The ParamList is copied (Var handles: the same tensors; trainable flags as at
// construction); the optimizer and data source are borrowed and must outlive the Trainer.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/autograd/var.h"
#include "llm/safetensors.h"
#include "train/data.h"
#include "train/optimizer.h"
#include "train/progress.h"
#include "train/rng.h"
#include "train/schedule.h"

namespace janus::train {

struct TrainerConfig {
  int64_t total_steps = 0;     // run() stops here
  int64_t grad_accum = 1;      // micro-batches per optimizer step
  double clip_norm = 0;        // global grad-norm clip; <= 0: off
  bool skip_nonfinite = true;  // skip the update when the grad norm is NaN/Inf (counted)
  uint64_t seed = 0;           // the trainer Rng (loss_fn's dropout etc.)

  std::string checkpoint_dir;    // empty: no checkpoints
  int64_t checkpoint_every = 0;  // steps; <= 0: only the final one (when checkpoint_dir is set)
  int keep_last = 3;             // <= 0: keep all
  bool resume = false;           // run(): continue from the latest valid checkpoint, if any
  std::string recipe_hash;       // stored in checkpoints and checked on resume

  std::string metrics_path;     // JSONL, one line per step; empty: none
  std::string loss_curve_path;  // PNG written when run() ends; empty: none
  bool progress = true;         // progress line on stderr
  int64_t log_every = 10;       // non-TTY progress line interval
  LogFn log;                    // messages (resume, checkpoints); default: stderr
};

struct StepResult {
  int64_t step = 0;  // steps done after this one (1 for the first)
  double loss = 0;   // mean over the micro-batches
  double lr = 0, grad_norm = 0;
  int64_t tokens = 0, target_tokens = 0;  // summed over micro-batches
  bool skipped = false;                   // non-finite grads: no update
  std::map<std::string, double> extra;    // record()ed values, each averaged over its calls
};

class Trainer {
 public:
  using LossFn = std::function<kernels::ag::Var(const Batch&, Rng&)>;
  using Hook = std::function<void(const StepResult&)>;

  Trainer(kernels::ag::ParamList params, AdamW& optimizer, LrSchedule schedule, DataSource& data, LossFn loss_fn,
          TrainerConfig config);
  ~Trainer();

  void add_hook(Hook h) { hooks_.push_back(std::move(h)); }
  // Tensors changed in place outside the optimizer (by hooks): saved with the weights and restored
  // in place on resume. Names must differ from the params'. Call before run()/resume().
  void set_buffers(llm::NamedTensors buffers) { buffers_ = std::move(buffers); }

  // Loads the latest valid checkpoint of config.checkpoint_dir (params, optimizer, rng, cursor,
  // step). Returns its folder, or nullopt when there is none (training starts fresh).
  std::optional<std::string> resume();
  StepResult train_step();
  // resume() if config.resume, then steps until total_steps (checkpointing every N and at the
  // end), then the loss curve. Returns the last step's result (step == total when nothing ran).
  StepResult run();
  // Checkpoints the current state now; returns the folder. Throws without a checkpoint_dir.
  std::string save_checkpoint();

  // Adds a named scalar to the current step (e.g. from loss_fn: the main and MTP losses, MoE
  // max/mean load). Values recorded several times in a step (micro-batches) are averaged; they
  // appear in StepResult::extra and in the metrics line.
  void record(const std::string& key, double value);

  int64_t step() const { return step_; }
  Rng& rng() { return rng_; }
  int64_t skipped_steps() const { return skipped_; }

 private:
  void log(const std::string& m) const;
  void open_outputs();

  kernels::ag::ParamList params_;
  AdamW& opt_;
  LrSchedule schedule_;
  DataSource& data_;
  LossFn loss_fn_;
  TrainerConfig cfg_;
  std::vector<Hook> hooks_;
  llm::NamedTensors buffers_;
  Rng rng_;
  int64_t step_ = 0, skipped_ = 0, last_saved_ = -1;
  std::map<std::string, std::pair<double, int64_t>> pending_;  // record(): sum, count
  std::unique_ptr<MetricsWriter> metrics_;
  std::unique_ptr<ProgressBar> bar_;
};

}  // namespace janus::train
