#include "train/run_recipe.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "train/atomic_file.h"
#include "train/json_file.h"

namespace janus::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Keys this layer handles; the rest goes to parse_recipe (which rejects unknown ones).
const std::set<std::string> kRunKeys = {"kind",       "model", "tokenizer", "task", "precision",
                                        "mtp_lambda", "moe",   "output",    "janus"};
const std::set<std::string> kBaseKeys = {"name", "data", "optimizer", "schedule", "train", "freeze", "unfreeze"};

struct Ctx {
  std::string source, base_dir;
  [[noreturn]] void fail(const std::string& path, const std::string& m) const {
    throw std::runtime_error(source + ": " + path + ": " + m);
  }
  void keys(const json& j, const std::string& path, const std::set<std::string>& allowed) const {
    if (!j.is_object()) fail(path, std::string("expected an object, got ") + j.type_name());
    for (const auto& [k, v] : j.items())
      if (!allowed.count(k)) fail(path + "." + k, "unknown key");
  }
  std::string str(const json& j, const std::string& key, const std::string& path, const std::string& def) const {
    if (!j.contains(key)) return def;
    if (!j[key].is_string()) fail(path + key, std::string("expected a string, got ") + j[key].type_name());
    return j[key].get<std::string>();
  }
  double num(const json& j, const std::string& key, const std::string& path, double def) const {
    if (!j.contains(key)) return def;
    if (!j[key].is_number()) fail(path + key, std::string("expected a number, got ") + j[key].type_name());
    const double v = j[key].get<double>();
    if (v < 0) fail(path + key, "must be >= 0, got " + j[key].dump());
    return v;
  }
  bool boolean(const json& j, const std::string& key, const std::string& path, bool def) const {
    if (!j.contains(key)) return def;
    if (!j[key].is_boolean()) fail(path + key, std::string("expected true or false, got ") + j[key].type_name());
    return j[key].get<bool>();
  }
  std::string resolve(const std::string& p) const {
    if (p.empty()) return p;
    fs::path q(p);
    if (q.is_relative() && !base_dir.empty()) q = fs::path(base_dir) / q;
    return q.lexically_normal().string();
  }
};

}  // namespace

const char* precision_name(kernels::ag::GemmPrecision p) {
  switch (p) {
    case kernels::ag::GemmPrecision::kBf16: return "bf16";
    case kernels::ag::GemmPrecision::kFp8: return "fp8";
    default: return "fp32";
  }
}

StageFreeze janus_stage_freeze(int stage) {
  // Names as llm::TrainableJanus holds them (transformers `janus` layout, either checkpoint layout).
  if (stage == 1)
    return {
        {"*"},
        {"model.aligner.*", "model.generation_aligner.*", "model.generation_head.*", "model.generation_embeddings.*"}};
  if (stage == 2 || stage == 3) return {{"model.vision_model.*", "model.vqmodel.*"}, {}};
  return {};
}

void set_output_dir(RunRecipe& r, const std::string& dir) {
  auto rebase = [&](std::string& p) {
    if (!p.empty()) p = (fs::path(dir) / fs::path(p).lexically_relative(r.output_dir)).lexically_normal().string();
  };
  rebase(r.checkpoint_dir);
  rebase(r.metrics_path);
  rebase(r.loss_plot_path);
  rebase(r.export_dir);
  r.output_dir = dir;
}

RunRecipe parse_run_recipe(const std::string& json_text, const std::string& source, const std::string& base_dir) {
  Ctx c{source, base_dir};
  const json j = parse_json(json_text, source);
  if (!j.is_object()) c.fail("(top level)", std::string("expected an object, got ") + j.type_name());
  json base = json::object();
  for (const auto& [k, v] : j.items()) {
    if (kBaseKeys.count(k))
      base[k] = v;
    else if (!kRunKeys.count(k))
      c.fail(k, "unknown key");
  }
  const std::string kind = c.str(j, "kind", "", "text");
  if (kind != "text")
    c.fail("kind", "\"" + kind +
                       "\" is not a text-backbone recipe (this parser reads \"text\"; `janus train` "
                       "also runs \"vq\" recipes, train/run_vq.h)");
  RunRecipe r;
  r.source = source;
  json opts = json::object();  // what the hash covers beyond the base recipe

  // model
  if (!j.contains("model")) c.fail("model", "missing (needs \"init_from\" or \"config\")");
  const json& m = j["model"];
  c.keys(m, "model", {"init_from", "config", "seed", "init_std", "weights_from", "zero_init"});
  r.init_from = c.resolve(c.str(m, "init_from", "model.", ""));
  r.config_path = c.resolve(c.str(m, "config", "model.", ""));
  if (r.init_from.empty() == r.config_path.empty())
    c.fail("model", "needs exactly one of \"init_from\" (an HF folder) or \"config\" (random init)");
  if (!r.init_from.empty() && (m.contains("seed") || m.contains("init_std")))
    c.fail("model", "\"seed\" and \"init_std\" go with \"config\" (random init), not \"init_from\"");
  if (m.contains("seed")) {
    if (!m["seed"].is_number_unsigned()) c.fail("model.seed", "expected a non-negative integer");
    r.init_seed = m["seed"].get<uint64_t>();
  }
  if (m.contains("init_std")) r.init_std = c.num(m, "init_std", "model.", 0.02);
  if (m.contains("weights_from")) {
    const char* kWant = "expected a list of folders or {\"dir\": ..., \"rename\": {...}} objects";
    if (!m["weights_from"].is_array()) c.fail("model.weights_from", kWant);
    for (size_t i = 0; i < m["weights_from"].size(); ++i) {
      const json& f = m["weights_from"][i];
      const std::string path = "model.weights_from[" + std::to_string(i) + "]";
      RunRecipe::WeightsFrom w;
      if (f.is_string()) {
        w.dir = c.resolve(f.get<std::string>());
      } else if (f.is_object()) {
        c.keys(f, path, {"dir", "rename"});
        if (!f.contains("dir")) c.fail(path, "missing \"dir\"");
        w.dir = c.resolve(c.str(f, "dir", path + ".", ""));
        if (f.contains("rename")) {
          if (!f["rename"].is_object()) c.fail(path + ".rename", "expected an object of name prefixes");
          for (const auto& [from, to] : f["rename"].items()) {
            if (from.empty()) c.fail(path + ".rename", "an empty prefix would rename every tensor");
            if (!to.is_string())
              c.fail(path + ".rename." + from, std::string("expected a string, got ") + to.type_name());
            w.rename.emplace_back(from, to.get<std::string>());
          }
        }
      } else {
        c.fail(path, kWant);
      }
      if (w.dir.empty()) c.fail(path, "empty folder name");
      r.weights_from.push_back(std::move(w));
    }
    opts["weights_from"] = m["weights_from"];
  }
  if (m.contains("zero_init")) {
    const json& z = m["zero_init"];
    if (!z.is_array()) c.fail("model.zero_init", "expected a list of parameter patterns");
    for (const auto& p : z) {
      if (!p.is_string() || p.get<std::string>().empty())
        c.fail("model.zero_init", "expected a list of non-empty parameter patterns");
      r.zero_init.push_back(p.get<std::string>());
    }
    opts["zero_init"] = z;
  }
  // The hash sees paths as written (relative to the recipe), so a run resumes from any cwd.
  base["model"] = r.init_from.empty()
                      ? "config:" + m["config"].get<std::string>() + "#seed=" + std::to_string(r.init_seed) +
                            ",std=" + json(r.init_std.value_or(0.02)).dump()
                      : "init_from:" + m["init_from"].get<std::string>();

  r.tokenizer_dir = j.contains("tokenizer") ? c.resolve(c.str(j, "tokenizer", "", "")) : r.init_from;
  if (r.tokenizer_dir.empty()) c.fail("tokenizer", "missing (needed when the model is not \"init_from\" a folder)");
  opts["tokenizer"] = j.contains("tokenizer") ? j["tokenizer"].get<std::string>() : std::string();

  // task
  const json t = j.value("task", json::object());
  c.keys(t, "task", {"loss", "add_bos", "add_eos"});
  const std::string loss = c.str(t, "loss", "task.", "record");
  if (loss == "record")
    r.loss = LossScope::kRecord;
  else if (loss == "all")
    r.loss = LossScope::kAll;
  else if (loss == "answer")
    r.loss = LossScope::kAnswer;
  else
    c.fail("task.loss", "expected \"record\", \"all\" or \"answer\", got \"" + loss + "\"");
  r.add_bos = c.boolean(t, "add_bos", "task.", true);
  r.add_eos = c.boolean(t, "add_eos", "task.", true);
  opts["task"] = {{"loss", loss}, {"add_bos", r.add_bos}, {"add_eos", r.add_eos}};

  const std::string prec = c.str(j, "precision", "", "fp32");
  if (prec == "fp32")
    r.precision = kernels::ag::GemmPrecision::kFull;
  else if (prec == "bf16")
    r.precision = kernels::ag::GemmPrecision::kBf16;
  else if (prec == "fp8")
    r.precision = kernels::ag::GemmPrecision::kFp8;
  else
    c.fail("precision", "expected \"fp32\", \"bf16\" or \"fp8\", got \"" + prec + "\"");
  opts["precision"] = prec;

  r.mtp_lambda = c.num(j, "mtp_lambda", "", 0.3);
  opts["mtp_lambda"] = r.mtp_lambda;
  const json moe = j.value("moe", json::object());
  c.keys(moe, "moe", {"bias_gamma", "balance_alpha"});
  r.moe_bias_gamma = c.num(moe, "bias_gamma", "moe.", 0.001);
  r.moe_balance_alpha = c.num(moe, "balance_alpha", "moe.", 0.0);
  opts["moe"] = {{"bias_gamma", r.moe_bias_gamma}, {"balance_alpha", r.moe_balance_alpha}};

  const json o = j.value("output", json::object());
  c.keys(o, "output", {"dir", "checkpoints", "metrics", "loss_plot", "export"});
  r.output_dir = c.resolve(c.str(o, "dir", "output.", "runs/" + j.value("name", std::string("run"))));
  auto sub = [&](const std::string& key, const std::string& def) {
    const std::string p = c.str(o, key, "output.", def);
    return (fs::path(r.output_dir) / p).lexically_normal().string();
  };
  r.checkpoint_dir = sub("checkpoints", "checkpoints");
  r.metrics_path = sub("metrics", "metrics.jsonl");
  r.loss_plot_path = sub("loss_plot", "loss.png");
  r.export_dir = sub("export", "final");

  if (j.contains("janus")) {
    const json& jn = j["janus"];
    c.keys(jn, "janus", {"stage", "cfg_dropout"});
    if (!jn.contains("stage") || !jn["stage"].is_number_integer()) c.fail("janus.stage", "expected 1, 2 or 3");
    r.janus_stage = jn["stage"].get<int>();
    if (r.janus_stage < 1 || r.janus_stage > 3)
      c.fail("janus.stage", "expected 1, 2 or 3, got " + std::to_string(r.janus_stage));
    opts["janus_stage"] = r.janus_stage;
    r.cfg_dropout = c.num(jn, "cfg_dropout", "janus.", 0.0);
    if (!(r.cfg_dropout >= 0 && r.cfg_dropout <= 1)) c.fail("janus.cfg_dropout", "expected a probability in [0, 1]");
    if (r.cfg_dropout > 0) opts["cfg_dropout"] = r.cfg_dropout;
  }

  base["model_options"] = opts;
  r.base = parse_recipe(base.dump(), source, base_dir);
  return r;
}

RunRecipe load_run_recipe(const std::string& path) {
  return parse_run_recipe(read_file(path), path, fs::path(path).parent_path().string());
}

}  // namespace janus::train
