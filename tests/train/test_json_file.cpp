// train/json_file.h: one JSON reader, errors that name the file.
#include "train/json_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <limits>
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

// The typed reads every recipe parser uses: defaults when absent, "<file>: <key path>: <problem>".
TEST(JsonReader, TypedReadsNameTheKeyPath) {
  const JsonReader rd{"r.json", "/recipes"};
  nlohmann::json j = nlohmann::json::parse(
      R"({"lr": 0.5, "neg": -1, "n": 7, "big": 18446744073709551615, "s": "x", "flag": true,
          "list": ["a", 2], "obj": {"k": 1}})");
  j["inf"] = std::numeric_limits<double>::infinity();  // no JSON text parses to it; a caller's json may hold it
  EXPECT_DOUBLE_EQ(rd.number(j, "lr", "optimizer", 9), 0.5);
  EXPECT_DOUBLE_EQ(rd.number(j, "absent", "optimizer", 9), 9);
  EXPECT_EQ(error_of([&] { rd.number(j, "neg", "optimizer", 0); }),
            "r.json: optimizer.neg: expected a finite number >= 0, got -1");
  EXPECT_NE(error_of([&] { rd.number(j, "inf", "", 0); }).find("r.json: inf: expected a finite number"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { rd.number(j, "s", "", 0); }), "r.json: s: expected a number, got string");
  EXPECT_EQ(rd.integer(j, "n", "train", 0, 1), 7);
  EXPECT_EQ(error_of([&] { rd.integer(j, "n", "train", 0, 8); }), "r.json: train.n: expected an integer >= 8, got 7");
  EXPECT_EQ(error_of([&] { rd.integer(j, "lr", "train", 0, 0); }), "r.json: train.lr: expected an integer, got number");
  EXPECT_EQ(error_of([&] { rd.integer(j, "big", "train", 0, 0); }),
            "r.json: train.big: expected an integer >= 0, got 18446744073709551615");
  EXPECT_TRUE(rd.boolean(j, "flag", "", false));
  EXPECT_EQ(error_of([&] { rd.boolean(j, "n", "", false); }), "r.json: n: expected true or false, got number");
  EXPECT_EQ(rd.string(j, "s", "", ""), "x");
  EXPECT_EQ(error_of([&] { rd.strings(j, "list", "data"); }), "r.json: data.list: expected an array of strings");
  EXPECT_TRUE(rd.strings(j, "absent", "data").empty());
  EXPECT_EQ(error_of([&] { rd.keys(j["obj"], "obj", {"j"}); }), "r.json: obj.k: unknown key");
  EXPECT_EQ(error_of([&] { rd.keys(rd.object(j, "n"), "n", {}); }), "r.json: n: expected an object, got number");
  EXPECT_TRUE(rd.object(j, "absent").empty());
  EXPECT_EQ(rd.resolve("data/a.jsonl"), "/recipes/data/a.jsonl");
  EXPECT_EQ(rd.resolve("/abs/../b"), "/b");
  EXPECT_EQ(rd.resolve(""), "");
}

}  // namespace
}  // namespace janus::train
