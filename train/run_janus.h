// Running a Janus stage recipe ("janus": {"stage": 1 | 2 | 3}, run_recipe.h) end to end on image +
// text JSONL data: the library side of `janus train` for the multimodal model.
//
// JanusRun builds, in order: the tokenizer (recipe.tokenizer_dir), the model
// (llm::TrainableJanus::from_checkpoint(init_from), or ::random(load_janus_config(config), seed)
// then model.weights_from: each folder's tensors replace the parameters and buffers (MoE correction
// biases) of the same names, in list order, e.g. an earlier stage's export, then a VQ tokenizer
// trained by a "kind": "vq" recipe), the records (read_jsonl of every data.train file;
// a file listed twice is read twice: the way to weight a task), the freezing
// (janus_stage_freeze(stage) first, then the recipe's freeze and unfreeze lists; a pattern matching
// no parameter is an error), AdamW, the data (JanusLoader below, wrapped in a PrefetchSource of
// depth 2 that loads and preprocesses the images on worker threads) and the Trainer (checkpoints
// with the MoE correction biases as buffers, exact resume, metrics, loss plot).
//
// One record = one row (no packing: the Janus forward has no segment masks). Per record task:
//   "t2i" (text to image): ids = [BOS] + janus chat template of {"user": prompt} with the
//       generation prompt + "<begin_of_image>"; exactly one image, preprocessed (resize + pad,
//       [-1, 1]) to the VQ's image side num_patches·2^(levels−1) and encoded to K = num_patches²
//       codes by the model's own VQ under NoGradGuard (on the training thread; with the VQ frozen
//       each image path is encoded once per process and its codes reused); loss =
//       generation_loss(prompt, codes) (the prompt's last token predicts code 0). With
//       janus.cfg_dropout p, a drawn fraction p of t2i rows get the unconditional prompt (BOS,
//       pads, <begin_of_image>), the row classifier-free guidance uses at inference.
//   anything else (caption, vqa, reasoning, text, ...: understanding): one "<image_placeholder>\n"
//       per image is put before the prompt unless the prompt already holds the tag; the janus
//       chat template renders "<|User|>: …\n\n<|Assistant|>:" with each tag expanded to
//       <begin_of_image> + N placeholders + <end_of_image> (N = config image_tokens()); ids =
//       [BOS] + that, then " " + answer + [EOS]; images preprocessed to the vision image_size;
//       loss on the answer tokens (task.loss "answer", or "record" with the record's "loss"), or
//       on every token but image placeholders ("all"). A "text" record is [BOS] text [EOS].
//   An understanding example longer than data.seq_len is cut (the placeholders must survive the
//   cut); a t2i example with P + K > seq_len is an error.
// A micro-batch of data.rows records: understanding rows run as one forward (right-padded to the
// longest), t2i rows grouped by prompt length; loss = the mean over every trained token of the
// micro-batch (each part's mean CE weighted by its token count); each part's CE is
// main + mtp_lambda · mtp when the backbone has an MTP module (llm/trainable_janus.h). Metrics get
// "loss_und", "loss_gen" (each part's main CE) and "loss_mtp" (recorded only when present). After
// each step the MoE correction biases move by moe.bias_gamma from the step's expert loads.
//
// Bad images (missing, unreadable, corrupt): the batch preparation throws
// "<file>:<line>: image '<path>': <reason>" from the step that needs it; with data.skip_bad the
// step that meets the record logs "skipping <that message>" (one line each time a step meets it;
// batches prepared ahead but never trained are not counted) and trains without it (a batch left
// with no record trains on a zero loss, zero gradients).
// Export (export_model): DIR/model.safetensors (every parameter and MoE correction bias, f32, the
// transformers `janus` names; MTP at model.language_model.layers.L.*), DIR/config.json (copied;
// the transformers layout only — an original `multi_modality` config is refused with an error),
// the tokenizer files and processor_config.json (init_from's, else one with "system_prompt": ""
// — rows are trained without a system prompt, and `janus chat` reads it), so
// llm::JanusModel::load(DIR) loads it.
// moe.balance_alpha > 0 adds the sequence-wise balance loss (TrainableJanus: each forward's rows
// are its sequences; the step averages the forwards' totals by their target tokens, as the main
// losses). Not wired yet: "precision" other than "fp32" (refused). model.init_std is refused (a
// Janus random init takes its scales from the config).
// Errors: std::runtime_error / kernels::Error naming the recipe file, folder or record.
// Not thread-safe.
#pragma once
#include <memory>
#include <string>

#include "llm/trainable_janus.h"
#include "train/run_text.h"

namespace janus::train {

class JanusRun {
 public:
  // recipe.janus_stage must be 1, 2 or 3.
  JanusRun(RunRecipe recipe, RunOverrides overrides);
  ~JanusRun();

  // Resumes when asked, trains to the stop step (final checkpoint, metrics, loss plot), exports.
  RunSummary run();
  void export_model(const std::string& dir) const;

  llm::TrainableJanus& model();
  const RunRecipe& recipe() const;
  int64_t skipped_records() const;  // records dropped for bad images (data.skip_bad)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace janus::train
