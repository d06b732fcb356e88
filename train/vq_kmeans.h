// Spherical k-means for VQ codebook initialisation (train/run_vq.h "quantize_after").
#pragma once
#include <cstdint>
#include <vector>

#include "train/rng.h"

namespace janus::train {

// Clusters n = rows.size() / dim unit-length rows into k unit centroids (returned row-major,
// k × dim): k-means++ seeds (the first uniform, then each with probability ∝ its squared distance
// to the nearest seed so far; uniform when every row is already a seed's duplicate), then `iters`
// Lloyd iterations (assign to the largest dot product, first maximum; centroid = normalised sum),
// all in double. A cluster left empty takes the row farthest from its own centroid (first such).
// Deterministic for a given Rng state. Throws std::invalid_argument when dim ≤ 0, k ≤ 0, rows
// is not a whole number of rows or n < k.
std::vector<float> spherical_kmeans(const std::vector<float>& rows, int64_t dim, int64_t k, int iters, Rng& rng);

}  // namespace janus::train
