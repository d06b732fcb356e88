// Recipe JSON parsing: defaults, every field, errors with key paths, and the resume hash.
#include <gtest/gtest.h>

#include "train/recipe.h"

namespace {

namespace tr = janus::train;

std::string error_of(const std::string& text) {
  try {
    tr::parse_recipe(text, "r.json", "/base");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Recipe, FillsDefaultsAndResolvesDataPaths) {
  tr::Recipe r = tr::parse_recipe(R"({"data": {"train": ["d/a.jsonl", "/abs/b.jsonl"]}})", "r.json", "/base");
  EXPECT_EQ(r.train_files, (std::vector<std::string>{"/base/d/a.jsonl", "/abs/b.jsonl"}));
  EXPECT_EQ(r.pack.seq_len, 512);
  EXPECT_EQ(r.pack.rows, 8);
  EXPECT_TRUE(r.pack.shuffle);
  EXPECT_EQ(r.steps, 1000);
  EXPECT_EQ(r.schedule.kind, tr::ScheduleKind::kCosine);
  EXPECT_EQ(r.schedule.total_steps, 1000);
  EXPECT_DOUBLE_EQ(r.schedule.peak_lr, 3e-4);
  EXPECT_DOUBLE_EQ(r.adamw.beta2, 0.95);
  ASSERT_EQ(r.adamw.groups.size(), 1u);
  EXPECT_EQ(r.adamw.groups[0].patterns, (std::vector<std::string>{"*norm*", "*.bias"}));
  EXPECT_EQ(r.hash.size(), 16u);
}

TEST(Recipe, ReadsEveryField) {
  tr::Recipe r = tr::parse_recipe(R"({
    "name": "stage1", "model": "models/x",
    "data": {"train": ["a.jsonl"], "seq_len": 64, "rows": 2, "seed": 3, "shuffle": false,
             "skip_bad": true, "check_images": true},
    "optimizer": {"lr": 1e-3, "betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.05, "no_decay": []},
    "schedule": {"kind": "wsd", "warmup_steps": 10, "min_lr": 1e-5, "decay_steps": 20},
    "train": {"steps": 100, "grad_accum": 4, "clip_norm": 0.5, "seed": 9, "checkpoint_every": 25,
              "keep_last": 2, "log_every": 5},
    "freeze": ["vision.*"], "unfreeze": ["vision.aligner.*"],
    "model_options": {"mtp_lambda": 0.3}})",
                                  "r.json", "");
  EXPECT_EQ(r.name, "stage1");
  EXPECT_EQ(r.model, "models/x");
  EXPECT_EQ(r.train_files, std::vector<std::string>{"a.jsonl"});
  EXPECT_EQ(r.pack.seq_len, 64);
  EXPECT_FALSE(r.pack.shuffle);
  EXPECT_TRUE(r.jsonl.skip_bad && r.jsonl.check_images);
  EXPECT_DOUBLE_EQ(r.adamw.beta1, 0.8);
  EXPECT_TRUE(r.adamw.groups.empty());
  EXPECT_EQ(r.schedule.kind, tr::ScheduleKind::kWsd);
  EXPECT_DOUBLE_EQ(r.schedule.lr(50), 1e-3);
  EXPECT_EQ(r.grad_accum, 4);
  EXPECT_EQ(r.keep_last, 2);
  EXPECT_EQ(r.freeze, std::vector<std::string>{"vision.*"});
  EXPECT_DOUBLE_EQ(r.model_options["mtp_lambda"].get<double>(), 0.3);
}

TEST(Recipe, ErrorsNameTheKeyPath) {
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "optimiser": {}})"), "r.json: optimiser: unknown key");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"], "seqlen": 3}})"), "r.json: data.seqlen: unknown key");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "optimizer": {"betas": [0.9]}})"),
            "r.json: optimizer.betas: expected an array of 2 numbers");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "train": {"steps": "ten"}})"),
            "r.json: train.steps: expected an integer, got string");
  EXPECT_EQ(error_of(R"({"data": {"train": []}})"), "r.json: data.train: needs at least one JSONL file");
  EXPECT_EQ(error_of(R"({})"), "r.json: data: missing (needs at least \"train\")");
  EXPECT_NE(error_of(R"({"data": {"train": ["a"]}, "schedule": {"kind": "step"}})").find("schedule.kind: "),
            std::string::npos);
  EXPECT_NE(error_of("{not json").find("r.json: invalid JSON"), std::string::npos);
  // Rates, decays and norms are finite and >= 0 (a negative lr was taken as given before).
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "optimizer": {"lr": -0.001}})"),
            "r.json: optimizer.lr: expected a finite number >= 0, got -0.001");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "train": {"clip_norm": -1}})"),
            "r.json: train.clip_norm: expected a finite number >= 0, got -1");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "train": {"steps": -2}})"),
            "r.json: train.steps: expected an integer >= 0, got -2");
}

TEST(Recipe, ParamGroupsComeBeforeNoDecayAndDefaultToTheGlobalWeightDecay) {
  tr::Recipe r = tr::parse_recipe(R"({"data": {"train": ["a"]},
    "optimizer": {"weight_decay": 0.05, "groups": [
      {"params": ["vision.*"], "lr_scale": 0.25},
      {"params": ["head.*", "gen.*"], "lr_scale": 2, "weight_decay": 0}]}})",
                                  "r.json", "");
  ASSERT_EQ(r.adamw.groups.size(), 3u);
  EXPECT_EQ(r.adamw.groups[0].patterns, std::vector<std::string>{"vision.*"});
  EXPECT_DOUBLE_EQ(r.adamw.groups[0].lr_scale, 0.25);
  EXPECT_DOUBLE_EQ(r.adamw.groups[0].weight_decay, 0.05);
  EXPECT_EQ(r.adamw.groups[1].patterns, (std::vector<std::string>{"head.*", "gen.*"}));
  EXPECT_DOUBLE_EQ(r.adamw.groups[1].lr_scale, 2.0);
  EXPECT_DOUBLE_EQ(r.adamw.groups[1].weight_decay, 0.0);
  EXPECT_EQ(r.adamw.groups[2].patterns, (std::vector<std::string>{"*norm*", "*.bias"}));  // no_decay last
  EXPECT_DOUBLE_EQ(r.adamw.groups[2].weight_decay, 0.0);
  const std::string plain =
      tr::parse_recipe(R"({"data": {"train": ["a"]}, "optimizer": {"weight_decay": 0.05}})", "r.json", "").hash;
  EXPECT_NE(r.hash, plain);  // groups change the numbers: a resume must not mix them
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "optimizer": {"groups": [{"params": []}]}})"),
            "r.json: optimizer.groups[0].params: expected a non-empty array of name patterns");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "optimizer": {"groups": [{"params": ["x"], "lr": 1}]}})"),
            "r.json: optimizer.groups[0].lr: unknown key");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "optimizer": {"groups": [{"params": ["x"], "lr_scale": -1}]}})"),
            "r.json: optimizer.groups[0].lr_scale: expected a finite number >= 0, got -1");
  EXPECT_EQ(error_of(R"({"data": {"train": ["a"]}, "optimizer": {"groups": {"params": ["x"]}}})"),
            "r.json: optimizer.groups: expected an array of objects");
}

TEST(Recipe, HashIgnoresRunLengthAndLoggingButNotTheNumbers) {
  const std::string base =
      R"({"data": {"train": ["a"]}, "schedule": {"total_steps": 1000}, "train": {"steps": %S%}, "optimizer": {"lr": %LR%}})";
  auto make = [&](const std::string& steps, const std::string& lr) {
    std::string s = base;
    s.replace(s.find("%S%"), 3, steps);
    s.replace(s.find("%LR%"), 4, lr);
    return tr::parse_recipe(s, "r.json", "").hash;
  };
  EXPECT_EQ(make("100", "0.001"), make("500", "0.001"));  // extend a run, same numbers
  EXPECT_NE(make("100", "0.001"), make("100", "0.002"));
}

}  // namespace
