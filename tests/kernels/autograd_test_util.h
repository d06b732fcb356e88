// Shared helpers of the autograd tests: seeded random tensors and the float64 gradcheck.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

#include "kernels/autograd/ops.h"

namespace janus::kernels::ag::test {

constexpr double kGradTol = 1e-6;
constexpr double kStep = 1e-6;

Tensor randn(const Shape& shape, uint32_t seed, double scale = 1.0, DType dt = DType::F64) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, scale);
  Tensor t = Tensor::empty(shape, DType::F64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = nd(rng);
  return t.to(dt);
}

using Fn = std::function<Var(const std::vector<Var>&)>;

// Runs f on F64 leaves built from `inputs`, takes L = Σ out · W (W fixed random weights), and
// compares dL/d(input) from backward() with central differences. Returns the worst normalised
// error over all inputs (and prints it).
double gradcheck(const Fn& f, const std::vector<Tensor>& inputs, const char* name, uint32_t seed = 7) {
  std::vector<Var> leaves;
  for (const Tensor& t : inputs) leaves.push_back(Var::leaf(t.clone(), true));
  Var out = f(leaves);
  const Tensor w = randn(out.shape(), seed);
  auto scalar = [&]() {
    NoGradGuard ng;
    const Tensor o = f(leaves).value();
    double s = 0;
    for (int64_t i = 0; i < o.numel(); ++i) s += o.data<double>()[i] * w.data<double>()[i];
    return s;
  };
  backward(sum(mul(out, Var::constant(w))));
  double worst = 0;
  for (size_t k = 0; k < leaves.size(); ++k) {
    Tensor v = leaves[k].value();
    std::vector<double> num(size_t(v.numel()));
    double num_max = 0;
    for (int64_t i = 0; i < v.numel(); ++i) {
      double& x = v.data<double>()[i];
      const double x0 = x;
      x = x0 + kStep;
      const double fp = scalar();
      x = x0 - kStep;
      const double fm = scalar();
      x = x0;
      num[size_t(i)] = (fp - fm) / (2 * kStep);
      num_max = std::max(num_max, std::fabs(num[size_t(i)]));
    }
    const Tensor& g = leaves[k].grad();
    double diff = 0;
    for (int64_t i = 0; i < v.numel(); ++i) diff = std::max(diff, std::fabs(g.data<double>()[i] - num[size_t(i)]));
    const double err = diff / std::max(1.0, num_max);
    worst = std::max(worst, err);
    EXPECT_LE(err, kGradTol) << name << ": input " << k << " " << shape_str(v.shape());
  }
  std::printf("[gradcheck] %-40s max normalised error %.2e\n", name, worst);
  return worst;
}

Tensor f32(const Tensor& t) { return t.to(DType::F32); }
Var cst(const Tensor& t) { return Var::constant(t); }
// max |a − b| / max(1, max |b|)
double rel_err(const Tensor& a, const Tensor& b) {
  const Tensor ad = a.to(DType::F64).contiguous(), bd = b.to(DType::F64).contiguous();
  EXPECT_EQ(a.shape(), b.shape());
  double d = 0, m = 0;
  for (int64_t i = 0; i < ad.numel(); ++i) {
    d = std::max(d, std::fabs(ad.data<double>()[i] - bd.data<double>()[i]));
    m = std::max(m, std::fabs(bd.data<double>()[i]));
  }
  return d / std::max(1.0, m);
}

// max |a − b| / max |b| (for gradients, whose scale may be far below 1)
double rel_err_to_max(const Tensor& a, const Tensor& b) {
  const Tensor ad = a.to(DType::F64).contiguous(), bd = b.to(DType::F64).contiguous();
  double d = 0, m = 0;
  for (int64_t i = 0; i < ad.numel(); ++i) {
    d = std::max(d, std::fabs(ad.data<double>()[i] - bd.data<double>()[i]));
    m = std::max(m, std::fabs(bd.data<double>()[i]));
  }
  return m > 0 ? d / m : d;
}

}  // namespace janus::kernels::ag::test
