// Training recipes: one JSON file that says what to train, on what, and how (`janus train --recipe`).
//
// Schema (every section optional except "data"; unknown keys are errors, so typos are caught):
// {
//   "name": "stage1",                         free text
//   "model": "models/janus-shapes",           model folder (interpreted by the caller)
//   "data": {"train": ["a.jsonl", ...],       relative to the recipe file's folder
//            "seq_len": 512, "rows": 8, "seed": 0, "shuffle": true,
//            "skip_bad": false, "check_images": false},
//   "optimizer": {"lr": 3e-4, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1,
//                 "no_decay": ["*norm*", "*.bias"],       (no_decay: weight decay 0 for these)
//                 "groups": [{"params": ["model.vision_model.*"], "lr_scale": 0.25,
//                             "weight_decay": 0.1}]},   (torch-style param groups: the first
//                             group whose pattern matches a name sets its lr multiplier and weight
//                             decay; groups are matched before no_decay)
//   "schedule": {"kind": "cosine" | "constant" | "wsd", "warmup_steps": 0, "min_lr": 0,
//                "total_steps": train.steps, "decay_steps": 0, "wsd_cosine_decay": false},
//   "train": {"steps": 1000, "grad_accum": 1, "clip_norm": 1.0, "seed": 0,
//             "checkpoint_every": 0, "keep_last": 3, "log_every": 10},
//   "freeze": ["vision.*"], "unfreeze": ["model.layers.*.mlp.*"],   (freeze first, then unfreeze)
//   "model_options": {...}                    passed through for the model (e.g. MTP λ, MoE γ)
// }
// Defaults are those shown; numbers (rates, decays, norms) are finite and >= 0. Errors:
// std::runtime_error "<file>: <key path>: <problem>", e.g.
// "r.json: optimizer.betas: expected an array of 2 numbers".
//
// hash: FNV-1a 64 of the canonical JSON (keys sorted, defaults filled) of everything that changes
// the numbers of a run — all but name, train.steps, train.checkpoint_every, train.keep_last and
// train.log_every — so a run may be extended or re-logged and still resume, but not altered.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/data.h"
#include "train/json_file.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/trainer.h"

namespace janus::train {

// The "optimizer", "schedule" and "train" sections every recipe kind shares (Recipe here,
// VqTrainOptions in run_vq.h, which hold them as a base). Schema and defaults as above, except
// that each kind chooses its own defaults for lr, betas and weight_decay (parse_train_sections
// reads over the values it is given).
struct TrainSections {
  double lr = 3e-4;
  AdamWConfig adamw;  // groups: optimizer.groups in order, then the no_decay group
  LrSchedule schedule;
  int64_t steps = 1000, grad_accum = 1, checkpoint_every = 0, log_every = 10;
  double clip_norm = 1.0;
  uint64_t seed = 0;
  int keep_last = 3;
};

// Reads root's "optimizer", "train" and "schedule" objects (each optional) over the defaults in
// `t`, and sets canon["optimizer"], canon["train"] and canon["schedule"] to what of them changes
// the numbers, defaults filled in (for the resume hash).
void parse_train_sections(const JsonReader& rd, const nlohmann::json& root, TrainSections& t, nlohmann::json& canon);

// Where a run writes: the "output" section {"dir": D, "checkpoints": "checkpoints", "metrics":
// "metrics.jsonl", "loss_plot": "loss.png", "export": "final"}; D relative to the recipe's folder
// (default given by the kind), the other four relative to D. Resolved paths.
struct RunPaths {
  std::string output_dir, checkpoint_dir, metrics_path, loss_plot_path, export_dir;
};
void parse_output_section(const JsonReader& rd, const nlohmann::json& root, const std::string& default_dir,
                          RunPaths& p);
// Re-roots every output path under `dir` (CLI --out).
void set_output_dir(RunPaths& p, const std::string& dir);

// The Trainer settings of a run of `t` writing to `paths`. stop_at_step > 0 stops the run there
// (never past t.steps: the schedule keeps its length).
TrainerConfig trainer_config(const TrainSections& t, const RunPaths& paths, const std::string& hash,
                             int64_t stop_at_step, bool progress, LogFn log);

struct Recipe : TrainSections {
  std::string name, model;
  std::vector<std::string> train_files;  // resolved paths
  PackOptions pack;                      // rows, seq_len, seed, shuffle (pad_id: the caller's tokenizer)
  JsonlOptions jsonl;                    // skip_bad, check_images
  std::vector<std::string> freeze, unfreeze;
  nlohmann::json model_options = nlohmann::json::object();
  std::string hash;
};

// `source` names the recipe in errors; relative data paths resolve against `base_dir`.
Recipe parse_recipe(const std::string& json_text, const std::string& source, const std::string& base_dir);
Recipe load_recipe(const std::string& path);

}  // namespace janus::train
