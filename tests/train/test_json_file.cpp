// train/json_file.h: one JSON reader, errors that name the file.
#include "train/json_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include "tests/error_of.h"

namespace janus::train {
namespace {

using janus::test_util::error_of;

TEST(JsonFile, ReadsADocumentAndNamesTheFileInErrors) {
  const std::string path = testing::TempDir() + "/janus_json_file_" + std::to_string(getpid()) + ".json";
  std::ofstream(path) << R"({"cfg": 1.5, "names": ["a", "b"]})";
  const nlohmann::json j = read_json_file(path);
  EXPECT_EQ(j["cfg"], 1.5);
  EXPECT_EQ(j["names"][1], "b");

  std::ofstream(path) << R"({"cfg": )";
  EXPECT_EQ(error_of([&] { read_json_file(path); }).rfind(path + ": invalid JSON (", 0), 0u);
  std::remove(path.c_str());
  const std::string missing = error_of([&] { read_json_file(path); });
  EXPECT_NE(missing.find(path), std::string::npos) << missing;
  EXPECT_EQ(missing.find("invalid JSON"), std::string::npos) << missing;
}

TEST(JsonFile, ParsesTextWithItsSourceInErrors) {
  EXPECT_EQ(parse_json("[1, 2]", "recipe.json"), nlohmann::json::array({1, 2}));
  EXPECT_EQ(error_of([] { parse_json("nope", "recipe.json"); }).rfind("recipe.json: invalid JSON (", 0), 0u);
  EXPECT_EQ(error_of([] { parse_json("", "empty.json"); }).rfind("empty.json: invalid JSON (", 0), 0u);
}

}  // namespace
}  // namespace janus::train
