// Shared pieces of the GPU tests: a fixture that skips without a usable GPU, random inputs,
// and an element-wise comparison with a per-element tolerance.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/ops.h"
#include "kernels/tensor.h"

namespace janus::kernels::gpu_test {

class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no usable GPU: " << cuda_status();
  }
};

// Uniform values in [lo, hi) in a new CPU f32 tensor.
inline Tensor random_f32(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

inline Tensor gpu(const Tensor& t) { return t.to(Device::CUDA); }
inline std::vector<float> host(const Tensor& t) { return t.to_f32_vector(); }

// Expects |got[i] - want[i]| ≤ tol(i) for every i; reports the worst element.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                         const std::function<double(size_t)>& tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - double(want[i])), t = tol(i);
    const double ratio = t > 0 ? err / t : (err > 0 ? INFINITY : 0);
    if (!(err <= t)) ++bad;  // NaN counts as bad
    if (ratio > worst_ratio || std::isnan(err)) worst_ratio = ratio, worst = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << got.size() << " elements out of tolerance; worst at " << worst
                     << ": got " << got[worst] << ", want " << want[worst] << ", tolerance " << tol(worst);
}

inline double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

}  // namespace janus::kernels::gpu_test
