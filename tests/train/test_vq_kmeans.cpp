// Spherical k-means (train/vq_kmeans.h), the VQ codebook initialisation of "quantize_after":
// well-separated clusters are recovered, the result is deterministic for an Rng state, every
// centroid has unit length even when the rows have fewer distinct values than k, and bad shapes
// throw.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "train/rng.h"
#include "train/vq_kmeans.h"

namespace {

namespace tr = janus::train;

void normalise(float* v, int dim) {
  double n2 = 0;
  for (int d = 0; d < dim; ++d) n2 += double(v[d]) * v[d];
  for (int d = 0; d < dim; ++d) v[d] = float(v[d] / std::sqrt(n2));
}

// 3 centres on the unit sphere in 4-d; 40 rows each, perturbed by ±0.05 per coordinate.
std::vector<float> three_clusters(std::vector<std::vector<float>>* centres) {
  *centres = {{1, 0, 0, 0}, {0, 0.6f, 0.8f, 0}, {0, 0, -0.6f, 0.8f}};
  std::vector<float> rows;
  tr::Rng noise(11);
  for (int i = 0; i < 120; ++i) {
    float v[4];
    for (int d = 0; d < 4; ++d) v[d] = (*centres)[size_t(i % 3)][size_t(d)] + float(0.1 * (noise.uniform() - 0.5));
    normalise(v, 4);
    rows.insert(rows.end(), v, v + 4);
  }
  return rows;
}

TEST(SphericalKmeans, RecoversWellSeparatedClustersWithUnitCentroids) {
  std::vector<std::vector<float>> centres;
  const std::vector<float> rows = three_clusters(&centres);
  tr::Rng rng(5);
  const std::vector<float> c = tr::spherical_kmeans(rows, 4, 3, 20, rng);
  ASSERT_EQ(c.size(), 12u);
  std::vector<bool> matched(3, false);
  for (int j = 0; j < 3; ++j) {
    double n2 = 0;
    for (int d = 0; d < 4; ++d) n2 += double(c[size_t(j * 4 + d)]) * c[size_t(j * 4 + d)];
    EXPECT_NEAR(n2, 1.0, 1e-6);
    // Each centroid sits within 0.05 of exactly one true centre (noise ±0.05 averages down).
    int near = -1;
    for (int t = 0; t < 3; ++t) {
      double e2 = 0;
      for (int d = 0; d < 4; ++d) e2 += std::pow(double(c[size_t(j * 4 + d)]) - centres[size_t(t)][size_t(d)], 2);
      if (std::sqrt(e2) < 0.05) near = t;
    }
    ASSERT_GE(near, 0) << "centroid " << j << " is near no true centre";
    EXPECT_FALSE(matched[size_t(near)]) << "two centroids on centre " << near;
    matched[size_t(near)] = true;
  }
}

TEST(SphericalKmeans, SameRngStateSameCentroids) {
  std::vector<std::vector<float>> centres;
  const std::vector<float> rows = three_clusters(&centres);
  tr::Rng a(9), b(9);
  const std::vector<float> ca = tr::spherical_kmeans(rows, 4, 6, 10, a);
  EXPECT_EQ(ca, tr::spherical_kmeans(rows, 4, 6, 10, b));
  EXPECT_EQ(a.next_u64(), b.next_u64());  // and the streams advanced alike
}

TEST(SphericalKmeans, FewerDistinctRowsThanClustersStillGivesUnitCentroids) {
  // 8 rows, only 2 distinct: k-means++ falls back to uniform picks, empty clusters are re-seeded.
  std::vector<float> rows;
  for (int i = 0; i < 8; ++i) rows.insert(rows.end(), {i % 2 ? 1.f : 0.f, i % 2 ? 0.f : 1.f});
  tr::Rng rng(1);
  const std::vector<float> c = tr::spherical_kmeans(rows, 2, 5, 5, rng);
  ASSERT_EQ(c.size(), 10u);
  for (int j = 0; j < 5; ++j) {
    EXPECT_NEAR(double(c[size_t(2 * j)]) * c[size_t(2 * j)] + double(c[size_t(2 * j + 1)]) * c[size_t(2 * j + 1)], 1.0,
                1e-6);
    EXPECT_TRUE((c[size_t(2 * j)] == 1.f && c[size_t(2 * j + 1)] == 0.f) ||
                (c[size_t(2 * j)] == 0.f && c[size_t(2 * j + 1)] == 1.f));
  }
}

TEST(SphericalKmeans, BadShapesThrow) {
  tr::Rng rng(1);
  EXPECT_THROW(tr::spherical_kmeans({1, 0, 0}, 2, 1, 1, rng), std::invalid_argument);  // not whole rows
  EXPECT_THROW(tr::spherical_kmeans({1, 0}, 2, 2, 1, rng), std::invalid_argument);     // n < k
  EXPECT_THROW(tr::spherical_kmeans({1, 0}, 0, 1, 1, rng), std::invalid_argument);
  EXPECT_THROW(tr::spherical_kmeans({1, 0}, 2, 0, 1, rng), std::invalid_argument);
}

}  // namespace
