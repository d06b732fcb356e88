// Helpers for the text-backbone training tests (fixtures: tools/make_train_fixtures.py).
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/autograd/ops.h"
#include "llm/safetensors.h"
#include "llm/trainable.h"
#include "tests/var_scalar.h"

namespace janus::test {

inline std::string train_dir(const std::string& name) { return std::string(JANUS_FIXTURES) + "/train/" + name; }
inline std::string backbone_dir(const std::string& name) { return std::string(JANUS_FIXTURES) + "/backbones/" + name; }

inline std::shared_ptr<llm::SafetensorsFile> train_reference(const std::string& name) {
  return llm::SafetensorsFile::open(train_dir(name) + "/reference.safetensors");
}

// max |a - b| / max |b| (DESIGN §6 parity metric).
inline double rel_max_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return a.size() == b.size() ? num / std::max(den, 1e-30) : INFINITY;
}

inline double rel_err(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-30); }

}  // namespace janus::test
