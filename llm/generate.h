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

// Proposes draft tokens for speculative decoding. observe() receives, in order, the main
// model's final hidden states h_t [n, H] and the tokens t+1 that followed each, and returns the
// draft for the token after the last of them (position t+2 of the last pair).
class Drafter {
 public:
  virtual ~Drafter() = default;
  virtual int64_t observe(const kernels::Tensor& hidden, const int64_t* next_ids, int64_t n) = 0;
};

// The DeepSeek-V3 MTP module as a drafter (greedy draft).
class MtpDrafter : public Drafter {
 public:
  explicit MtpDrafter(const Model& model);
  int64_t observe(const kernels::Tensor& hidden, const int64_t* next_ids, int64_t n) override;

 private:
  const Model& model_;
  KvCache cache_;
};

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  kernels::SamplingParams sampling;  // temperature 0 = greedy
  uint64_t seed = 0;
  std::vector<int64_t> stop_tokens;  // generation ends after one of these is emitted
  bool speculative_mtp = false;      // needs a model with MTP and greedy sampling
  Drafter* drafter = nullptr;        // speculative decoding with this drafter instead of MTP
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
