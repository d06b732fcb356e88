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

RunRecipe parse_run_recipe(const std::string& json_text, const std::string& source, const std::string& base_dir) {
  const JsonReader rd{source, base_dir};
  const json j = parse_json(json_text, source);
  if (!j.is_object()) rd.fail("(top level)", std::string("expected an object, got ") + j.type_name());
  json base = json::object();
  for (const auto& [k, v] : j.items()) {
    if (kBaseKeys.count(k))
      base[k] = v;
    else if (!kRunKeys.count(k))
      rd.fail(k, "unknown key");
  }
  const std::string kind = rd.string(j, "kind", "", "text");
  if (kind != "text")
    rd.fail("kind", "\"" + kind +
                        "\" is not a text-backbone recipe (this parser reads \"text\"; `janus train` "
                        "also runs \"vq\" recipes, train/run_vq.h)");
  RunRecipe r;
  r.source = source;
  json opts = json::object();  // what the hash covers beyond the base recipe

  // model
  if (!j.contains("model")) rd.fail("model", "missing (needs \"init_from\" or \"config\")");
  const json& m = j["model"];
  rd.keys(m, "model", {"init_from", "config", "seed", "init_std", "weights_from", "zero_init"});
  r.init_from = rd.resolve(rd.string(m, "init_from", "model", ""));
  r.config_path = rd.resolve(rd.string(m, "config", "model", ""));
  if (r.init_from.empty() == r.config_path.empty())
    rd.fail("model", "needs exactly one of \"init_from\" (an HF folder) or \"config\" (random init)");
  if (!r.init_from.empty() && (m.contains("seed") || m.contains("init_std")))
    rd.fail("model", "\"seed\" and \"init_std\" go with \"config\" (random init), not \"init_from\"");
  if (m.contains("seed")) {
    if (!m["seed"].is_number_unsigned()) rd.fail("model.seed", "expected a non-negative integer");
    r.init_seed = m["seed"].get<uint64_t>();
  }
  if (m.contains("init_std")) r.init_std = rd.number(m, "init_std", "model", 0.02);
  if (m.contains("weights_from")) {
    const char* kWant = "expected a list of folders or {\"dir\": ..., \"rename\": {...}} objects";
    if (!m["weights_from"].is_array()) rd.fail("model.weights_from", kWant);
    for (size_t i = 0; i < m["weights_from"].size(); ++i) {
      const json& f = m["weights_from"][i];
      const std::string path = "model.weights_from[" + std::to_string(i) + "]";
      RunRecipe::WeightsFrom w;
      if (f.is_string()) {
        w.dir = rd.resolve(f.get<std::string>());
      } else if (f.is_object()) {
        rd.keys(f, path, {"dir", "rename"});
        if (!f.contains("dir")) rd.fail(path, "missing \"dir\"");
        w.dir = rd.resolve(rd.string(f, "dir", path, ""));
        if (f.contains("rename")) {
          if (!f["rename"].is_object()) rd.fail(path + ".rename", "expected an object of name prefixes");
          for (const auto& [from, to] : f["rename"].items()) {
            if (from.empty()) rd.fail(path + ".rename", "an empty prefix would rename every tensor");
            if (!to.is_string())
              rd.fail(path + ".rename." + from, std::string("expected a string, got ") + to.type_name());
            w.rename.emplace_back(from, to.get<std::string>());
          }
        }
      } else {
        rd.fail(path, kWant);
      }
      if (w.dir.empty()) rd.fail(path, "empty folder name");
      r.weights_from.push_back(std::move(w));
    }
    opts["weights_from"] = m["weights_from"];
  }
  if (m.contains("zero_init")) {
    const json& z = m["zero_init"];
    if (!z.is_array()) rd.fail("model.zero_init", "expected a list of parameter patterns");
    for (const auto& p : z) {
      if (!p.is_string() || p.get<std::string>().empty())
        rd.fail("model.zero_init", "expected a list of non-empty parameter patterns");
      r.zero_init.push_back(p.get<std::string>());
    }
    opts["zero_init"] = z;
  }
  // The hash sees paths as written (relative to the recipe), so a run resumes from any cwd.
  base["model"] = r.init_from.empty()
                      ? "config:" + m["config"].get<std::string>() + "#seed=" + std::to_string(r.init_seed) +
                            ",std=" + json(r.init_std.value_or(0.02)).dump()
                      : "init_from:" + m["init_from"].get<std::string>();

  r.tokenizer_dir = j.contains("tokenizer") ? rd.resolve(rd.string(j, "tokenizer", "", "")) : r.init_from;
  if (r.tokenizer_dir.empty()) rd.fail("tokenizer", "missing (needed when the model is not \"init_from\" a folder)");
  opts["tokenizer"] = j.contains("tokenizer") ? j["tokenizer"].get<std::string>() : std::string();

  // task
  const json t = j.value("task", json::object());
  rd.keys(t, "task", {"loss", "add_bos", "add_eos"});
  const std::string loss = rd.string(t, "loss", "task", "record");
  if (loss == "record")
    r.loss = LossScope::kRecord;
  else if (loss == "all")
    r.loss = LossScope::kAll;
  else if (loss == "answer")
    r.loss = LossScope::kAnswer;
  else
    rd.fail("task.loss", "expected \"record\", \"all\" or \"answer\", got \"" + loss + "\"");
  r.add_bos = rd.boolean(t, "add_bos", "task", true);
  r.add_eos = rd.boolean(t, "add_eos", "task", true);
  opts["task"] = {{"loss", loss}, {"add_bos", r.add_bos}, {"add_eos", r.add_eos}};

  const std::string prec = rd.string(j, "precision", "", "fp32");
  if (prec == "fp32")
    r.precision = kernels::ag::GemmPrecision::kFull;
  else if (prec == "bf16")
    r.precision = kernels::ag::GemmPrecision::kBf16;
  else if (prec == "fp8")
    r.precision = kernels::ag::GemmPrecision::kFp8;
  else
    rd.fail("precision", "expected \"fp32\", \"bf16\" or \"fp8\", got \"" + prec + "\"");
  opts["precision"] = prec;

  r.mtp_lambda = rd.number(j, "mtp_lambda", "", 0.3);
  opts["mtp_lambda"] = r.mtp_lambda;
  const json moe = j.value("moe", json::object());
  rd.keys(moe, "moe", {"bias_gamma", "balance_alpha"});
  r.moe_bias_gamma = rd.number(moe, "bias_gamma", "moe", 0.001);
  r.moe_balance_alpha = rd.number(moe, "balance_alpha", "moe", 0.0);
  opts["moe"] = {{"bias_gamma", r.moe_bias_gamma}, {"balance_alpha", r.moe_balance_alpha}};

  parse_output_section(rd, j, "runs/" + rd.string(j, "name", "", "run"), r);

  if (j.contains("janus")) {
    const json& jn = j["janus"];
    rd.keys(jn, "janus", {"stage", "cfg_dropout"});
    if (!jn.contains("stage") || !jn["stage"].is_number_integer()) rd.fail("janus.stage", "expected 1, 2 or 3");
    r.janus_stage = jn["stage"].get<int>();
    if (r.janus_stage < 1 || r.janus_stage > 3)
      rd.fail("janus.stage", "expected 1, 2 or 3, got " + std::to_string(r.janus_stage));
    opts["janus_stage"] = r.janus_stage;
    r.cfg_dropout = rd.number(jn, "cfg_dropout", "janus", 0.0);
    if (!(r.cfg_dropout >= 0 && r.cfg_dropout <= 1)) rd.fail("janus.cfg_dropout", "expected a probability in [0, 1]");
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
