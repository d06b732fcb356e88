#include "train/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>

#include "train/atomic_file.h"

namespace janus::train {

namespace fs = std::filesystem;
using nlohmann::json;

static constexpr const char* kMarker = "checkpoint.json";
static constexpr const char* kModel = "model.safetensors";
static constexpr const char* kOptimizer = "optimizer.safetensors";
static constexpr const char* kFormat = "janus-train-checkpoint";

static void emit(const LogFn& log, const std::string& m) {
  if (log)
    log(m);
  else
    std::cerr << m << "\n";
}

std::string checkpoint_path(const std::string& dir, int64_t step) {
  char name[40];
  std::snprintf(name, sizeof name, "step-%06lld", (long long)step);
  return (fs::path(dir) / name).string();
}

// Step number of a folder name "step-NNNNNN", or -1.
static int64_t parse_step_name(const std::string& name) {
  if (name.size() < 6 || name.compare(0, 5, "step-") != 0) return -1;
  int64_t v = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

static std::string hex64(uint64_t v) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, v);
  return hex;
}

static constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull, kFnvPrime = 0x100000001b3ull;

std::string fnv1a64_hex(const std::string& bytes) {
  uint64_t h = kFnvOffset;
  for (char c : bytes) h = (h ^ uint8_t(c)) * kFnvPrime;
  return hex64(h);
}

std::string file_fnv1a64(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open to hash");
  uint64_t h = kFnvOffset;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    const std::streamsize n = in.gcount();
    for (std::streamsize i = 0; i < n; ++i) {
      h = (h ^ uint8_t(buf[size_t(i)])) * kFnvPrime;
    }
  }
  if (in.bad()) throw std::runtime_error(path + ": read error while hashing");
  return hex64(h);
}

static void remove_checkpoint_dir(const std::string& step_dir) {
  std::error_code ec;
  const fs::path marker = fs::path(step_dir) / kMarker;
  if (fs::exists(marker, ec)) {
    fs::remove(marker, ec);
    if (ec) throw std::runtime_error(marker.string() + ": cannot remove: " + ec.message());
    fsync_dir(step_dir);
  }
  fs::remove_all(step_dir, ec);
  if (ec) throw std::runtime_error(step_dir + ": cannot remove: " + ec.message());
}

std::string save_checkpoint(const std::string& dir, const CheckpointMeta& meta, const kernels::ag::ParamList& params,
                            const llm::NamedTensors& optimizer_state, int keep_last, const llm::NamedTensors& buffers) {
  if (meta.step < 0) throw std::invalid_argument("save_checkpoint: negative step");
  const std::string step_dir = checkpoint_path(dir, meta.step);
  std::error_code ec;
  fs::create_directories(step_dir, ec);
  if (ec) throw std::runtime_error(step_dir + ": cannot create checkpoint folder: " + ec.message());
  fsync_dir(dir);
  // A marker from an earlier save of this step must not vouch for the files we are replacing.
  const fs::path marker = fs::path(step_dir) / kMarker;
  if (fs::exists(marker, ec)) {
    fs::remove(marker, ec);
    if (ec) throw std::runtime_error(marker.string() + ": cannot remove stale marker: " + ec.message());
    fsync_dir(step_dir);
  }
  llm::NamedTensors weights;
  weights.reserve(params.size() + buffers.size());
  for (const auto& p : params) weights.emplace_back(p.name, p.var.value());
  weights.insert(weights.end(), buffers.begin(), buffers.end());
  const std::string model_path = (fs::path(step_dir) / kModel).string();
  const std::string opt_path = (fs::path(step_dir) / kOptimizer).string();
  llm::write_safetensors(model_path, weights, {{"format", "pt"}, {"step", std::to_string(meta.step)}});
  llm::write_safetensors(opt_path, optimizer_state, {{"step", std::to_string(meta.step)}});

  json j;
  j["format"] = kFormat;
  j["version"] = 1;
  j["step"] = meta.step;
  j["cursor"] = {{"epoch", meta.cursor.epoch}, {"index", meta.cursor.index}};
  j["rng"] = json::array();
  for (uint64_t w : meta.rng) j["rng"].push_back(hex64(w));
  j["recipe_hash"] = meta.recipe_hash;
  j["extra"] = meta.extra;
  for (const char* f : {kModel, kOptimizer}) {
    const std::string p = (fs::path(step_dir) / f).string();
    j["files"][f] = {{"bytes", int64_t(fs::file_size(p))}, {"fnv1a64", file_fnv1a64(p)}};
  }
  write_file_atomic(marker.string(), j.dump(2) + "\n");
  prune_checkpoints(dir, keep_last, {}, meta.step);
  return step_dir;
}

// Parses and checks the marker; fills `meta` when non-null. Returns the reason on failure.
static std::string check(const std::string& step_dir, CheckpointMeta* meta) {
  const fs::path marker = fs::path(step_dir) / kMarker;
  std::error_code ec;
  if (!fs::exists(marker, ec)) return std::string("no ") + kMarker + " (interrupted write?)";
  json j;
  try {
    j = json::parse(read_file(marker.string()));
  } catch (const std::exception& e) {
    return std::string(kMarker) + " unreadable: " + e.what();
  }
  try {
    if (j.value("format", "") != kFormat || j.value("version", 0) != 1)
      return std::string(kMarker) + ": not a version-1 " + kFormat;
    CheckpointMeta m;
    m.step = j.at("step").get<int64_t>();
    if (parse_step_name(fs::path(step_dir).filename().string()) != m.step)
      return std::string(kMarker) + ": step " + std::to_string(m.step) + " does not match the folder name";
    m.cursor.epoch = j.at("cursor").at("epoch").get<int64_t>();
    m.cursor.index = j.at("cursor").at("index").get<int64_t>();
    const auto& rng = j.at("rng");
    if (!rng.is_array() || rng.size() != 4) return std::string(kMarker) + ": \"rng\" must hold 4 words";
    for (size_t i = 0; i < 4; ++i) m.rng[i] = std::stoull(rng[i].get<std::string>(), nullptr, 16);
    m.recipe_hash = j.value("recipe_hash", "");
    if (j.contains("extra")) m.extra = j["extra"];
    for (const char* f : {kModel, kOptimizer}) {
      const auto& info = j.at("files").at(f);
      const std::string p = (fs::path(step_dir) / f).string();
      if (!fs::exists(p, ec)) return std::string(f) + " missing";
      const int64_t want = info.at("bytes").get<int64_t>();
      const int64_t got = int64_t(fs::file_size(p, ec));
      if (got != want)
        return std::string(f) + " is " + std::to_string(got) + " bytes, the marker says " + std::to_string(want) +
               " (truncated?)";
      if (file_fnv1a64(p) != info.at("fnv1a64").get<std::string>())
        return std::string(f) + " content hash differs from the marker (corrupted?)";
      llm::SafetensorsFile::open(p);  // header validation
    }
    if (meta) *meta = std::move(m);
  } catch (const std::exception& e) {
    return std::string("invalid: ") + e.what();
  }
  return "";
}

std::string validate_checkpoint(const std::string& step_dir) { return check(step_dir, nullptr); }

// Step folders of `dir`, highest step first.
static std::vector<std::pair<int64_t, std::string>> step_dirs(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_directory(ec)) continue;
    const int64_t s = parse_step_name(e.path().filename().string());
    if (s >= 0) out.emplace_back(s, e.path().string());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

std::optional<std::string> find_latest_checkpoint(const std::string& dir, const LogFn& log) {
  for (const auto& [step, path] : step_dirs(dir)) {
    const std::string why = validate_checkpoint(path);
    if (why.empty()) return path;
    emit(log, "checkpoint " + path + " ignored: " + why + "; trying older");
  }
  return std::nullopt;
}

Checkpoint load_checkpoint(const std::string& step_dir) {
  Checkpoint c;
  c.path = step_dir;
  const std::string why = check(step_dir, &c.meta);
  if (!why.empty()) throw std::runtime_error("checkpoint " + step_dir + ": " + why);
  c.model = llm::SafetensorsFile::open((fs::path(step_dir) / kModel).string());
  c.optimizer = llm::SafetensorsFile::open((fs::path(step_dir) / kOptimizer).string());
  return c;
}

void restore_params(const llm::SafetensorsFile& model, const kernels::ag::ParamList& params,
                    const llm::NamedTensors& buffers) {
  llm::NamedTensors targets;
  targets.reserve(params.size() + buffers.size());
  for (const auto& p : params) targets.emplace_back(p.name, p.var.value());
  targets.insert(targets.end(), buffers.begin(), buffers.end());
  std::map<std::string, int> names;
  for (const auto& [name, dst] : targets) {
    if (names[name]++) throw kernels::Error(model.path() + ": name '" + name + "' is given twice");
    if (!model.has(name)) throw kernels::Error(model.path() + ": tensor '" + name + "' missing");
    const auto& info = model.info(name);
    if (!info.dtype || *info.dtype != dst.dtype() || info.shape != dst.shape())
      throw kernels::Error(model.path() + ": tensor '" + name + "': expected " + kernels::dtype_name(dst.dtype()) +
                           " " + kernels::shape_str(dst.shape()) + ", found " + info.dtype_name + " " +
                           kernels::shape_str(info.shape));
  }
  for (const auto& n : model.names())
    if (!names.count(n)) throw kernels::Error(model.path() + ": tensor '" + n + "' is not a parameter of this model");
  for (auto& [name, dst] : targets) {
    kernels::Tensor t = dst;  // a handle: writes land in the caller's tensor
    t.copy_from(model.get(name));
  }
}

void prune_checkpoints(const std::string& dir, int keep_last, const LogFn& log, int64_t up_to_step) {
  if (keep_last <= 0) return;
  int kept = 0;
  bool seen_valid = false;
  for (const auto& [step, path] : step_dirs(dir)) {
    if (up_to_step >= 0 && step > up_to_step) continue;
    std::error_code ec;
    const bool valid = fs::exists(fs::path(path) / kMarker, ec);  // cheap: no hashing here
    if (valid && kept < keep_last) {
      ++kept;
      seen_valid = true;
      continue;
    }
    if (!valid && !seen_valid) continue;  // newer than every valid one: maybe being written
    remove_checkpoint_dir(path);
    if (log) log("removed old checkpoint " + path);
  }
}

}  // namespace janus::train
