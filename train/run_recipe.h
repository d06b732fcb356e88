// The full `janus train --recipe FILE.json` schema: the generic recipe of recipe.h (data,
// optimizer, schedule, train, freeze) plus what says which model to train and how.
//
// Top-level keys (unknown keys anywhere are errors "<file>: <key path>: unknown key"):
// {
//   "kind": "text",                                  optional; `janus train` sends "vq" recipes to
//                                                    train/run_vq.h instead
//   "name": "tiny-v3",                               free text
//   "model": {"init_from": "models/x"}               an HF folder (config.json + safetensors), or
//            {"config": "cfg.json", "seed": 0,       random init from a config.json (seeded,
//             "init_std": 0.02},                     TrainableModel::random)
//            "weights_from": ["runs/vq/final",       (optional, Janus) folders whose tensors then
//              {"dir": "runs/x/final",               replace the parameters (and buffers) of
//               "rename": {"a.layers.4.":            the same names, in list order; "rename"
//                          "a.layers.6."}}],         maps name prefixes first (longest wins)
//            "zero_init": ["a.layers.4.*.o_proj.*"]  (optional, Janus) parameters set to zero
//                                                    after init, before weights_from (block
//                                                    expansion: new layers start as identity)
//   "tokenizer": "tok/",                             folder with tokenizer.json; default: init_from
//   "data":      {...}   recipe.h: train files, seq_len, rows, seed, shuffle, skip_bad, check_images
//   "task": {"loss": "record" | "all" | "answer",    record: as each JSONL record says (data.h);
//                                                    all: every token; answer: answer tokens only
//            "add_bos": true, "add_eos": true},      BOS before / EOS after every example
//   "optimizer", "schedule", "train", "freeze", "unfreeze"      recipe.h, unchanged
//   "precision": "fp32" | "bf16" | "fp8",            GEMM emulation (kernels ag::GemmPrecision);
//                                                    master weights and optimizer stay f32
//   "mtp_lambda": 0.3,                               weight of the MTP loss (models with MTP)
//   "moe": {"bias_gamma": 0.001,                     aux-loss-free bias step per optimizer step
//           "balance_alpha": 0.0},                   sequence-wise balance loss weight (0: off)
//   "output": {"dir": "runs/tiny",                   relative to the recipe's folder
//              "checkpoints": "checkpoints",         these four relative to output.dir
//              "metrics": "metrics.jsonl", "loss_plot": "loss.png", "export": "final"},
//   "janus": {"stage": 1 | 2 | 3,                    Janus-Pro stages (see below)
//             "cfg_dropout": 0.0}                    t2i prompts dropped for classifier-free guidance
// }
// Defaults are those shown; "model" and "data" are required. Paths are relative to the recipe
// file's folder unless absolute. The train.steps of the recipe is the schedule's length; a CLI
// `--steps N` only stops the run early (so a cut run resumes onto the same schedule).
//
// Janus stages (extension point): "janus": {"stage": s} is parsed and validated here, and implies
// the stage's freezing before the recipe's own freeze/unfreeze lists: stage 1 trains only the
// aligners and the generation head/embedding (janus_stage_freeze()), stages 2 and 3 train
// everything but the vision encoders (SigLIP and the VQ tokenizer). train/run_janus.h runs such
// recipes (`janus train` dispatches there); TextRun refuses them.
//
// The resume hash (Recipe::hash) covers these keys too (all but name and output), so a resumed
// run cannot silently change the model, tokenizer, task, precision or balancing.
// Errors: std::runtime_error "<file>: <key path>: <problem>".
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"
#include "train/recipe.h"

namespace janus::train {

enum class LossScope { kRecord, kAll, kAnswer };

// RunPaths (recipe.h): the "output" section, resolved.
struct RunRecipe : RunPaths {
  std::string source;  // the recipe file (for messages)
  Recipe base;         // recipe.h part; base.model = a canonical description of the model source

  std::string init_from;    // HF folder, or empty
  std::string config_path;  // config.json for random init, or empty
  uint64_t init_seed = 0;
  // Folders (config.json + safetensors) whose tensors replace the parameters of the same names
  // after initialisation (e.g. a separately trained VQ tokenizer); JanusRun only. `rename` maps
  // tensor-name prefixes (folder name -> model name; the longest matching prefix applies), so a
  // checkpoint can seed a deeper model (its MTP layer moved past the new layers).
  struct WeightsFrom {
    std::string dir;
    std::vector<std::pair<std::string, std::string>> rename;
  };
  std::vector<WeightsFrom> weights_from;
  // Parameter patterns (freeze.h glob syntax; each must match) zeroed after initialisation and
  // before weights_from; JanusRun only.
  std::vector<std::string> zero_init;
  std::optional<double> init_std;  // model.init_std as given; TextRun's default is 0.02 (JanusRun refuses it)
  std::string tokenizer_dir;

  LossScope loss = LossScope::kRecord;
  bool add_bos = true, add_eos = true;

  kernels::ag::GemmPrecision precision = kernels::ag::GemmPrecision::kFull;
  double mtp_lambda = 0.3;
  double moe_bias_gamma = 0.001, moe_balance_alpha = 0.0;

  int janus_stage = 0;  // 0: a text backbone
  // Janus t2i: probability that a record's prompt is replaced by the unconditional one (BOS, pads,
  // <begin_of_image>: the row classifier-free guidance runs at inference). Drawn per (data seed,
  // epoch, record), so a resumed run drops the same prompts.
  double cfg_dropout = 0.0;
};

RunRecipe parse_run_recipe(const std::string& json_text, const std::string& source, const std::string& base_dir);
RunRecipe load_run_recipe(const std::string& path);

// Freeze patterns a Janus stage implies (stage 1: freeze "*", unfreeze the aligners and the
// generation head/embedding; stages 2-3: freeze the vision encoders). Empty lists for stage 0.
struct StageFreeze {
  std::vector<std::string> freeze, unfreeze;
};
StageFreeze janus_stage_freeze(int stage);

const char* precision_name(kernels::ag::GemmPrecision p);

}  // namespace janus::train
