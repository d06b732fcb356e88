// Test helper shared by the test executables: the message of the std::exception that f throws,
// "" when it throws nothing (so EXPECT_EQ(error_of(...), "file: message") reads as the spec).
#pragma once
#include <exception>
#include <functional>
#include <string>

namespace janus::test_util {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace janus::test_util
