// Helpers for tests that compare against committed transformers fixtures.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "llm/safetensors.h"

namespace janus::test {

inline std::string backbone_dir(const std::string& name) { return std::string(JANUS_FIXTURES) + "/backbones/" + name; }

inline std::shared_ptr<llm::SafetensorsFile> expected(const std::string& name) {
  return llm::SafetensorsFile::open(backbone_dir(name) + "/expected.safetensors");
}

// max |a - b| / max |b|: the parity metric of DESIGN §6.
inline double rel_max_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    num = std::max(num, double(std::fabs(a[i] - b[i])));
    den = std::max(den, double(std::fabs(b[i])));
  }
  return a.size() == b.size() ? num / std::max(den, 1e-30) : INFINITY;
}

}  // namespace janus::test
