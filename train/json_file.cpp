#include "train/json_file.h"

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "train/atomic_file.h"

namespace janus::train {

using nlohmann::json;

json parse_json(const std::string& text, const std::string& source) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw std::runtime_error(source + ": invalid JSON (" + std::string(e.what()) + ")");
  }
}

json read_json_file(const std::string& path) { return parse_json(read_file(path), path); }

void JsonReader::fail(const std::string& path, const std::string& problem) const {
  throw std::runtime_error(source + ": " + path + ": " + problem);
}

std::string JsonReader::at(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

void JsonReader::keys(const json& j, const std::string& path, const std::set<std::string>& allowed) const {
  if (!j.is_object())
    fail(path.empty() ? "(top level)" : path, std::string("expected an object, got ") + j.type_name());
  for (const auto& [k, v] : j.items())
    if (!allowed.count(k)) fail(at(path, k), "unknown key");
}

json JsonReader::object(const json& j, const std::string& key) const {
  return j.contains(key) ? j[key] : json::object();
}

double JsonReader::number(const json& j, const std::string& key, const std::string& path, double def) const {
  if (!j.contains(key)) return def;
  if (!j[key].is_number()) fail(at(path, key), std::string("expected a number, got ") + j[key].type_name());
  const double v = j[key].get<double>();
  if (!(v >= 0) || !std::isfinite(v)) fail(at(path, key), "expected a finite number >= 0, got " + j[key].dump());
  return v;
}

int64_t JsonReader::integer(const json& j, const std::string& key, const std::string& path, int64_t def,
                            int64_t lo) const {
  if (!j.contains(key)) return def;
  if (!j[key].is_number_integer()) fail(at(path, key), std::string("expected an integer, got ") + j[key].type_name());
  if (j[key].is_number_unsigned() && j[key].get<uint64_t>() > uint64_t(INT64_MAX))
    fail(at(path, key), "expected an integer >= " + std::to_string(lo) + ", got " + j[key].dump());
  const int64_t v = j[key].get<int64_t>();
  if (v < lo) fail(at(path, key), "expected an integer >= " + std::to_string(lo) + ", got " + std::to_string(v));
  return v;
}

bool JsonReader::boolean(const json& j, const std::string& key, const std::string& path, bool def) const {
  if (!j.contains(key)) return def;
  if (!j[key].is_boolean()) fail(at(path, key), std::string("expected true or false, got ") + j[key].type_name());
  return j[key].get<bool>();
}

std::string JsonReader::string(const json& j, const std::string& key, const std::string& path,
                               const std::string& def) const {
  if (!j.contains(key)) return def;
  if (!j[key].is_string()) fail(at(path, key), std::string("expected a string, got ") + j[key].type_name());
  return j[key].get<std::string>();
}

std::vector<std::string> JsonReader::strings(const json& j, const std::string& key, const std::string& path) const {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  if (!j[key].is_array()) fail(at(path, key), "expected an array of strings");
  for (const auto& s : j[key]) {
    if (!s.is_string()) fail(at(path, key), "expected an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::string JsonReader::resolve(const std::string& p) const {
  if (p.empty()) return p;
  std::filesystem::path q(p);
  if (q.is_relative() && !base_dir.empty()) q = std::filesystem::path(base_dir) / q;
  return q.lexically_normal().string();
}

}  // namespace janus::train
