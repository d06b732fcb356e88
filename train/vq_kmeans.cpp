#include "train/vq_kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace janus::train {

namespace {

double dot(const float* a, const double* c, int64_t dim) {
  double s = 0;
  for (int64_t d = 0; d < dim; ++d) s += double(a[d]) * c[d];
  return s;
}

// Squared distance between a row and a centroid (both taken as given, not re-normalised).
double dist2(const float* a, const double* c, int64_t dim) {
  double s = 0;
  for (int64_t d = 0; d < dim; ++d) s += (double(a[d]) - c[d]) * (double(a[d]) - c[d]);
  return s;
}

void normalise(double* c, int64_t dim) {
  double n2 = 0;
  for (int64_t d = 0; d < dim; ++d) n2 += c[d] * c[d];
  const double inv = 1.0 / std::max(std::sqrt(n2), 1e-12);
  for (int64_t d = 0; d < dim; ++d) c[d] *= inv;
}

}  // namespace

std::vector<float> spherical_kmeans(const std::vector<float>& rows, int64_t dim, int64_t k, int iters, Rng& rng) {
  if (dim <= 0 || k <= 0 || rows.size() % size_t(dim) != 0)
    throw std::invalid_argument("spherical_kmeans: dim " + std::to_string(dim) + ", k " + std::to_string(k) + ", " +
                                std::to_string(rows.size()) + " values");
  const int64_t n = int64_t(rows.size()) / dim;
  if (n < k)
    throw std::invalid_argument("spherical_kmeans: " + std::to_string(n) + " rows for " + std::to_string(k) +
                                " clusters");
  auto row = [&](int64_t i) { return rows.data() + i * dim; };
  std::vector<double> cent(size_t(k * dim));
  auto set_centroid = [&](int64_t j, int64_t i) {
    for (int64_t d = 0; d < dim; ++d) cent[size_t(j * dim + d)] = row(i)[d];
  };

  // k-means++ seeding.
  std::vector<double> best(size_t(n), std::numeric_limits<double>::infinity());
  set_centroid(0, int64_t(rng.below(uint64_t(n))));
  for (int64_t j = 1; j < k; ++j) {
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      best[size_t(i)] = std::min(best[size_t(i)], dist2(row(i), &cent[size_t((j - 1) * dim)], dim));
      total += best[size_t(i)];
    }
    int64_t pick = 0;
    if (total > 0) {
      const double u = rng.uniform() * total;
      double acc = 0;
      pick = n - 1;
      for (int64_t i = 0; i < n; ++i) {
        acc += best[size_t(i)];
        if (acc > u) {
          pick = i;
          break;
        }
      }
    } else {
      pick = int64_t(rng.below(uint64_t(n)));
    }
    set_centroid(j, pick);
  }

  // Lloyd iterations.
  std::vector<int64_t> assign(size_t(n), 0);
  std::vector<double> sum(size_t(k * dim));
  std::vector<int64_t> count(static_cast<size_t>(k));
  for (int it = 0; it < iters; ++it) {
    for (int64_t i = 0; i < n; ++i) {
      double top = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < k; ++j) {
        const double s = dot(row(i), &cent[size_t(j * dim)], dim);
        if (s > top) top = s, assign[size_t(i)] = j;
      }
    }
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t j = assign[size_t(i)];
      ++count[size_t(j)];
      for (int64_t d = 0; d < dim; ++d) sum[size_t(j * dim + d)] += row(i)[d];
    }
    for (int64_t j = 0; j < k; ++j) {
      if (count[size_t(j)] == 0) continue;
      std::copy(sum.begin() + j * dim, sum.begin() + (j + 1) * dim, cent.begin() + j * dim);
      normalise(&cent[size_t(j * dim)], dim);
    }
    for (int64_t j = 0; j < k; ++j) {
      if (count[size_t(j)] != 0) continue;
      int64_t far = 0;
      double worst = -1;
      for (int64_t i = 0; i < n; ++i) {
        const double e = dist2(row(i), &cent[size_t(assign[size_t(i)] * dim)], dim);
        if (e > worst) worst = e, far = i;
      }
      set_centroid(j, far);
      assign[size_t(far)] = j;
    }
  }
  return std::vector<float>(cent.begin(), cent.end());
}

}  // namespace janus::train
