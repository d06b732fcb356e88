// Reading JSON documents for train/ and the apps (recipes, configs, meta files) with one error
// convention: a parse failure is std::runtime_error "<source>: invalid JSON (<parser's message>)";
// an unreadable file is read_file()'s error naming the path.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace janus::train {

// Parses `text`; `source` (usually the file it came from) prefixes the error.
nlohmann::json parse_json(const std::string& text, const std::string& source);
// parse_json(read_file(path), path).
nlohmann::json read_json_file(const std::string& path);

}  // namespace janus::train
