// Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_ (norm_type 2).
//
//   total = sqrt(sum over params of sum(g²))          accumulated in double
//   coef  = max_norm / (total + 1e-6)
//   if coef < 1: every grad *= float(coef)
// Returns `total`, the norm before clipping. Only params with trainable == true and a defined
// grad take part. torch accumulates each param's norm in f32, so `total` may differ from torch's
// in the last bits (relative ~1e-7); the scaled grads then differ by the same relative amount.
// A non-finite total (NaN/Inf in a grad) leaves the grads unchanged and is returned as is, so the
// caller can skip the step. max_norm <= 0 computes the norm without clipping.
// Grads must be CPU f32 (contiguous); throws kernels::Error naming the param otherwise.
#pragma once
#include "kernels/autograd/var.h"

namespace janus::train {

double grad_global_norm(const kernels::ag::ParamList& params);
double clip_grad_norm(const kernels::ag::ParamList& params, double max_norm);

}  // namespace janus::train
