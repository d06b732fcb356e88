// RoPE frequency tables as transformers computes them (modeling_rope_utils): default, linear,
// llama3 and YaRN. The model config layer fills RopeParams from config.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace janus::kernels {

struct RopeParams {
  std::string type = "default";  // default | linear | llama3 | yarn
  double theta = 10000.0;
  int dim = 0;          // rotated dims per head (even)
  double factor = 1.0;  // linear / llama3 / yarn
  // llama3
  double low_freq_factor = 1.0, high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 0;
  // yarn
  double beta_fast = 32.0, beta_slow = 1.0;
  double mscale = 0.0, mscale_all_dim = 0.0;  // 0 = absent
  double attention_factor = 0.0;              // 0 = derive (YaRN paper / DeepSeek rule)
  bool truncate = true;
};

struct RopeTable {
  std::vector<float> inv_freq;     // dim / 2 frequencies
  float attention_scaling = 1.0f;  // multiplies cos and sin (YaRN); 1 otherwise
};

// Throws kernels::Error for an unknown type or invalid parameters.
RopeTable rope_table(const RopeParams& p);

// YaRN's magnitude correction 0.1·m·ln(s) + 1 (1 when s ≤ 1).
double yarn_get_mscale(double scale, double mscale);

}  // namespace janus::kernels
