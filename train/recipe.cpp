#include "train/recipe.h"

#include <filesystem>
#include <stdexcept>

#include "train/atomic_file.h"
#include "train/checkpoint.h"

namespace janus::train {

namespace fs = std::filesystem;
using nlohmann::json;

void parse_train_sections(const JsonReader& rd, const json& root, TrainSections& t, json& canon) {
  const json o = rd.object(root, "optimizer");
  rd.keys(o, "optimizer", {"lr", "betas", "eps", "weight_decay", "no_decay", "groups"});
  t.lr = rd.number(o, "lr", "optimizer", t.lr);
  if (o.contains("betas")) {
    const json& b = o["betas"];
    if (!b.is_array() || b.size() != 2 || !b[0].is_number() || !b[1].is_number())
      rd.fail("optimizer.betas", "expected an array of 2 numbers");
    t.adamw.beta1 = b[0].get<double>();
    t.adamw.beta2 = b[1].get<double>();
  }
  t.adamw.eps = rd.number(o, "eps", "optimizer", 1e-8);
  t.adamw.weight_decay = rd.number(o, "weight_decay", "optimizer", t.adamw.weight_decay);
  const std::vector<std::string> no_decay =
      o.contains("no_decay") ? rd.strings(o, "no_decay", "optimizer") : no_decay_norms_and_biases().patterns;
  // optimizer.groups (torch's param groups): [{"params": [patterns], "lr_scale": 1, "weight_decay": W}],
  // matched in order before no_decay; weight_decay defaults to optimizer.weight_decay.
  t.adamw.groups.clear();
  json groups = json::array();
  if (o.contains("groups")) {
    if (!o["groups"].is_array()) rd.fail("optimizer.groups", "expected an array of objects");
    for (size_t i = 0; i < o["groups"].size(); ++i) {
      const json& g = o["groups"][i];
      const std::string path = "optimizer.groups[" + std::to_string(i) + "]";
      rd.keys(g, path, {"params", "lr_scale", "weight_decay"});
      ParamGroup pg;
      pg.patterns = rd.strings(g, "params", path);
      if (pg.patterns.empty()) rd.fail(path + ".params", "expected a non-empty array of name patterns");
      pg.lr_scale = rd.number(g, "lr_scale", path, 1.0);
      pg.weight_decay = rd.number(g, "weight_decay", path, t.adamw.weight_decay);
      t.adamw.groups.push_back(pg);
      groups.push_back({{"params", pg.patterns}, {"lr_scale", pg.lr_scale}, {"weight_decay", pg.weight_decay}});
    }
  }
  if (!no_decay.empty()) t.adamw.groups.push_back(ParamGroup{no_decay, 0.0, 1.0});
  canon["optimizer"] = {{"lr", t.lr},
                        {"betas", {t.adamw.beta1, t.adamw.beta2}},
                        {"eps", t.adamw.eps},
                        {"weight_decay", t.adamw.weight_decay},
                        {"no_decay", no_decay}};
  if (!groups.empty()) canon["optimizer"]["groups"] = groups;

  const json tr = rd.object(root, "train");
  rd.keys(tr, "train", {"steps", "grad_accum", "clip_norm", "seed", "checkpoint_every", "keep_last", "log_every"});
  t.steps = rd.integer(tr, "steps", "train", 1000, 0);
  t.grad_accum = rd.integer(tr, "grad_accum", "train", 1, 1);
  t.clip_norm = rd.number(tr, "clip_norm", "train", 1.0);
  t.seed = uint64_t(rd.integer(tr, "seed", "train", 0, 0));
  t.checkpoint_every = rd.integer(tr, "checkpoint_every", "train", 0, 0);
  t.keep_last = int(rd.integer(tr, "keep_last", "train", 3, 0));
  t.log_every = rd.integer(tr, "log_every", "train", 10, 1);
  canon["train"] = {{"grad_accum", t.grad_accum}, {"clip_norm", t.clip_norm}, {"seed", t.seed}};

  const json s = rd.object(root, "schedule");
  rd.keys(s, "schedule", {"kind", "warmup_steps", "min_lr", "total_steps", "decay_steps", "wsd_cosine_decay"});
  try {
    t.schedule.kind = schedule_kind_from_string(rd.string(s, "kind", "schedule", "cosine"));
  } catch (const std::invalid_argument& e) {
    rd.fail("schedule.kind", e.what());
  }
  t.schedule.peak_lr = t.lr;
  t.schedule.warmup_steps = rd.integer(s, "warmup_steps", "schedule", 0, 0);
  t.schedule.min_lr = rd.number(s, "min_lr", "schedule", 0.0);
  t.schedule.total_steps = rd.integer(s, "total_steps", "schedule", t.steps, 0);
  t.schedule.decay_steps = rd.integer(s, "decay_steps", "schedule", 0, 0);
  t.schedule.wsd_cosine_decay = rd.boolean(s, "wsd_cosine_decay", "schedule", false);
  try {
    t.schedule.validate();
  } catch (const std::invalid_argument& e) {
    rd.fail("schedule", e.what());
  }
  canon["schedule"] = {{"kind", schedule_kind_name(t.schedule.kind)},
                       {"warmup_steps", t.schedule.warmup_steps},
                       {"min_lr", t.schedule.min_lr},
                       {"total_steps", t.schedule.total_steps},
                       {"decay_steps", t.schedule.decay_steps},
                       {"wsd_cosine_decay", t.schedule.wsd_cosine_decay}};
}

void parse_output_section(const JsonReader& rd, const json& root, const std::string& default_dir, RunPaths& p) {
  const json o = rd.object(root, "output");
  rd.keys(o, "output", {"dir", "checkpoints", "metrics", "loss_plot", "export"});
  p.output_dir = rd.resolve(rd.string(o, "dir", "output", default_dir));
  auto sub = [&](const std::string& key, const std::string& def) {
    return (fs::path(p.output_dir) / rd.string(o, key, "output", def)).lexically_normal().string();
  };
  p.checkpoint_dir = sub("checkpoints", "checkpoints");
  p.metrics_path = sub("metrics", "metrics.jsonl");
  p.loss_plot_path = sub("loss_plot", "loss.png");
  p.export_dir = sub("export", "final");
}

void set_output_dir(RunPaths& p, const std::string& dir) {
  auto rebase = [&](std::string& path) {
    if (!path.empty())
      path = (fs::path(dir) / fs::path(path).lexically_relative(p.output_dir)).lexically_normal().string();
  };
  rebase(p.checkpoint_dir);
  rebase(p.metrics_path);
  rebase(p.loss_plot_path);
  rebase(p.export_dir);
  p.output_dir = dir;
}

TrainerConfig trainer_config(const TrainSections& t, const RunPaths& paths, const std::string& hash,
                             int64_t stop_at_step, bool progress, LogFn log) {
  TrainerConfig tc;
  tc.total_steps = stop_at_step > 0 ? std::min(stop_at_step, t.steps) : t.steps;
  tc.grad_accum = t.grad_accum;
  tc.clip_norm = t.clip_norm;
  tc.seed = t.seed;
  tc.checkpoint_dir = paths.checkpoint_dir;
  tc.checkpoint_every = t.checkpoint_every;
  tc.keep_last = t.keep_last;
  tc.resume = false;  // the callers resume explicitly, so they know the start step
  tc.recipe_hash = hash;
  tc.metrics_path = paths.metrics_path;
  tc.loss_curve_path = paths.loss_plot_path;
  tc.progress = progress;
  tc.log_every = t.log_every;
  tc.log = std::move(log);
  return tc;
}

Recipe parse_recipe(const std::string& json_text, const std::string& source, const std::string& base_dir) {
  const JsonReader rd{source, base_dir};
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
  const std::vector<std::string> train_files = rd.strings(d, "train", "data");
  for (const auto& f : train_files) {
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
  canon["data"] = {{"train", train_files}, {"seq_len", r.pack.seq_len}, {"rows", r.pack.rows},
                   {"seed", r.pack.seed},  {"shuffle", r.pack.shuffle}, {"skip_bad", r.jsonl.skip_bad}};

  // A text recipe's optimizer defaults: lr 3e-4, betas (0.9, 0.95), weight decay 0.1.
  r.lr = 3e-4;
  r.adamw.beta1 = 0.9, r.adamw.beta2 = 0.95;
  r.adamw.weight_decay = 0.1;
  parse_train_sections(rd, j, r, canon);

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
