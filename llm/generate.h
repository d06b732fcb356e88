// The generation loop: prefill the prompt in one batch, then decode token by token (or two at
// a time with MTP speculative decoding), with sampling, stop tokens, streaming and cancellation.
//
// Speculative decoding (greedy only): the MTP head drafts token t+2 from the main model's
// hidden state at t and token t+1; the main model verifies [t+1, draft] in one forward. The
// output is identical to plain greedy decoding; drafted/accepted counts are reported.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "kernels/sampling.h"
#include "llm/model.h"

namespace janus::llm {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  kernels::SamplingParams sampling;  // temperature 0 = greedy
  uint64_t seed = 0;
  std::vector<int64_t> stop_tokens;  // generation ends after one of these is emitted
  bool speculative_mtp = false;      // needs a model with MTP and greedy sampling
  // Called for every emitted token in order; return false to stop (the token stays emitted).
  std::function<bool(int64_t token)> on_token;
  const std::atomic<bool>* cancel = nullptr;  // checked before every forward
};

struct GenerateResult {
  std::vector<int64_t> tokens;  // generated tokens (prompt excluded)
  std::string stop_reason;      // "length", "stop_token", "callback", "cancelled"
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0, decode_seconds = 0;
  int64_t drafted = 0, accepted = 0;  // speculative decoding
  int64_t forward_calls = 0;          // decode-phase forwards of the main model
};

// Throws kernels::Error for an empty prompt, out-of-vocabulary ids, or speculative decoding
// without MTP / with sampling.
GenerateResult generate(const Model& model, const std::vector<int64_t>& prompt, const GenerateOptions& opt);

}  // namespace janus::llm
