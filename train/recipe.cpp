#include "train/recipe.h"

#include <filesystem>
#include <set>
#include <stdexcept>

#include "train/atomic_file.h"
#include "train/checkpoint.h"
#include "train/json_file.h"

namespace janus::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Reader {
  std::string source;
  [[noreturn]] void fail(const std::string& path, const std::string& m) const {
    throw std::runtime_error(source + ": " + path + ": " + m);
  }
  // Checks that `j` is an object with only `allowed` keys.
  void keys(const json& j, const std::string& path, const std::set<std::string>& allowed) const {
    if (!j.is_object())
      fail(path.empty() ? "(top level)" : path, std::string("expected an object, got ") + j.type_name());
    for (const auto& [k, v] : j.items())
      if (!allowed.count(k)) fail(path.empty() ? k : path + "." + k, "unknown key");
  }
  double number(const json& j, const std::string& key, const std::string& path, double def) const {
    if (!j.contains(key)) return def;
    if (!j[key].is_number()) fail(path + "." + key, std::string("expected a number, got ") + j[key].type_name());
    return j[key].get<double>();
  }
  int64_t integer(const json& j, const std::string& key, const std::string& path, int64_t def, int64_t lo) const {
    if (!j.contains(key)) return def;
    if (!j[key].is_number_integer())
      fail(path + "." + key, std::string("expected an integer, got ") + j[key].type_name());
    const int64_t v = j[key].get<int64_t>();
    if (v < lo) fail(path + "." + key, "must be >= " + std::to_string(lo) + ", got " + std::to_string(v));
    return v;
  }
  bool boolean(const json& j, const std::string& key, const std::string& path, bool def) const {
    if (!j.contains(key)) return def;
    if (!j[key].is_boolean()) fail(path + "." + key, std::string("expected true or false, got ") + j[key].type_name());
    return j[key].get<bool>();
  }
  std::string string(const json& j, const std::string& key, const std::string& path, const std::string& def) const {
    if (!j.contains(key)) return def;
    if (!j[key].is_string()) fail(path + "." + key, std::string("expected a string, got ") + j[key].type_name());
    return j[key].get<std::string>();
  }
  std::vector<std::string> strings(const json& j, const std::string& key, const std::string& path) const {
    std::vector<std::string> out;
    if (!j.contains(key)) return out;
    if (!j[key].is_array()) fail(path + key, "expected an array of strings");
    for (const auto& s : j[key]) {
      if (!s.is_string()) fail(path + key, "expected an array of strings");
      out.push_back(s.get<std::string>());
    }
    return out;
  }
};

}  // namespace

Recipe parse_recipe(const std::string& json_text, const std::string& source, const std::string& base_dir) {
  Reader rd{source};
  const json j = parse_json(json_text, source);
  rd.keys(j, "", {"name", "model", "data", "optimizer", "schedule", "train", "freeze", "unfreeze", "model_options"});
  Recipe r;
  r.name = rd.string(j, "name", "", "");
  r.model = rd.string(j, "model", "", "");
  json canon = json::object();  // what the hash covers, defaults filled in
  canon["model"] = r.model;

  if (!j.contains("data")) rd.fail("data", "missing (needs at least \"train\")");
  const json& d = j["data"];
  rd.keys(d, "data", {"train", "seq_len", "rows", "seed", "shuffle", "skip_bad", "check_images"});
  for (const auto& f : rd.strings(d, "train", "data.")) {
    fs::path p(f);
    if (p.is_relative() && !base_dir.empty()) p = fs::path(base_dir) / p;
    r.train_files.push_back(p.string());
  }
  if (r.train_files.empty()) rd.fail("data.train", "needs at least one JSONL file");
  r.pack.seq_len = rd.integer(d, "seq_len", "data", 512, 1);
  r.pack.rows = rd.integer(d, "rows", "data", 8, 1);
  r.pack.seed = uint64_t(rd.integer(d, "seed", "data", 0, 0));
  r.pack.shuffle = rd.boolean(d, "shuffle", "data", true);
  r.jsonl.skip_bad = rd.boolean(d, "skip_bad", "data", false);
  r.jsonl.check_images = rd.boolean(d, "check_images", "data", false);
  canon["data"] = {{"train", rd.strings(d, "train", "data.")},
                   {"seq_len", r.pack.seq_len},
                   {"rows", r.pack.rows},
                   {"seed", r.pack.seed},
                   {"shuffle", r.pack.shuffle},
                   {"skip_bad", r.jsonl.skip_bad}};

  const json o = j.value("optimizer", json::object());
  rd.keys(o, "optimizer", {"lr", "betas", "eps", "weight_decay", "no_decay", "groups"});
  r.lr = rd.number(o, "lr", "optimizer", 3e-4);
  if (o.contains("betas")) {
    const json& b = o["betas"];
    if (!b.is_array() || b.size() != 2 || !b[0].is_number() || !b[1].is_number())
      rd.fail("optimizer.betas", "expected an array of 2 numbers");
    r.adamw.beta1 = b[0].get<double>();
    r.adamw.beta2 = b[1].get<double>();
  } else {
    r.adamw.beta1 = 0.9, r.adamw.beta2 = 0.95;
  }
  r.adamw.eps = rd.number(o, "eps", "optimizer", 1e-8);
  r.adamw.weight_decay = rd.number(o, "weight_decay", "optimizer", 0.1);
  std::vector<std::string> no_decay =
      o.contains("no_decay") ? rd.strings(o, "no_decay", "optimizer.") : no_decay_norms_and_biases().patterns;
  // optimizer.groups (torch's param groups): [{"params": [patterns], "lr_scale": 1, "weight_decay": W}],
  // matched in order before no_decay; weight_decay defaults to optimizer.weight_decay.
  json groups = json::array();
  if (o.contains("groups")) {
    if (!o["groups"].is_array()) rd.fail("optimizer.groups", "expected an array of objects");
    for (size_t i = 0; i < o["groups"].size(); ++i) {
      const json& g = o["groups"][i];
      const std::string path = "optimizer.groups[" + std::to_string(i) + "]";
      rd.keys(g, path, {"params", "lr_scale", "weight_decay"});
      ParamGroup pg;
      pg.patterns = rd.strings(g, "params", path + ".");
      if (pg.patterns.empty()) rd.fail(path + ".params", "expected a non-empty array of name patterns");
      pg.lr_scale = rd.number(g, "lr_scale", path, 1.0);
      if (!(pg.lr_scale >= 0)) rd.fail(path + ".lr_scale", "must be >= 0");
      pg.weight_decay = rd.number(g, "weight_decay", path, r.adamw.weight_decay);
      r.adamw.groups.push_back(pg);
      groups.push_back({{"params", pg.patterns}, {"lr_scale", pg.lr_scale}, {"weight_decay", pg.weight_decay}});
    }
  }
  if (!no_decay.empty()) r.adamw.groups.push_back(ParamGroup{no_decay, 0.0, 1.0});
  canon["optimizer"] = {{"lr", r.lr},
                        {"betas", {r.adamw.beta1, r.adamw.beta2}},
                        {"eps", r.adamw.eps},
                        {"weight_decay", r.adamw.weight_decay},
                        {"no_decay", no_decay}};
  if (!groups.empty()) canon["optimizer"]["groups"] = groups;

  const json t = j.value("train", json::object());
  rd.keys(t, "train", {"steps", "grad_accum", "clip_norm", "seed", "checkpoint_every", "keep_last", "log_every"});
  r.steps = rd.integer(t, "steps", "train", 1000, 0);
  r.grad_accum = rd.integer(t, "grad_accum", "train", 1, 1);
  r.clip_norm = rd.number(t, "clip_norm", "train", 1.0);
  r.seed = uint64_t(rd.integer(t, "seed", "train", 0, 0));
  r.checkpoint_every = rd.integer(t, "checkpoint_every", "train", 0, 0);
  r.keep_last = int(rd.integer(t, "keep_last", "train", 3, 0));
  r.log_every = rd.integer(t, "log_every", "train", 10, 1);
  canon["train"] = {{"grad_accum", r.grad_accum}, {"clip_norm", r.clip_norm}, {"seed", r.seed}};

  const json s = j.value("schedule", json::object());
  rd.keys(s, "schedule", {"kind", "warmup_steps", "min_lr", "total_steps", "decay_steps", "wsd_cosine_decay"});
  try {
    r.schedule.kind = schedule_kind_from_string(rd.string(s, "kind", "schedule", "cosine"));
  } catch (const std::invalid_argument& e) {
    rd.fail("schedule.kind", e.what());
  }
  r.schedule.peak_lr = r.lr;
  r.schedule.warmup_steps = rd.integer(s, "warmup_steps", "schedule", 0, 0);
  r.schedule.min_lr = rd.number(s, "min_lr", "schedule", 0.0);
  r.schedule.total_steps = rd.integer(s, "total_steps", "schedule", r.steps, 0);
  r.schedule.decay_steps = rd.integer(s, "decay_steps", "schedule", 0, 0);
  r.schedule.wsd_cosine_decay = rd.boolean(s, "wsd_cosine_decay", "schedule", false);
  try {
    r.schedule.validate();
  } catch (const std::invalid_argument& e) {
    rd.fail("schedule", e.what());
  }
  canon["schedule"] = {{"kind", schedule_kind_name(r.schedule.kind)},
                       {"warmup_steps", r.schedule.warmup_steps},
                       {"min_lr", r.schedule.min_lr},
                       {"total_steps", r.schedule.total_steps},
                       {"decay_steps", r.schedule.decay_steps},
                       {"wsd_cosine_decay", r.schedule.wsd_cosine_decay}};

  r.freeze = rd.strings(j, "freeze", "");
  r.unfreeze = rd.strings(j, "unfreeze", "");
  canon["freeze"] = r.freeze;
  canon["unfreeze"] = r.unfreeze;
  if (j.contains("model_options")) {
    if (!j["model_options"].is_object()) rd.fail("model_options", "expected an object");
    r.model_options = j["model_options"];
  }
  canon["model_options"] = r.model_options;
  r.hash = fnv1a64_hex(canon.dump());
  return r;
}

Recipe load_recipe(const std::string& path) {
  return parse_recipe(read_file(path), path, fs::path(path).parent_path().string());
}

}  // namespace janus::train
