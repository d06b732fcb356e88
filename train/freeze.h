// Freezing and unfreezing parameters by name patterns, and glob matching of parameter names.
//
// Patterns are glob-like and match the whole name: `*` matches any run of characters (dots
// included, so "model.layers.*.mlp.*" matches "model.layers.12.mlp.up_proj.weight"), `?` one
// character, anything else itself. No character classes, no escapes.
//
// Freezing sets NamedParam::trainable = false and the Var's requires_grad to false, so later
// forwards record no gradient for it and AdamW skips it; its value is untouched (and still saved in
// checkpoints). Unfreezing does the reverse. Neither touches existing grads or optimizer state.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/autograd/var.h"

namespace janus::train {

namespace ag = janus::kernels::ag;

bool glob_match(const std::string& pattern, const std::string& name);
// True when any pattern matches.
bool glob_match_any(const std::vector<std::string>& patterns, const std::string& name);

struct FreezeReport {
  int64_t tensors_changed = 0;    // params whose trainable flag this call flipped
  int64_t tensors_matched = 0;    // params matched by at least one pattern
  int64_t trainable_tensors = 0;  // after the call, over the whole list
  int64_t frozen_tensors = 0;
  int64_t trainable_elements = 0;  // numel summed
  int64_t frozen_elements = 0;
  std::vector<std::string> unmatched_patterns;  // patterns that matched no name (likely typos)
  // "trainable 12 tensors (1.2M elements), frozen 30 tensors (8.4M elements)"
  std::string summary() const;
};

FreezeReport freeze(ag::ParamList& params, const std::vector<std::string>& patterns);
FreezeReport unfreeze(ag::ParamList& params, const std::vector<std::string>& patterns);
// Counts only (no change); unmatched_patterns stays empty.
FreezeReport count_trainable(const ag::ParamList& params);

}  // namespace janus::train
