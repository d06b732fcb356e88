// One builder per architecture: given the config and the checkpoint, assemble decoder layer
// `prefix` (e.g. "model.layers.3") from the shared blocks. Adding an architecture means adding
// a file like arch_llama.cpp and a line in model.cpp, never changing the blocks.
#pragma once
#include <string>

#include "llm/blocks.h"
#include "llm/tensor_store.h"

namespace janus::llm {

// llama, qwen2: GQA attention + dense SwiGLU.
DecoderLayer build_llama_layer(const ModelConfig& c, const TensorStore& s, const std::string& prefix, int64_t layer);
// deepseek_v3, deepseek_v2: MLA attention + dense or MoE feed-forward.
DecoderLayer build_deepseek_layer(const ModelConfig& c, const TensorStore& s, const std::string& prefix, int64_t layer);

}  // namespace janus::llm
