#include "train/optimizer.h"

#include <cmath>
#include <cstring>
#include <map>

#include "kernels/thread_pool.h"
#include "train/freeze.h"

namespace janus::train {

using kernels::DType;
using kernels::Error;
using kernels::Tensor;

ParamGroup no_decay_norms_and_biases() { return ParamGroup{{"*norm*", "*.bias"}, 0.0, 1.0}; }

AdamW::AdamW(ag::ParamList params, AdamWConfig config) : config_(std::move(config)) {
  std::map<std::string, int> seen;
  for (auto& p : params) {
    if (!p.var.defined()) throw Error("AdamW: param '" + p.name + "' is an undefined Var");
    if (seen[p.name]++) throw Error("AdamW: duplicate param name '" + p.name + "'");
    Slot s;
    s.param = p;
    s.weight_decay = config_.weight_decay;
    for (const auto& g : config_.groups)
      if (glob_match_any(g.patterns, p.name)) {
        s.weight_decay = g.weight_decay;
        s.lr_scale = g.lr_scale;
        break;
      }
    slots_.push_back(std::move(s));
  }
}

void AdamW::set_trainable(const ag::ParamList& params) {
  if (params.size() != slots_.size()) throw Error("AdamW::set_trainable: param count differs from the constructor's");
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].name != slots_[i].param.name)
      throw Error("AdamW::set_trainable: param " + std::to_string(i) + " is '" + params[i].name + "', expected '" +
                  slots_[i].param.name + "'");
    slots_[i].param.trainable = params[i].trainable;
  }
}

double AdamW::weight_decay_of(const std::string& name) const {
  for (const auto& s : slots_)
    if (s.param.name == name) return s.weight_decay;
  throw Error("AdamW: no param named '" + name + "'");
}

static void check_f32(const Tensor& t, const std::string& what) {
  if (t.dtype() != DType::F32 || t.device() != kernels::Device::CPU || !t.is_contiguous())
    throw Error("AdamW: " + what + " must be a contiguous CPU f32 tensor, got " + kernels::dtype_name(t.dtype()) + " " +
                kernels::shape_str(t.shape()));
}

void AdamW::step(double lr) {
  ++steps_;
  const double b1 = config_.beta1, b2 = config_.beta2;
  for (auto& s : slots_) {
    if (!s.param.trainable || !s.param.var.has_grad()) continue;
    const Tensor& value = s.param.var.value();
    const Tensor& grad = s.param.var.grad();
    check_f32(value, "param '" + s.param.name + "'");
    check_f32(grad, "grad of '" + s.param.name + "'");
    if (grad.shape() != value.shape()) throw Error("AdamW: grad of '" + s.param.name + "' has a different shape");
    if (!s.exp_avg.defined()) {
      s.exp_avg = Tensor::zeros(value.shape(), DType::F32);
      s.exp_avg_sq = Tensor::zeros(value.shape(), DType::F32);
    }
    s.step += 1;
    const double plr = lr * s.lr_scale;
    const double t = double(s.step);
    const double bc1 = 1.0 - std::pow(b1, t);
    const double bc2 = 1.0 - std::pow(b2, t);
    const float decay = float(1.0 - plr * s.weight_decay);
    const float w1 = float(1.0 - b1);
    const float beta2 = float(b2);
    const float w2 = float(1.0 - b2);
    const float bc2_sqrt = float(std::sqrt(bc2));
    const float eps = float(config_.eps);
    const float neg_step = float(-(plr / bc1));
    const bool do_decay = s.weight_decay != 0.0;

    float* p = value.data<float>();
    const float* g = grad.data<float>();
    float* m = s.exp_avg.data<float>();
    float* v = s.exp_avg_sq.data<float>();
    // Element-wise, so splitting across threads cannot change a bit.
    kernels::parallel_for(
        value.numel(),
        [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            float pi = p[i];
            if (do_decay) pi = pi * decay;
            const float gi = g[i];
            const float mi = std::fma(w1, gi - m[i], m[i]);
            const float vi = std::fma(w2 * gi, gi, v[i] * beta2);
            const float denom = std::sqrt(vi) / bc2_sqrt + eps;
            p[i] = pi + (neg_step * mi) / denom;
            m[i] = mi;
            v[i] = vi;
          }
        },
        int64_t(1) << 15);
  }
}

void AdamW::zero_grad() {
  for (auto& s : slots_)
    if (s.param.var.defined()) s.param.var.node()->grad = Tensor();
}

llm::NamedTensors AdamW::export_state() const {
  llm::NamedTensors out;
  for (const auto& s : slots_) {
    if (!s.exp_avg.defined()) continue;
    out.emplace_back(s.param.name + ".exp_avg", s.exp_avg);
    out.emplace_back(s.param.name + ".exp_avg_sq", s.exp_avg_sq);
    out.emplace_back(s.param.name + ".step", Tensor::from_i64({1}, {s.step}));
  }
  out.emplace_back("__steps_taken", Tensor::from_i64({1}, {steps_}));
  return out;
}

void AdamW::import_state(const llm::SafetensorsFile& file) {
  std::map<std::string, Slot*> by_name;
  for (auto& s : slots_) by_name[s.param.name] = &s;
  // Every state tensor must belong to a known param.
  for (const auto& name : file.names()) {
    if (name == "__steps_taken") continue;
    auto dot = name.rfind('.');
    std::string param = dot == std::string::npos ? name : name.substr(0, dot);
    std::string field = dot == std::string::npos ? "" : name.substr(dot + 1);
    if ((field != "exp_avg" && field != "exp_avg_sq" && field != "step") || !by_name.count(param))
      throw Error(file.path() + ": optimizer state tensor '" + name + "' matches no parameter of this model");
  }
  auto read_i64 = [&](const std::string& name) {
    Tensor t = file.get(name);
    if (t.dtype() != DType::I64 || t.numel() != 1)
      throw Error(file.path() + ": tensor '" + name + "': expected i64 [1], got " + kernels::dtype_name(t.dtype()) +
                  " " + kernels::shape_str(t.shape()));
    return t.data<int64_t>()[0];
  };
  for (auto& s : slots_) {
    const std::string& n = s.param.name;
    if (!file.has(n + ".exp_avg")) {
      s.exp_avg = s.exp_avg_sq = Tensor();
      s.step = 0;
      continue;
    }
    const kernels::Shape& want = s.param.var.value().shape();
    auto load = [&](const std::string& name) {
      Tensor t = file.get(name);
      if (t.dtype() != DType::F32 || t.shape() != want)
        throw Error(file.path() + ": tensor '" + name + "': expected f32 " + kernels::shape_str(want) + ", got " +
                    kernels::dtype_name(t.dtype()) + " " + kernels::shape_str(t.shape()));
      return t.clone();  // owned, writable copy of the mapped bytes
    };
    s.exp_avg = load(n + ".exp_avg");
    s.exp_avg_sq = load(n + ".exp_avg_sq");
    s.step = read_i64(n + ".step");
  }
  steps_ = file.has("__steps_taken") ? read_i64("__steps_taken") : 0;
}

}  // namespace janus::train
