// Reading JSON documents for train/ and the apps (recipes, configs, meta files) with one error
// convention: a parse failure is std::runtime_error "<source>: invalid JSON (<parser's message>)";
// an unreadable file is read_file()'s error naming the path.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace janus::train {

// Parses `text`; `source` (usually the file it came from) prefixes the error.
nlohmann::json parse_json(const std::string& text, const std::string& source);
// parse_json(read_file(path), path).
nlohmann::json read_json_file(const std::string& path);

// Typed, checked reads of a recipe's fields; every error is std::runtime_error
// "<source>: <key path>: <problem>", e.g. "r.json: train.steps: expected an integer, got string".
// `path` is the dotted path of the object being read ("" at the top level, "optimizer.groups[0]");
// getters return `def` when the key is absent.
struct JsonReader {
  std::string source;    // the recipe file, for messages
  std::string base_dir;  // resolve() joins relative paths to it ("" leaves them as given)

  [[noreturn]] void fail(const std::string& path, const std::string& problem) const;
  // "path.key" ("key" at the top level).
  static std::string at(const std::string& path, const std::string& key);
  // `j` must be an object whose keys are all in `allowed` ("unknown key" otherwise).
  void keys(const nlohmann::json& j, const std::string& path, const std::set<std::string>& allowed) const;
  // j[key] (an empty object when absent); keys() on it checks that it is an object.
  nlohmann::json object(const nlohmann::json& j, const std::string& key) const;
  // A finite number >= 0.
  double number(const nlohmann::json& j, const std::string& key, const std::string& path, double def) const;
  // An integer >= lo.
  int64_t integer(const nlohmann::json& j, const std::string& key, const std::string& path, int64_t def,
                  int64_t lo) const;
  bool boolean(const nlohmann::json& j, const std::string& key, const std::string& path, bool def) const;
  std::string string(const nlohmann::json& j, const std::string& key, const std::string& path,
                     const std::string& def) const;
  // An array of strings; absent: empty.
  std::vector<std::string> strings(const nlohmann::json& j, const std::string& key, const std::string& path) const;
  // `p` joined to base_dir when relative, normalised; "" stays "".
  std::string resolve(const std::string& p) const;
};

}  // namespace janus::train
