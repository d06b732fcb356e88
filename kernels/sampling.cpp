#include "kernels/sampling.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "kernels/tensor.h"

namespace janus::kernels {

int64_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

int64_t sample_token(const float* logits, int64_t n, const SamplingParams& p, std::mt19937_64& rng) {
  if (n <= 0) throw Error("sample_token: empty logits");
  if (!(p.temperature >= 0.0f)) throw Error("sampling: temperature must be >= 0");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) throw Error("sampling: top_p must be in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) throw Error("sampling: min_p must be in [0, 1)");
  if (p.top_k < 0) throw Error("sampling: top_k must be >= 0");
  if (p.temperature == 0.0f) return argmax(logits, n);
  // Candidates sorted by logit (descending), truncated to top-k.
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  int64_t k = p.top_k > 0 ? std::min<int64_t>(p.top_k, n) : n;
  auto by_logit = [&](int64_t a, int64_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), by_logit);
  idx.resize(size_t(k));
  std::vector<double> prob(idx.size());
  const double m = logits[idx[0]];
  double sum = 0;
  for (size_t i = 0; i < idx.size(); ++i) sum += (prob[i] = std::exp((double(logits[idx[i]]) - m) / p.temperature));
  for (auto& q : prob) q /= sum;
  size_t keep = prob.size();
  if (p.top_p < 1.0f) {
    double c = 0;
    for (size_t i = 0; i < prob.size(); ++i) {
      c += prob[i];
      if (c >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    size_t j = 1;
    while (j < keep && prob[j] >= p.min_p * prob[0]) ++j;
    keep = j;
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += prob[i];
  double r = std::uniform_real_distribution<double>(0.0, total)(rng);
  for (size_t i = 0; i < keep; ++i) {
    r -= prob[i];
    if (r < 0) return idx[i];
  }
  return idx[keep - 1];
}

}  // namespace janus::kernels
