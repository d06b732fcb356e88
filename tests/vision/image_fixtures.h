// Shared access to tests/fixtures/images (made by tools/make_image_fixtures.py).
#pragma once
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "llm/safetensors.h"
#include "vision/image.h"

namespace janus::test {

inline std::string image_dir() { return std::string(JANUS_FIXTURES) + "/images/images/"; }

inline std::shared_ptr<llm::SafetensorsFile> image_expected() {
  static auto f = llm::SafetensorsFile::open(std::string(JANUS_FIXTURES) + "/images/expected.safetensors");
  return f;
}

// File names listed in the fixture manifest ("files" or "hostile").
inline std::vector<std::string> image_fixture_names(const std::string& key) {
  std::vector<std::string> out;
  const nlohmann::json manifest = nlohmann::json::parse(image_expected()->metadata().at("manifest"));
  for (const auto& e : manifest.at(key)) {
    out.push_back(e.is_string() ? e.get<std::string>() : e.at("file").get<std::string>());
  }
  return out;
}

// u8 [H, W, 3] reference as an Image.
inline vision::Image rgb_tensor_to_image(const kernels::Tensor& t) {
  vision::Image img = vision::Image::make(int(t.size(1)), int(t.size(0)), 3);
  std::memcpy(img.data.data(), t.raw(), img.data.size());
  return img;
}

// Number of samples that differ, and the largest absolute difference.
struct Diff {
  size_t count = 0, differing = 0;
  int max_abs = 0;
};
inline Diff diff_u8(const std::vector<uint8_t>& a, const uint8_t* b, size_t n) {
  Diff d;
  d.count = n;
  for (size_t i = 0; i < n && i < a.size(); ++i) {
    int e = std::abs(int(a[i]) - int(b[i]));
    d.differing += e != 0;
    d.max_abs = std::max(d.max_abs, e);
  }
  if (a.size() != n) d.differing = n, d.max_abs = 256;
  return d;
}

inline uint64_t fnv1a64(const std::vector<uint8_t>& v) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (uint8_t b : v) h = (h ^ b) * 0x100000001B3ull;
  return h;
}

}  // namespace janus::test
