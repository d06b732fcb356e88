// AdamW over a ParamList, numerically the same as torch.optim.AdamW (foreach=False, the default
// single-tensor path on CPU), with fp32 optimizer state.
//
// Per parameter p (f32 values; its grad g accumulated by backward), on each step(lr):
//   t += 1                                        (per-parameter step count, as torch)
//   p *= float(1 - lr·wd)                         decoupled weight decay, first
//   m  = fma(float(1-β1), g - m, m)               torch's exp_avg.lerp_(g, 1-β1)
//   v  = fma(float(1-β2)·g, g, v·β2)              torch's exp_avg_sq.mul_(β2).addcmul_(g, g, 1-β2)
//   denom = sqrt(v) / float(sqrt(1-β2^t)) + eps   bias corrections computed in double, as Python
//   p += float(-lr/(1-β1^t)) · m / denom          torch's addcdiv_(m, denom, value=-step_size)
// Scalars are computed in double and rounded to float where torch rounds them (CPU kernels take
// scalar operands as the tensor's dtype; its lerp and addcmul kernels fuse into an FMA, as written
// above). Arithmetic is f32, one element at a time, no other FMA
// (janus_train is built with -ffp-contract=off). tests/train/test_optimizer.cpp checks it against
// a torch fixture: m and v bit for bit, params within 1 ulp (torch's vectorised CPU sqrt is not
// correctly rounded; ours is).
//
// Which parameters: those with trainable == true and a defined grad (has_grad()); others are
// skipped entirely (no decay, no state change), as torch skips params whose .grad is None.
// Param groups: each ParamGroup lists name patterns (freeze.h glob syntax); the first group whose
// pattern matches a name sets that param's weight decay and lr multiplier; unmatched names use
// AdamWConfig::weight_decay and lr multiplier 1.
//
// Values and grads must be contiguous CPU F32 tensors (throws kernels::Error naming the param
// otherwise). The ParamList is copied (Vars are handles): later freeze()/unfreeze() on the
// caller's list are not seen — call set_trainable() or rebuild the optimizer. Not thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/autograd/var.h"
#include "llm/safetensors.h"

namespace janus::train {

namespace ag = janus::kernels::ag;

struct ParamGroup {
  std::vector<std::string> patterns;
  double weight_decay = 0.0;
  double lr_scale = 1.0;
};

// Patterns for the usual "no weight decay on norms and biases" group: "*norm*", "*.bias".
ParamGroup no_decay_norms_and_biases();

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;  // torch's default for AdamW
  std::vector<ParamGroup> groups;
};

class AdamW {
 public:
  AdamW(ag::ParamList params, AdamWConfig config);

  // One update with learning rate `lr` (times the param's group lr_scale).
  void step(double lr);
  // Drops every parameter's grad (torch's zero_grad(set_to_none=True)): a param that gets no
  // gradient before the next step() is skipped by it.
  void zero_grad();

  // Refreshes the trainable flags from `params` (same names, same order as the constructor's).
  void set_trainable(const ag::ParamList& params);

  const AdamWConfig& config() const { return config_; }
  // Number of step() calls so far (whether or not any param was updated).
  int64_t steps_taken() const { return steps_; }
  double weight_decay_of(const std::string& name) const;

  // State as named tensors, for checkpoints: "<param>.exp_avg" f32, "<param>.exp_avg_sq" f32,
  // "<param>.step" i64 [1], for each param that has state (has been updated at least once), plus
  // "__steps_taken" i64 [1].
  llm::NamedTensors export_state() const;
  // Restores what export_state wrote (values copied, bit-exact). Throws kernels::Error naming the
  // tensor for a shape/dtype mismatch or a state tensor for a name this optimizer doesn't have;
  // params with no state in `file` start fresh.
  void import_state(const llm::SafetensorsFile& file);

 private:
  struct Slot {
    ag::NamedParam param;
    double weight_decay = 0, lr_scale = 1;
    kernels::Tensor exp_avg, exp_avg_sq;  // undefined until the first update
    int64_t step = 0;
  };
  AdamWConfig config_;
  std::vector<Slot> slots_;
  int64_t steps_ = 0;
};

}  // namespace janus::train
