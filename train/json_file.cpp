#include "train/json_file.h"

#include <stdexcept>

#include "train/atomic_file.h"

namespace janus::train {

nlohmann::json parse_json(const std::string& text, const std::string& source) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(source + ": invalid JSON (" + std::string(e.what()) + ")");
  }
}

nlohmann::json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

}  // namespace janus::train
