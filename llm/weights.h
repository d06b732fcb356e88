// Helpers that fetch checkpoint tensors into kernel parameter structs, checking shapes.
#pragma once
#include <string>

#include "kernels/ops.h"
#include "llm/tensor_store.h"

namespace janus::llm {

// `prefix.weight` [out, in] (+ `prefix.bias` [out] when `bias`). An fp8 e4m3 weight needs its
// `prefix.weight_scale_inv` [ceil(out/128), ceil(in/128)] f32 and is kept as stored.
kernels::Weight load_linear(const TensorStore& s, const std::string& prefix, int64_t out, int64_t in,
                            bool bias = false);
// A vector parameter (norm weight, bias) of n elements.
kernels::Tensor load_vector(const TensorStore& s, const std::string& name, int64_t n);

}  // namespace janus::llm
