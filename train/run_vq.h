// Training the VQ image tokenizer (vision/trainable_vq.h, LlamaGen losses) end to end: the
// library side of a `"kind": "vq"` recipe.
//
// Recipe JSON (parse_vq_options; unknown keys anywhere are errors "<file>: <key path>: unknown key";
// defaults are those shown; paths are relative to the recipe file's folder unless absolute):
// {
//   "kind": "vq",                                  required, exactly "vq"
//   "name": "shapes-vq",                           free text
//   "model": {"vq_config": {...},                  vision_config.h VqConfig fields (transformers
//                                                  JanusVQVAEConfig names); absent fields take the
//                                                  tiny defaults of VqTrainOptions (embed 8, codebook
//                                                  512, latent 32, base 32, [1, 1, 2], 1 res block);
//                                                  base_channels·multiplier must be a multiple of 32;
//                                                  num_patches is always image_size / 2^(levels−1)
//             "seed": 0},                          seeded random init (vision::ParamMaker)
//   "data": {"shapes_seed": 0,                     on-the-fly shapes scenes generate_scene(seed, i) ...
//            "images": "dir/",                     ... or a folder of PNGs (exactly one of the two)
//            "seed": 0, "shuffle": true,           the folder's epoch order (data.h epoch_order)
//            "image_size": 64,                     square side; a multiple of 2^(levels−1)
//            "batch": 8},                          images per micro-batch
//   "loss": {"beta": 0.25, "codebook_weight": 1.0, "reconstruction_weight": 1.0,    VqLossOptions
//            "restart_dead_codes": 0,              every N steps (0: off), see below
//            "quantize_after": 0},                 quantisation warm-up steps (0: off), see below
//   "optimizer": {"lr": 1e-3, "betas": [0.9, 0.99], "eps": 1e-8, "weight_decay": 0.0,
//                 "no_decay": ["*norm*", "*.bias"], "groups": [...]},      (recipe.h)
//   "schedule": {"kind": "cosine", "warmup_steps": 0, "min_lr": 0, "total_steps": train.steps,
//                "decay_steps": 0, "wsd_cosine_decay": false},                  (schedule.h)
//   "train": {"steps": 1000, "grad_accum": 1, "clip_norm": 1.0, "seed": 0,
//             "checkpoint_every": 0, "keep_last": 3, "log_every": 10},
//   "eval": {"shapes_seed": 1000003, "scenes": 200},   held-out scenes for evaluate_vq_shapes
//   "output": {"dir": "runs/<name>",               these four relative to output.dir:
//              "checkpoints": "checkpoints", "metrics": "metrics.jsonl",
//              "loss_plot": "loss.png", "export": "final"}
// }
// Errors: std::runtime_error "<file>: <key path>: <problem>" (e.g. "r.json: data.batch: expected an
// integer >= 1, got 0"); the vq_config's own errors come as "<file>: model.vq_config: ...".
// hash: FNV-1a 64 of the canonical JSON of everything that changes the numbers (all but name,
// eval, output and train.steps / checkpoint_every / keep_last / log_every); a resume checks it.
//
// The run (train_vq): TrainVqModel (random init, "model.vqmodel." names) + AdamW + the schedule
// + train::Trainer over VqImageSource (vq_data.h); one micro-batch's loss = vq_tokenizer_losses
// (…).total, with "rec", "codebook", "commit" and "codes_used" (distinct codes in the batch)
// recorded in the metrics JSONL. Checkpoints every N steps and at the end, exact resume, progress
// line, loss-curve PNG (trainer.h). At the end the model is exported (export_vq).
//
// Dead-code restarts (not in LlamaGen; the random-restart remedy for codebook collapse, as in
// Jukebox / Dhariwal et al. 2020): with restart_dead_codes = N > 0, after every N-th optimizer step
// each codebook row not chosen by any latent during the last N steps is overwritten with a
// normalised latent ẑ of that step's batch, drawn with the trainer's Rng with probability
// proportional to ‖ẑ − ê_k‖² (its quantisation error: the worst-served latents, not the white
// background that most latents of a shapes scene show, get the new codes). The step each
// code was last chosen is the trainer buffer "model.vqmodel.quantize.last_used" (f32 [V], not
// exported), so checkpoints carry it and resume stays bit-exact. The number restarted is logged.
//
// Quantisation warm-up with a k-means codebook (the data-dependent initialisation of
// SoundStream's / vector-quantize-pytorch's kmeans_init, after an autoencoder warm-up): with
// quantize_after = W > 0, steps 1..W train encoder and decoder as a plain autoencoder on the
// normalised latents ẑ (VqLossOptions::quantize = false). After step W the codebook is set to
// spherical k-means centroids of the encoder's ẑ on a separate, fixed set of whole batches of at
// least K = ⌈32·V / tokens per image⌉ images (shapes: scene stream seed shapes_seed + 1; folder:
// the same PNGs in the order of data seed + 1), k-means++ seeds drawn with the trainer's Rng, 50
// Lloyd iterations in double, an empty cluster re-seeded with the row farthest from its
// centroid; every code then counts as used at step W. Steps W+1.. quantise as usual. The switch
// happens before step W's checkpoint, so resume stays exact. Measured on the 48 px, 16× shapes VQ
// (bench/RESULTS.md): the unquantised autoencoder learnt no faster than the quantised run, so the
// warm-up does not rescue a 3×3 latent grid; the shipped VQ (8×, 6×6) does not use it.
//
// Export folder: model.safetensors (every parameter, f32, transformers `janus` names
// "model.vqmodel.*") and config.json {"model_type": "janus_vq", "image_size": S,
// "vq_config": {all VqConfig fields; num_patches = S / 2^(levels−1)}}; load_vq_export() reads it
// back into the inference vision::VqModel.
// Not thread-safe.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "kernels/autograd/var.h"
#include "train/recipe.h"
#include "train/trainer.h"
#include "vision/trainable_vq.h"
#include "vision/vision_config.h"
#include "vision/vq.h"

namespace janus::train {

// The optimizer / schedule / train sections (TrainSections) and the output paths (RunPaths) are
// recipe.h's, with a VQ run's defaults (lr 1e-3, betas (0.9, 0.99), no weight decay).
struct VqTrainOptions : TrainSections, RunPaths {
  std::string source;  // recipe file (messages)
  std::string name = "shapes-vq";

  vision::VqConfig vq;  // num_patches is set to image_size / downsample_factor
  uint64_t init_seed = 0;

  std::string image_dir;     // PNG folder; empty: shapes scenes
  uint64_t shapes_seed = 0;  // on-the-fly scenes
  uint64_t data_seed = 0;    // PNG folder order
  bool shuffle = true;
  int image_size = 64;
  int64_t batch = 8;

  vision::VqLossOptions loss;
  int64_t restart_dead_codes = 0;  // steps; 0: off
  int64_t quantize_after = 0;      // autoencoder warm-up steps before the k-means codebook; 0: off

  uint64_t eval_seed = 1000003;
  int64_t eval_scenes = 200;

  std::string hash;

  VqTrainOptions();  // the defaults above, output under "runs/shapes-vq"
  int64_t grid() const { return image_size / vq.downsample_factor(); }
};

// `file` names the recipe in messages; relative paths resolve against its folder.
VqTrainOptions parse_vq_options(const nlohmann::json& recipe, const std::string& file);
VqTrainOptions load_vq_options(const std::string& path);

struct VqTrainOverrides {
  int64_t stop_at_step = -1;  // > 0: stop after this many steps (the schedule keeps options.steps)
  bool resume = false;        // continue from the latest valid checkpoint
  bool progress = true;       // progress line on stderr
  bool export_model = true;   // write options.export_dir at the end
  LogFn log;                  // messages; default stderr
};

struct VqTrainResult {
  StepResult last;                // the last step run
  int64_t start_step = 0;         // > 0 after a resume
  double first_loss = 0;          // this run's first step (NaN when none ran)
  double seconds = 0;             // wall time of the steps of this run
  std::string export_dir;         // where the model went ("" when not exported)
  kernels::ag::ParamList params;  // the trained parameters (names "model.vqmodel.*")
};

VqTrainResult train_vq(const VqTrainOptions& options, const VqTrainOverrides& overrides = {});

// Writes DIR/model.safetensors and DIR/config.json (see the header comment).
void export_vq(const std::string& dir, const kernels::ag::ParamList& params, const vision::VqConfig& cfg,
               int image_size);

struct LoadedVq {
  vision::VqModel model;
  int image_size = 0;
};
// Reads an export folder. Errors name the file (missing, bad JSON) or the tensor (VqModel's).
LoadedVq load_vq_export(const std::string& dir);

// The config.json object written by export_vq.
nlohmann::json vq_export_config(const vision::VqConfig& cfg, int image_size);

}  // namespace janus::train
