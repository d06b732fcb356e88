// DeepSeek-V3 auxiliary-loss-free load balancing (paper §2.1.2): after each training step every
// MoE layer's expert bias (e_score_correction_bias, used for top-k selection only) moves by γ
// towards balance, from the load the step routed:
//   b_e += γ · sign(mean_load − load_e)      (sign(0) = 0: an expert at the mean is left alone)
// Loads come from TrainForwardResult::expert_load (sum them over micro-batches / data-parallel
// ranks first with add_loads for the step's whole batch). The paper uses γ = 0.001.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/tensor.h"
#include "llm/trainable.h"

namespace janus::llm {

// bias [E] f32 (contiguous), updated in place; load.size() must be E (else kernels::Error).
void update_router_bias(kernels::Tensor& bias, const std::vector<int64_t>& load, double gamma);

// Every MoE layer of `model` (its buffers() in order) from one step's loads
// ([num_moe_layers()][E]). Models without correction biases (V2) are left unchanged; a load list
// of the wrong size throws kernels::Error.
void update_router_biases(TrainableModel& model, const std::vector<std::vector<int64_t>>& loads, double gamma);
// The same on a list of correction-bias buffers (one per MoE layer, in the order of the loads).
void update_router_biases(std::vector<NamedBuffer>& biases, const std::vector<std::vector<int64_t>>& loads,
                          double gamma);

// acc += step, elementwise (acc may start empty).
void add_loads(std::vector<std::vector<int64_t>>& acc, const std::vector<std::vector<int64_t>>& step);

// max_e load_e / mean load: 1 when perfectly even, E when one expert takes every token.
double load_max_over_mean(const std::vector<int64_t>& load);

}  // namespace janus::llm
