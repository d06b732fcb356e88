// Token selection from a row of logits: greedy, or sampling with temperature, top-k, top-p
// (nucleus) and min-p. Deterministic for a given RNG state.
#pragma once
#include <cstdint>
#include <random>

namespace janus::kernels {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy (argmax; ties -> lowest id)
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off; keep tokens with p >= min_p · p_max
};

int64_t argmax(const float* logits, int64_t n);
// Order: top-k on logits, temperature, softmax, top-p, min-p, draw. Throws Error on invalid
// parameters (negative temperature, top_p outside (0, 1], min_p outside [0, 1)).
int64_t sample_token(const float* logits, int64_t n, const SamplingParams& p, std::mt19937_64& rng);

}  // namespace janus::kernels
