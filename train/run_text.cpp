#include "train/run_text.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "llm/config.h"
#include "llm/moe_balance.h"
#include "llm/safetensors.h"
#include "tokenizers/tokenizer.h"
#include "train/freeze.h"

namespace janus::train {

namespace fs = std::filesystem;
namespace ag = kernels::ag;

struct TextRun::Impl {
  RunRecipe recipe;
  RunOverrides ov;
  tokenizers::Tokenizer tok;
  llm::TrainableModel model;
  std::string config_source;  // config.json to export
  std::vector<Record> records;
  std::unique_ptr<PackedLoader> loader;
  std::unique_ptr<AdamW> opt;
  std::unique_ptr<Trainer> trainer;
  std::vector<std::vector<int64_t>> step_load;  // summed over the step's micro-batches
  double last_ratio = 0;
  int64_t first_step_of_run = 1;  // run(): the first step's loss and load ratio go to the summary
  double first_loss = NAN, first_ratio = 0;

  Impl(RunRecipe r, RunOverrides o, tokenizers::Tokenizer t, llm::TrainableModel m)
      : recipe(std::move(r)), ov(std::move(o)), tok(std::move(t)), model(std::move(m)) {}

  void log(const std::string& m) const {
    if (ov.log)
      ov.log(m);
    else
      std::cerr << m << "\n";
  }

  Example tokenize(const Record& rec) const {
    std::vector<int64_t> prompt, answer;
    const int32_t bos = tok.bos_id(), eos = tok.eos_id();
    if (recipe.add_bos && bos >= 0) prompt.push_back(bos);
    auto append = [&](std::vector<int64_t>& out, const std::string& s) {
      for (int32_t id : tok.encode(s)) out.push_back(id);
    };
    bool answer_only = false;
    if (rec.answer.empty() && rec.prompt.empty()) {
      append(answer, rec.text);
    } else {
      append(prompt, rec.prompt);
      append(answer, rec.answer);
      answer_only = recipe.loss == LossScope::kAnswer || (recipe.loss == LossScope::kRecord && rec.answer_only_loss);
    }
    if (recipe.add_eos && eos >= 0) answer.push_back(eos);
    return make_example(prompt, answer, answer_only);
  }

  ag::Var loss(const Batch& b) {
    llm::TrainForwardOptions fo;
    fo.segments = &b.segments;
    fo.seq_balance_alpha = recipe.moe_balance_alpha;
    fo.gemm = recipe.precision;
    auto fw = model.forward(b.tokens, b.rows, b.seq_len, fo);
    llm::add_loads(step_load, fw.expert_load);
    return llm::lm_loss(fw, b.targets, b.rows, b.seq_len, recipe.mtp_lambda, &b.segments).total;
  }

  // Max/mean over every MoE layer's load, averaged over layers (0 without MoE).
  static double load_ratio(const std::vector<std::vector<int64_t>>& loads) {
    double s = 0;
    for (const auto& l : loads) s += llm::load_max_over_mean(l);
    return loads.empty() ? 0.0 : s / double(loads.size());
  }
};

TextRun::TextRun(RunRecipe recipe, RunOverrides ov) {
  const std::string& src = recipe.source;
  if (recipe.janus_stage != 0)
    throw std::runtime_error(src +
                             ": janus.stage: needs the Janus trainable model: run it with train::JanusRun "
                             "(train/run_janus.h); TextRun trains text backbones only");
  if (!recipe.weights_from.empty() || !recipe.zero_init.empty())
    throw std::runtime_error(src + ": model." + (recipe.weights_from.empty() ? "zero_init" : "weights_from") +
                             ": only Janus recipes (\"janus\": {\"stage\": ...}) support it so far");
  auto tok = tokenizers::Tokenizer::from_dir(recipe.tokenizer_dir);
  std::string config_source;
  llm::TrainableModel model = [&] {
    if (!recipe.init_from.empty()) {
      config_source = recipe.init_from + "/config.json";
      return llm::TrainableModel::from_checkpoint(recipe.init_from);
    }
    config_source = recipe.config_path;
    return llm::TrainableModel::random(llm::load_config(recipe.config_path), recipe.init_seed,
                                       recipe.init_std.value_or(0.02));
  }();
  if (int64_t(tok.vocab_size()) > model.config().vocab_size)
    throw std::runtime_error(src + ": tokenizer " + recipe.tokenizer_dir + " has " + std::to_string(tok.vocab_size()) +
                             " tokens but the model's vocab_size is " + std::to_string(model.config().vocab_size));
  impl_ = std::make_unique<Impl>(std::move(recipe), std::move(ov), std::move(tok), std::move(model));
  Impl& m = *impl_;
  m.config_source = config_source;
  const Recipe& r = m.recipe.base;

  JsonlOptions jo = r.jsonl;
  jo.log = [this](const std::string& s) { impl_->log(s); };
  for (const auto& f : r.train_files) {
    auto recs = read_jsonl(f, jo);
    m.records.insert(m.records.end(), std::make_move_iterator(recs.begin()), std::make_move_iterator(recs.end()));
  }
  if (m.records.empty()) throw std::runtime_error(src + ": data.train: no records in the listed files");
  PackOptions po = r.pack;
  po.pad_id = m.tok.pad_id() >= 0 ? m.tok.pad_id() : (m.tok.eos_id() >= 0 ? m.tok.eos_id() : 0);
  m.loader = std::make_unique<PackedLoader>(
      &m.records, [this](const Record& rec) { return impl_->tokenize(rec); }, po);

  auto& params = m.model.params();
  apply_freeze_lists(params, m.recipe);
  m.log("parameters: " + count_trainable(params).summary());

  m.opt = std::make_unique<AdamW>(params, r.adamw);
  m.trainer = std::make_unique<Trainer>(
      params, *m.opt, r.schedule, *m.loader, [this](const Batch& b, Rng&) { return impl_->loss(b); },
      trainer_config(m.recipe, m.ov));
  llm::NamedTensors bufs;
  for (const auto& b : m.model.buffers()) bufs.push_back({b.name, b.value});
  m.trainer->set_buffers(bufs);
  const double gamma = m.recipe.moe_bias_gamma;
  m.trainer->add_hook([this, gamma](const StepResult& r) {
    Impl& mi = *impl_;
    mi.last_ratio = Impl::load_ratio(mi.step_load);
    if (r.step == mi.first_step_of_run) mi.first_loss = r.loss, mi.first_ratio = mi.last_ratio;
    if (gamma > 0 && !mi.step_load.empty()) llm::update_router_biases(mi.model, mi.step_load, gamma);
    mi.step_load.clear();
  });
}

TextRun::~TextRun() = default;

llm::TrainableModel& TextRun::model() { return impl_->model; }
const RunRecipe& TextRun::recipe() const { return impl_->recipe; }

RunSummary TextRun::run() {
  Impl& m = *impl_;
  fs::create_directories(m.recipe.output_dir);
  RunSummary s;
  if (m.ov.resume) m.trainer->resume();
  s.start_step = m.trainer->step();
  m.first_loss = NAN;
  m.first_ratio = 0;
  m.first_step_of_run = s.start_step + 1;
  s.last = m.trainer->run();
  s.first_loss = m.first_loss;
  s.first_load_ratio = m.first_ratio;
  s.last_load_ratio = m.last_ratio;
  s.export_dir = m.recipe.export_dir;
  export_model(s.export_dir);
  m.log("exported the model to " + s.export_dir);
  return s;
}

TrainerConfig trainer_config(const RunRecipe& recipe, const RunOverrides& overrides) {
  return trainer_config(recipe.base, recipe, recipe.base.hash, overrides.stop_at_step, overrides.progress,
                        overrides.log);
}

void apply_freeze_lists(ag::ParamList& params, const RunRecipe& recipe) {
  const StageFreeze st = janus_stage_freeze(recipe.janus_stage);
  const Recipe& r = recipe.base;
  const std::pair<const std::vector<std::string>*, const char*> lists[] = {{&st.freeze, "janus.stage freeze"},
                                                                           {&st.unfreeze, "janus.stage unfreeze"},
                                                                           {&r.freeze, "freeze"},
                                                                           {&r.unfreeze, "unfreeze"}};
  for (size_t i = 0; i < std::size(lists); ++i) {
    const auto& [list, what] = lists[i];
    if (list->empty()) continue;
    const FreezeReport rep = (i % 2 == 0 ? freeze : unfreeze)(params, *list);
    if (!rep.unmatched_patterns.empty())
      throw std::runtime_error(recipe.source + ": " + what + ": pattern '" + rep.unmatched_patterns[0] +
                               "' matches no parameter");
  }
}

void write_export_folder(const std::string& dir, const llm::NamedTensors& tensors, const std::string& config_source,
                         const RunRecipe& recipe, const std::vector<std::string>& from_init) {
  fs::create_directories(dir);
  llm::write_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  fs::copy_file(config_source, dir + "/config.json", fs::copy_options::overwrite_existing);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    const fs::path p = fs::path(recipe.tokenizer_dir) / f;
    if (fs::exists(p)) fs::copy_file(p, fs::path(dir) / f, fs::copy_options::overwrite_existing);
  }
  if (recipe.init_from.empty()) return;
  for (const std::string& f : from_init) {
    const fs::path g = fs::path(recipe.init_from) / f;
    if (fs::exists(g)) fs::copy_file(g, fs::path(dir) / f, fs::copy_options::overwrite_existing);
  }
}

void TextRun::export_model(const std::string& dir) const {
  const Impl& m = *impl_;
  llm::NamedTensors ts;
  for (const auto& p : m.model.params()) ts.push_back({p.name, p.var.value()});
  for (const auto& b : const_cast<llm::TrainableModel&>(m.model).buffers()) ts.push_back({b.name, b.value});
  write_export_folder(dir, ts, m.config_source, m.recipe, {"generation_config.json"});
}

}  // namespace janus::train
