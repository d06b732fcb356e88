// Reads the committed tokenizer fixtures (tests/fixtures/tokenizers/, written by
// tools/make_tokenizer_fixtures.py with HF tokenizers / transformers).
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace janus::tokenizers::testing {

inline std::string fixture(const std::string& name) { return std::string(JANUS_FIXTURES) + "/tokenizers/" + name; }
inline std::string shared_tokenizer(const std::string& name) {
  return std::string(JANUS_SHARED_DATA) + "/tokenizers/" + name;
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path + ": cannot read");
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

inline std::vector<std::string> corpus() {
  std::vector<std::string> texts;
  for (const auto& r : read_jsonl(fixture("corpus.jsonl"))) texts.push_back(r.at("text").get<std::string>());
  return texts;
}

}  // namespace janus::tokenizers::testing
