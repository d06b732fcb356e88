#include "kernels/rope_freqs.h"

#include <algorithm>
#include <cmath>

#include "kernels/tensor.h"

namespace janus::kernels {

double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

namespace {
// 1 / base^(2j/dim) in float32, as `1.0 / (base ** (arange(0, dim, 2).float() / dim))`.
std::vector<float> default_inv_freq(double theta, int dim) {
  std::vector<float> f(size_t(dim / 2));
  for (int j = 0; j < dim / 2; ++j) {
    float e = float(2 * j) / float(dim);
    f[size_t(j)] = 1.0f / std::pow(float(theta), e);
  }
  return f;
}
}  // namespace

RopeTable rope_table(const RopeParams& p) {
  if (p.dim <= 0 || p.dim % 2) throw Error("rope: rotary dim must be positive and even, got " + std::to_string(p.dim));
  if (!(p.theta > 0)) throw Error("rope: rope_theta must be positive");
  RopeTable t;
  t.inv_freq = default_inv_freq(p.theta, p.dim);
  const int half = p.dim / 2;
  if (p.type == "default") return t;
  if (!(p.factor > 0)) throw Error("rope: " + p.type + " scaling needs a positive factor");
  if (p.type == "linear") {
    for (auto& f : t.inv_freq) f = f / float(p.factor);
    return t;
  }
  if (p.type == "llama3") {
    if (p.original_max_position_embeddings <= 0)
      throw Error("rope: llama3 scaling needs original_max_position_embeddings");
    const float old_len = float(p.original_max_position_embeddings);
    const float low_wavelen = old_len / float(p.low_freq_factor);
    const float high_wavelen = old_len / float(p.high_freq_factor);
    for (auto& f : t.inv_freq) {
      const float wavelen = 2.0f * float(M_PI) / f;
      if (wavelen > low_wavelen) {
        f = f / float(p.factor);
      } else if (!(wavelen < high_wavelen)) {
        const float smooth =
            (old_len / wavelen - float(p.low_freq_factor)) / (float(p.high_freq_factor) - float(p.low_freq_factor));
        f = (1.0f - smooth) * f / float(p.factor) + smooth * f;
      }
    }
    return t;
  }
  if (p.type == "yarn") {
    if (p.original_max_position_embeddings <= 0)
      throw Error("rope: yarn scaling needs original_max_position_embeddings");
    double attn = p.attention_factor;
    if (attn == 0.0) {
      if (p.mscale != 0.0 && p.mscale_all_dim != 0.0)
        attn = yarn_get_mscale(p.factor, p.mscale) / yarn_get_mscale(p.factor, p.mscale_all_dim);
      else
        attn = yarn_get_mscale(p.factor, 1.0);
    }
    t.attention_scaling = float(attn);
    auto correction_dim = [&](double rot) {
      return double(p.dim) * std::log(double(p.original_max_position_embeddings) / (rot * 2.0 * M_PI)) /
             (2.0 * std::log(p.theta));
    };
    double low = correction_dim(p.beta_fast), high = correction_dim(p.beta_slow);
    if (p.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(p.dim - 1));
    if (low == high) high += 0.001;
    for (int j = 0; j < half; ++j) {
      const float pos_freq = std::pow(float(p.theta), float(2 * j) / float(p.dim));
      const float extrap = 1.0f / pos_freq;
      const float interp = 1.0f / (float(p.factor) * pos_freq);
      float ramp = (float(j) - float(low)) / (float(high) - float(low));
      ramp = std::min(1.0f, std::max(0.0f, ramp));
      const float extrap_factor = 1.0f - ramp;
      t.inv_freq[size_t(j)] = interp * (1.0f - extrap_factor) + extrap * extrap_factor;
    }
    return t;
  }
  throw Error("rope: unsupported rope type '" + p.type + "' (supported: default, linear, llama3, yarn)");
}

}  // namespace janus::kernels
