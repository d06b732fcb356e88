// Running a text-backbone recipe (run_recipe.h) end to end: the library side of `janus train`.
//
// TextRun builds, in order: the tokenizer (recipe.tokenizer_dir), the model
// (TrainableModel::from_checkpoint(init_from) or ::random(config, seed, init_std)), the data
// (read_jsonl of every data.train file, concatenated; PackedLoader with the tokenizer's pad id,
// else its EOS, else 0), the freezing (freeze then unfreeze patterns; a pattern that matches no
// parameter is an error, it is almost always a typo), AdamW and the Trainer.
//
// Tokenisation of a record (deterministic): a "text" record is [BOS] + text + [EOS], every token
// trained; a prompt/answer record is [BOS] + prompt (context) then answer + [EOS], trained on the
// answer only when task.loss is "answer", or "record" and the record says "loss": "answer";
// BOS / EOS only when task.add_bos / add_eos and the tokenizer has them.
//
// One micro-batch: forward(tokens, rows, seq_len, {segments, moe.balance_alpha, precision}),
// loss = lm_loss(..., mtp_lambda, segments).total. After every optimizer step the MoE correction
// biases move by moe.bias_gamma from the step's summed expert load (llm/moe_balance.h); they are
// trainer buffers, so checkpoints carry them and resume stays bit-exact.
//
// Errors: std::runtime_error / kernels::Error naming the recipe file, folder or record. A Janus
// stage recipe throws "<file>: janus.stage: needs the Janus trainable model: run it with
// train::JanusRun ..." (train/run_janus.h runs those).
// Not thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llm/trainable.h"
#include "train/run_recipe.h"
#include "train/trainer.h"

namespace janus::train {

struct RunOverrides {
  int64_t stop_at_step = -1;  // > 0: stop after this many steps, at most recipe.steps (the schedule keeps those)
  bool resume = false;        // continue from the latest valid checkpoint in the output folder
  bool progress = true;       // progress line on stderr
  LogFn log;                  // messages; default stderr
};

// Writes an exported model folder: DIR/model.safetensors (`tensors`, f32), DIR/config.json (a
// copy of config_source), the tokenizer files of recipe.tokenizer_dir and, from recipe.init_from
// when set, the files `from_init` that exist there. Shared by TextRun and JanusRun.
void write_export_folder(const std::string& dir, const llm::NamedTensors& tensors, const std::string& config_source,
                         const RunRecipe& recipe, const std::vector<std::string>& from_init);

// recipe.h trainer_config() for a text or Janus run (shared by TextRun and JanusRun): the recipe's train block and
// output paths; `overrides.stop_at_step` only shortens the run (a larger one is the recipe's steps).
// The trainer does not resume itself: the runs resume first, to know their start step.
TrainerConfig trainer_config(const RunRecipe& recipe, const RunOverrides& overrides);

// Applies the freezing a run asks for, in order: its Janus stage's (janus_stage_freeze; none for a
// text run), then the recipe's freeze and unfreeze lists. Throws "<recipe>: <list>: pattern 'p'
// matches no parameter" for a pattern that matches nothing.
void apply_freeze_lists(kernels::ag::ParamList& params, const RunRecipe& recipe);

struct RunSummary {
  StepResult last;              // the last step run (step == start when none ran)
  int64_t start_step = 0;       // where this run began (> 0 after a resume)
  double first_loss = 0;        // loss of this run's first step (NaN when none ran)
  double first_load_ratio = 0;  // MoE max/mean expert load of this run's first step (0: no MoE)
  double last_load_ratio = 0;   // ... and of its last step
  std::string export_dir;       // where export_model() wrote the final model
};

class TextRun {
 public:
  TextRun(RunRecipe recipe, RunOverrides overrides);
  ~TextRun();

  // Resumes when asked, trains to the stop step, writes the final checkpoint, metrics and loss
  // plot, then exports the model to recipe.export_dir.
  RunSummary run();
  // Writes DIR/model.safetensors (every param and buffer, f32, HF names), DIR/config.json (the
  // model's source config) and the tokenizer files, so `janus run --model DIR` loads it.
  void export_model(const std::string& dir) const;

  llm::TrainableModel& model();
  const RunRecipe& recipe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace janus::train
