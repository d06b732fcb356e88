// Helpers for the trainable Janus tests (fixtures: tools/make_janus_fixtures.py for the model,
// tools/make_train_janus_fixtures.py for the one-step PyTorch references).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "kernels/autograd/ops.h"
#include "llm/safetensors.h"
#include "llm/tensor_store.h"
#include "tests/var_scalar.h"
#include "vision/weight_source.h"

namespace janus::test {

inline std::string janus_fixture(const std::string& rel) { return std::string(JANUS_FIXTURES) + "/janus/" + rel; }
inline std::string train_janus_fixture(const std::string& rel) {
  return std::string(JANUS_FIXTURES) + "/train_janus/" + rel;
}

inline nlohmann::json janus_config_json() {
  std::ifstream f(janus_fixture("hf/config.json"));
  if (!f) throw std::runtime_error("missing " + janus_fixture("hf/config.json"));
  return nlohmann::json::parse(f);
}

// llm's TensorStore seen as a vision WeightSource (as the model loader does).
class StoreSource : public vision::WeightSource {
 public:
  explicit StoreSource(llm::TensorStore s) : s_(std::move(s)) {}
  bool has(const std::string& name) const override { return s_.has(name); }
  kernels::Tensor get(const std::string& name) const override { return s_.get(name); }
  std::string describe() const override { return s_.dir(); }

 private:
  llm::TensorStore s_;
};

// max |a − b| / max |b| (DESIGN §6 parity metric).
inline double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(double(a[i]) - b[i]));
    den = std::max(den, std::fabs(double(b[i])));
  }
  return num / std::max(den, 1e-30);
}
inline double rel_err(const kernels::Tensor& a, const kernels::Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  return rel_err(a.to_f32_vector(), b.to_f32_vector());
}

// Compares every parameter's gradient with `grad.<name>` of the reference file (a parameter the
// reference has no gradient for must have none or an all-zero one here); prints the worst.
// Metric: max|Δ| / max|ref| per tensor < tol. Exception, structurally zero gradients: a bias that
// a later normalisation removes exactly (a per-channel conv bias followed by a GroupNorm with one
// channel per group, or through a residual stream that only reaches the loss through such norms;
// the key bias of softmax attention, which shifts every score of a query equally; an MoE expert
// that no token was routed to, which has no gradient here) has a true
// gradient of 0, and both sides hold only float32 cancellation noise (~1e-9) whose ratio means
// nothing. A reference tensor with max|ref| < kZeroFrac · (largest max|ref| of the step) is treated
// as such and must satisfy max|ours| < kZeroFrac · that largest value. On the fixtures these
// tensors are ≤ 1.4e-8 against a largest 0.25, while the smallest real gradient is ≥ 2e-3, so
// the split is unambiguous. Returns the worst relative error over the other tensors.
inline double check_param_grads(const kernels::ag::ParamList& params, const llm::SafetensorsFile& ref, double tol,
                                const char* what) {
  constexpr double kZeroFrac = 1e-6;
  double global = 0;
  for (const auto& n : ref.names())
    if (n.rfind("grad.", 0) == 0)
      for (float v : ref.get(n).to_f32_vector()) global = std::max(global, double(std::fabs(v)));
  double worst = 0, worst_zero = 0;
  std::string worst_name;
  size_t compared = 0, zeros = 0;
  for (const auto& p : params) {
    const std::string g = "grad." + p.name;
    if (!ref.has(g)) {
      if (p.var.has_grad()) {
        for (float v : p.var.grad().to_f32_vector()) EXPECT_EQ(v, 0.0f) << what << ": " << p.name << " has a gradient";
      }
      continue;
    }
    ++compared;
    const std::vector<float> want = ref.get(g).to_f32_vector();
    double ref_max = 0, got_max = 0;
    for (float v : want) ref_max = std::max(ref_max, double(std::fabs(v)));
    if (!p.var.has_grad()) {  // fine only where the reference is zero (an expert no token reached)
      EXPECT_EQ(ref_max, 0.0) << what << ": no gradient for " << p.name;
      ++zeros;
      continue;
    }
    const std::vector<float> got = p.var.grad().to_f32_vector();
    for (float v : got) got_max = std::max(got_max, double(std::fabs(v)));
    if (ref_max < kZeroFrac * global) {
      ++zeros;
      EXPECT_LT(got_max, kZeroFrac * global) << what << ": structurally zero gradient of " << p.name;
      worst_zero = std::max(worst_zero, got_max);
      continue;
    }
    const double e = rel_err(got, want);
    EXPECT_LT(e, tol) << what << ": gradient of " << p.name;
    if (e > worst) worst = e, worst_name = p.name;
  }
  size_t in_ref = 0;
  for (const auto& n : ref.names()) in_ref += n.rfind("grad.", 0) == 0;
  EXPECT_EQ(compared, in_ref) << what << ": reference gradients without a parameter here";
  std::printf(
      "%s: %zu parameter gradients, worst rel err %.3g (%s); %zu structurally zero (max|ours| %.3g, "
      "largest gradient %.3g)\n",
      what, compared, worst, worst_name.c_str(), zeros, worst_zero, global);
  return worst;
}

}  // namespace janus::test
