// Training checkpoints: crash-safe save, validation, keep-last-N pruning, and bit-exact load.
//
// Layout: DIR/step-NNNNNN/ (step zero-padded to 6 digits, more if needed) holding
//   model.safetensors      every param of the ParamList (frozen ones too), as stored (f32), and
//                          the buffers (tensors updated outside the optimizer, e.g. MoE biases)
//   optimizer.safetensors  AdamW::export_state()
//   checkpoint.json        the "complete" marker, written last (atomically), e.g.
//     {"format": "janus-train-checkpoint", "version": 1, "step": 10,
//      "cursor": {"epoch": 0, "index": 40}, "rng": ["9e37...", ...4 hex words],
//      "recipe_hash": "...", "extra": {...},
//      "files": {"model.safetensors": {"bytes": 1234, "fnv1a64": "cbf2..."}, ...}}
// Save order: remove a stale marker of the same step (fsync), write both safetensors files
// (each atomic: temp, fsync, rename), hash them, then write the marker atomically, then prune. A
// crash at any point leaves either no marker (the folder is ignored) or a complete checkpoint.
//
// Valid checkpoint = marker parses with the expected format/version and step, and every listed
// file exists with the recorded size and FNV-1a 64 hash, and opens as safetensors. So a truncated
// or altered file after the marker (disk trouble, a manual copy) is caught too.
// find_latest_checkpoint() walks step folders from the highest step down and returns the first
// valid one, logging one line per folder it skips with the reason, e.g.
//   "checkpoint /r/step-000020 ignored: no checkpoint.json (interrupted write?); trying older".
//
// Pruning keeps the newest `keep_last` complete checkpoints (marker present; files are not re-hashed
// here) (keep_last <= 0 keeps all) and removes older ones and incomplete folders older than the newest complete one
// (never a folder newer than it: that may be a write in progress by this run). A folder is removed marker first, so a
// crash mid-removal cannot leave something that looks valid. Errors: std::runtime_error / kernels::Error naming the
// folder or file and the problem.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "kernels/autograd/var.h"
#include "llm/safetensors.h"
#include "train/data.h"
#include "train/rng.h"

namespace janus::train {

struct CheckpointMeta {
  int64_t step = 0;
  DataCursor cursor;
  Rng::State rng{};
  std::string recipe_hash;
  nlohmann::json extra = nlohmann::json::object();  // small caller state (hooks, notes)
};

struct Checkpoint {
  std::string path;  // the step folder
  CheckpointMeta meta;
  std::shared_ptr<llm::SafetensorsFile> model, optimizer;  // mapped files (read-only)
};

// "DIR/step-000010"
std::string checkpoint_path(const std::string& dir, int64_t step);

// Writes a checkpoint of `params`, `buffers` and `optimizer_state` into
// checkpoint_path(dir, meta.step), then prunes to keep_last. Returns the step folder. Param and
// buffer names must be distinct (kernels::Error otherwise).
std::string save_checkpoint(const std::string& dir, const CheckpointMeta& meta, const kernels::ag::ParamList& params,
                            const llm::NamedTensors& optimizer_state, int keep_last,
                            const llm::NamedTensors& buffers = {});

// Empty when `step_dir` holds a valid checkpoint, else the reason it is not one.
std::string validate_checkpoint(const std::string& step_dir);

// The newest valid checkpoint folder in `dir`, or nullopt (also when `dir` does not exist).
std::optional<std::string> find_latest_checkpoint(const std::string& dir, const LogFn& log = {});

// Opens a checkpoint (validating it first; throws std::runtime_error with the reason if invalid).
Checkpoint load_checkpoint(const std::string& step_dir);

// Copies the checkpoint's weights into `params` and `buffers` (in place: the tensors keep their
// identity) by name, bit-exactly. Every param and buffer must be present with the same dtype and
// shape, and the file must hold no other tensor (kernels::Error naming the tensor otherwise).
void restore_params(const llm::SafetensorsFile& model, const kernels::ag::ParamList& params,
                    const llm::NamedTensors& buffers = {});

// Folders with a step above `up_to_step` (when >= 0; save_checkpoint passes the step it just
// wrote) are neither counted nor removed, so a newer leftover (a damaged checkpoint that resume
// skipped, an earlier run's) can never cause the new checkpoint to be pruned.
void prune_checkpoints(const std::string& dir, int keep_last, const LogFn& log = {}, int64_t up_to_step = -1);

// FNV-1a 64 of a file's bytes / of a string (e.g. a recipe's JSON text, for recipe_hash), as 16
// hex digits.
std::string file_fnv1a64(const std::string& path);
std::string fnv1a64_hex(const std::string& bytes);

}  // namespace janus::train
