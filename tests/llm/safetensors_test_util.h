// Helpers shared by the safetensors / TensorStore tests: a temporary folder per test, hand-made
// files, and an error matcher.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "llm/safetensors.h"
#include "llm/tensor_store.h"

namespace janus::st_test {

using janus::kernels::DType;
using janus::kernels::Error;
using janus::kernels::Shape;
using janus::kernels::Tensor;
using janus::llm::encode_safetensors;
using janus::llm::NamedTensors;
using janus::llm::SafetensorsFile;
using janus::llm::TensorStore;
using janus::llm::write_safetensors;
namespace fs = std::filesystem;
using Cases = std::vector<std::pair<std::string, std::string>>;

// A fresh folder per test under the build tree, removed afterwards.
class Tmp : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* t = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = (fs::path(JANUS_BINARY_DIR) / "tmp" /
           (std::string("safetensors-") + t->test_suite_name() + "." + t->name() + "-" + std::to_string(getpid())))
              .string();
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return dir + "/" + name; }
  std::string dir;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = char((v >> (8 * i)) & 0xff);
  return s;
}

// A hand-made file: 8-byte length of `header`, `header`, then `data`.
inline std::string raw_file(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

// Runs `fn`, which must throw kernels::Error with a one-line message containing every fragment.
inline std::string expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line message: " << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
    return msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-kernels::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw; expected an error containing '" << (fragments.empty() ? "" : fragments[0]) << "'";
  return "";
}

inline Tensor random_tensor(const Shape& shape, DType dtype, uint32_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  std::mt19937 rng(seed);
  auto* p = static_cast<uint8_t*>(t.raw());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = uint8_t(rng());
  return t;
}

inline bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.is_contiguous() && b.is_contiguous() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace janus::st_test
