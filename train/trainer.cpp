#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <iostream>
#include <stdexcept>

#include "train/checkpoint.h"
#include "train/clip.h"

namespace janus::train {

namespace ag = kernels::ag;

Trainer::Trainer(ag::ParamList params, AdamW& optimizer, LrSchedule schedule, DataSource& data, LossFn loss_fn,
                 TrainerConfig config)
    : params_(std::move(params)),
      opt_(optimizer),
      schedule_(schedule),
      data_(data),
      loss_fn_(std::move(loss_fn)),
      cfg_(std::move(config)),
      rng_(cfg_.seed) {
  if (cfg_.grad_accum < 1) throw std::invalid_argument("Trainer: grad_accum must be >= 1");
  if (!loss_fn_) throw std::invalid_argument("Trainer: no loss function");
  schedule_.validate();
}

Trainer::~Trainer() = default;

void Trainer::log(const std::string& m) const {
  if (cfg_.log)
    cfg_.log(m);
  else
    std::cerr << m << "\n";
}

std::optional<std::string> Trainer::resume() {
  if (cfg_.checkpoint_dir.empty()) return std::nullopt;
  auto latest = find_latest_checkpoint(cfg_.checkpoint_dir, [this](const std::string& m) { log(m); });
  if (!latest) {
    log("resume: no checkpoint in " + cfg_.checkpoint_dir + ", starting from step 0");
    return std::nullopt;
  }
  Checkpoint c = load_checkpoint(*latest);
  if (!cfg_.recipe_hash.empty() && !c.meta.recipe_hash.empty() && c.meta.recipe_hash != cfg_.recipe_hash)
    throw std::runtime_error("resume: checkpoint " + *latest + " was made by recipe " + c.meta.recipe_hash +
                             ", this run's recipe is " + cfg_.recipe_hash);
  restore_params(*c.model, params_, buffers_);
  opt_.import_state(*c.optimizer);
  rng_.set_state(c.meta.rng);
  data_.seek(c.meta.cursor);
  step_ = c.meta.step;
  skipped_ = c.meta.extra.is_object() ? c.meta.extra.value("skipped_steps", int64_t(0)) : 0;
  last_saved_ = step_;
  log("resumed from " + *latest + " at step " + std::to_string(step_) + " (epoch " +
      std::to_string(c.meta.cursor.epoch) + ", record " + std::to_string(c.meta.cursor.index) + ")");
  return latest;
}

void Trainer::record(const std::string& key, double value) {
  auto& [sum, n] = pending_[key];
  sum += value;
  ++n;
}

StepResult Trainer::train_step() {
  StepResult r;
  pending_.clear();
  opt_.zero_grad();
  const double seed = 1.0 / double(cfg_.grad_accum);
  for (int64_t k = 0; k < cfg_.grad_accum; ++k) {
    Batch b = data_.next_batch();
    ag::Var loss = loss_fn_(b, rng_);
    if (!loss.defined() || loss.numel() != 1)
      throw std::runtime_error("Trainer: loss_fn must return a one-element Var");
    r.loss += double(loss.value().to_f32_vector()[0]) / double(cfg_.grad_accum);
    r.tokens += b.real_tokens;
    r.target_tokens += b.target_tokens;
    ag::backward(loss, seed);
  }
  r.grad_norm = clip_grad_norm(params_, cfg_.clip_norm);
  r.lr = schedule_.lr(step_);
  if (std::isfinite(r.grad_norm) || !cfg_.skip_nonfinite) {
    ag::NoGradGuard no_grad;
    opt_.step(r.lr);
  } else {
    r.skipped = true;
    ++skipped_;
    log("step " + std::to_string(step_ + 1) + ": non-finite gradient norm, update skipped");
  }
  opt_.zero_grad();  // frees the grads between steps
  r.step = ++step_;
  for (const auto& [k, v] : pending_) r.extra[k] = v.first / double(v.second);
  pending_.clear();
  for (auto& h : hooks_) h(r);
  if (metrics_) {
    nlohmann::json line = {{"step", r.step},
                           {"loss", r.loss},
                           {"lr", r.lr},
                           {"grad_norm", std::isfinite(r.grad_norm) ? nlohmann::json(r.grad_norm) : nlohmann::json()},
                           {"tokens", r.tokens},
                           {"target_tokens", r.target_tokens},
                           {"skipped", r.skipped}};
    for (const auto& [k, v] : r.extra)
      if (!line.contains(k)) line[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
    metrics_->write(line);
  }
  if (bar_) bar_->update(r.step, r.loss, r.lr, r.tokens);
  return r;
}

std::string Trainer::save_checkpoint() {
  if (cfg_.checkpoint_dir.empty()) throw std::runtime_error("Trainer::save_checkpoint: no checkpoint_dir configured");
  CheckpointMeta m;
  m.step = step_;
  m.cursor = data_.cursor();
  m.rng = rng_.state();
  m.recipe_hash = cfg_.recipe_hash;
  m.extra = {{"skipped_steps", skipped_}};
  const std::string path =
      train::save_checkpoint(cfg_.checkpoint_dir, m, params_, opt_.export_state(), cfg_.keep_last, buffers_);
  last_saved_ = step_;
  return path;
}

void Trainer::open_outputs() {
  if (!cfg_.metrics_path.empty()) metrics_ = std::make_unique<MetricsWriter>(cfg_.metrics_path, step_);
  if (cfg_.progress) bar_ = std::make_unique<ProgressBar>(cfg_.total_steps, step_, cfg_.log_every);
}

StepResult Trainer::run() {
  if (cfg_.resume) resume();
  open_outputs();
  StepResult last;
  last.step = step_;
  while (step_ < cfg_.total_steps) {
    last = train_step();
    if (!cfg_.checkpoint_dir.empty() && cfg_.checkpoint_every > 0 && step_ % cfg_.checkpoint_every == 0)
      save_checkpoint();
  }
  if (bar_) bar_->finish();
  if (!cfg_.checkpoint_dir.empty() && last_saved_ != step_) save_checkpoint();
  if (!cfg_.loss_curve_path.empty() && !cfg_.metrics_path.empty()) {
    auto pts = read_metric_series(cfg_.metrics_path, "loss");
    if (!pts.empty()) write_loss_curve_png(cfg_.loss_curve_path, pts, "training loss");
  }
  metrics_.reset();
  bar_.reset();
  return last;
}

}  // namespace janus::train
