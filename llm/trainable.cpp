#include "llm/trainable.h"

#include <cmath>
#include <map>

#include "kernels/ops.h"
#include "llm/tensor_store.h"

namespace janus::llm {

namespace ag = kernels::ag;
using ag::Var;
using kernels::DType;
using kernels::Error;
using kernels::Tensor;

namespace {

// ---------------------------------------------------------------- parameter sources

// Checkpoint tensors as f32 master copies (see trainable.h).
class CheckpointSource : public ParamSource {
 public:
  explicit CheckpointSource(const TensorStore& s) : s_(s) {
    const std::string gu = ".mlp.experts.gate_up_proj", dn = ".mlp.experts.down_proj";
    for (const auto& n : s_.names()) {
      if (n.size() > gu.size() && n.compare(n.size() - gu.size(), gu.size(), gu) == 0) {
        const std::string p = n.substr(0, n.size() - std::string("gate_up_proj").size());  // "...experts."
        Tensor t = s_.get(n);
        if (t.dim() != 3 || t.size(1) % 2) throw Error(s_.dir() + ": tensor '" + n + "' must be [E, 2I, H]");
        const int64_t I = t.size(1) / 2;
        for (int64_t e = 0; e < t.size(0); ++e) {
          split_[p + std::to_string(e) + ".gate_proj.weight"] = {n, t.select(0, e).slice(0, 0, I)};
          split_[p + std::to_string(e) + ".up_proj.weight"] = {n, t.select(0, e).slice(0, I, 2 * I)};
        }
      } else if (n.size() > dn.size() && n.compare(n.size() - dn.size(), dn.size(), dn) == 0) {
        const std::string p = n.substr(0, n.size() - std::string("down_proj").size());
        Tensor t = s_.get(n);
        if (t.dim() != 3) throw Error(s_.dir() + ": tensor '" + n + "' must be [E, H, I]");
        for (int64_t e = 0; e < t.size(0); ++e)
          split_[p + std::to_string(e) + ".down_proj.weight"] = {n, t.select(0, e)};
      }
    }
  }

  Tensor fetch(const std::string& name, const kernels::Shape& shape, ParamKind) override {
    std::string stored = name;
    Tensor src;
    auto it = split_.find(name);
    if (it != split_.end()) {
      stored = it->second.first + " (expert slice '" + name + "')";
      src = it->second.second;
    } else {
      src = s_.get(name);
    }
    if (src.shape() != shape)
      throw Error(s_.dir() + ": tensor '" + stored + "' has shape " + kernels::shape_str(src.shape()) + ", expected " +
                  kernels::shape_str(shape));
    switch (src.dtype()) {
      case DType::F32:
      case DType::BF16:
      case DType::F16: {
        Tensor out = Tensor::empty(shape, DType::F32);
        out.copy_from(src);
        return out;
      }
      case DType::F8E4M3: {
        const std::string sn = name + "_scale_inv";
        if (it != split_.end() || !s_.has(sn))
          throw Error(s_.dir() + ": tensor '" + stored + "' is fp8 e4m3 but '" + sn + "' is missing");
        Tensor scale = s_.get(sn);
        return kernels::fp8_dequantize(src, scale).contiguous().clone();
      }
      default:
        throw Error(s_.dir() + ": tensor '" + stored + "' has dtype " + kernels::dtype_name(src.dtype()) +
                    ", expected f32, bf16, f16 or fp8 e4m3");
    }
  }

 private:
  const TensorStore& s_;
  std::map<std::string, std::pair<std::string, Tensor>> split_;  // per-expert name -> (fused name, view)
};

// SplitMix64 + Box-Muller: identical streams on every platform (std:: distributions are not).
class RandomSource : public ParamSource {
 public:
  RandomSource(uint64_t seed, double std) : state_(seed), std_(std) {}

  Tensor fetch(const std::string&, const kernels::Shape& shape, ParamKind kind) override {
    Tensor t = Tensor::empty(shape, DType::F32);
    float* d = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      switch (kind) {
        case ParamKind::kMatrix: d[i] = float(std_ * normal()); break;
        case ParamKind::kNorm: d[i] = 1.0f; break;
        case ParamKind::kBias:
        case ParamKind::kBuffer: d[i] = 0.0f; break;
      }
    }
    return t;
  }

 private:
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (double(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }  // (0, 1)
  double normal() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), a = 6.283185307179586 * uniform();
    spare_ = r * std::sin(a);
    have_spare_ = true;
    return r * std::cos(a);
  }
  uint64_t state_;
  double std_;
  double spare_ = 0;
  bool have_spare_ = false;
};

// RoPE positions (restarting at each segment start) and balance-loss sequence ids.
void fill_positions(TrainContext& ctx) {
  const int64_t B = ctx.batch, T = ctx.seq;
  ctx.pos.assign(size_t(B * T), 0);
  ctx.sequence_of_row.assign(size_t(B * T), 0);
  int64_t seq = -1;
  for (int64_t b = 0; b < B; ++b) {
    int64_t start = 0;
    for (int64_t t = 0; t < T; ++t) {
      const size_t r = size_t(b * T + t);
      if (t == 0 || (!ctx.segments.empty() && ctx.segments[r] != ctx.segments[r - 1])) {
        start = t;
        ++seq;
      }
      ctx.pos[r] = t - start;
      ctx.sequence_of_row[r] = seq;
    }
  }
  ctx.num_sequences = seq + 1;
}

bool equal_values(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_f32_vector() == b.to_f32_vector();
}

}  // namespace

// ---------------------------------------------------------------- model

struct TrainableModel::Impl {
  ModelConfig c;
  ag::ParamList params;
  std::vector<NamedBuffer> buffers;
  Var embed, final_norm, head;
  std::vector<TrainLayer> layers;
  struct Mtp {
    Var enorm, hnorm, eh_proj, head_norm;
    TrainLayer layer;
  };
  std::unique_ptr<Mtp> mtp;
  int64_t moe_layers = 0;

  // store: the checkpoint (null for random init): decides whether MTP weights exist and checks
  // the MTP's stored embedding / head copies.
  void build(ParamSource& src, const TensorStore* store) {
    ParamRegistry r{src, params, buffers};
    const int64_t V = c.vocab_size, H = c.hidden_size, L = c.num_hidden_layers;
    embed = r.param("model.embed_tokens.weight", {V, H}, ParamKind::kMatrix);
    for (int64_t i = 0; i < L; ++i) {
      layers.push_back(build_train_layer(c, r, "model.layers." + std::to_string(i), i));
      if (layers.back().moe) ++moe_layers;
    }
    final_norm = r.param("model.norm.weight", {H}, ParamKind::kNorm);
    const bool tied = c.tie_word_embeddings && (!store || !store->has("lm_head.weight"));
    head = tied ? embed : r.param("lm_head.weight", {V, H}, ParamKind::kMatrix);
    if (c.num_nextn_predict_layers <= 0) return;
    const std::string p = "model.layers." + std::to_string(L);
    if (store && !store->has(p + ".eh_proj.weight")) {  // saved without MTP weights (transformers)
      for (const auto& n : store->names())
        if (n.rfind(p + ".", 0) == 0) store->mark_used(n);
      return;
    }
    mtp = std::make_unique<Mtp>();
    mtp->enorm = r.param(p + ".enorm.weight", {H}, ParamKind::kNorm);
    mtp->hnorm = r.param(p + ".hnorm.weight", {H}, ParamKind::kNorm);
    mtp->eh_proj = r.param(p + ".eh_proj.weight", {H, 2 * H}, ParamKind::kMatrix);
    mtp->layer = build_train_layer(c, r, p, L);
    if (mtp->layer.moe) ++moe_layers;
    mtp->head_norm = r.param(p + ".shared_head.norm.weight", {H}, ParamKind::kNorm);
    if (!store) return;
    for (const auto& [copy, main] : {std::pair<std::string, Var>{p + ".embed_tokens.weight", embed},
                                     std::pair<std::string, Var>{p + ".shared_head.head.weight", head}}) {
      if (!store->has(copy)) continue;
      Tensor stored = src.fetch(copy, {V, H}, ParamKind::kMatrix);
      if (!equal_values(stored, main.value()))
        throw Error(store->dir() + ": tensor '" + copy +
                    "' differs from the main model's; training ties the MTP embedding and head to them");
    }
  }
};

TrainableModel::TrainableModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrainableModel::TrainableModel(TrainableModel&&) noexcept = default;
TrainableModel& TrainableModel::operator=(TrainableModel&&) noexcept = default;
TrainableModel::~TrainableModel() = default;

TrainableModel TrainableModel::from_checkpoint(const std::string& dir) {
  auto impl = std::make_unique<Impl>();
  impl->c = load_config(dir + "/config.json");
  TensorStore store = TensorStore::open_dir(dir);
  CheckpointSource src(store);
  impl->build(src, &store);
  for (const auto& n : store.names()) {
    if (n.find("rotary_emb.inv_freq") != std::string::npos) store.mark_used(n);
    const std::string si = "_scale_inv";  // consumed with their fp8 weight
    if (n.size() > si.size() && n.compare(n.size() - si.size(), si.size(), si) == 0) store.mark_used(n);
  }
  const auto unused = store.unused_names();
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) list += (i ? ", " : "") + ("'" + unused[i] + "'");
    throw Error(dir + ": " + std::to_string(unused.size()) + " checkpoint tensor(s) not used by the trainable " +
                impl->c.model_type + " model (" + list + (unused.size() > 5 ? ", ..." : "") + ")");
  }
  return TrainableModel(std::move(impl));
}

TrainableModel TrainableModel::random(const ModelConfig& config, uint64_t seed, double init_std) {
  auto impl = std::make_unique<Impl>();
  impl->c = config;
  RandomSource src(seed, init_std);
  impl->build(src, nullptr);
  return TrainableModel(std::move(impl));
}

const ModelConfig& TrainableModel::config() const { return impl_->c; }
ag::ParamList& TrainableModel::params() { return impl_->params; }
const ag::ParamList& TrainableModel::params() const { return impl_->params; }
std::vector<NamedBuffer>& TrainableModel::buffers() { return impl_->buffers; }
bool TrainableModel::has_mtp() const { return impl_->mtp != nullptr; }
int64_t TrainableModel::num_moe_layers() const { return impl_->moe_layers; }

TrainForwardResult TrainableModel::forward(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                                           const TrainForwardOptions& opt) const {
  const Impl& m = *impl_;
  const int64_t N = B * T;
  if (B <= 0 || T <= 0 || int64_t(ids.size()) != N)
    throw Error("TrainableModel::forward: " + std::to_string(ids.size()) + " token ids for B=" + std::to_string(B) +
                ", T=" + std::to_string(T));
  if (opt.segments && int64_t(opt.segments->size()) != N)
    throw Error("TrainableModel::forward: " + std::to_string(opt.segments->size()) +
                " segment ids for B·T=" + std::to_string(N));
  const double eps = m.c.rms_norm_eps;
  TrainContext ctx;
  ctx.batch = B;
  ctx.seq = T;
  if (opt.segments) ctx.segments = *opt.segments;
  ctx.gemm = opt.gemm;
  ctx.seq_balance_alpha = opt.seq_balance_alpha;
  fill_positions(ctx);

  TrainForwardResult res;
  Var x = ag::embedding(m.embed, ids);
  for (const auto& l : m.layers) x = l.forward(x, ctx);
  Var h = ag::rms_norm(x, m.final_norm, eps);
  res.logits = ag::linear(h, m.head);

  std::vector<Var> terms = std::move(ctx.balance_terms);
  res.expert_load = std::move(ctx.expert_load);
  if (m.mtp && T >= 2) {
    TrainContext mc;
    mc.batch = B;
    mc.seq = T - 1;
    mc.gemm = opt.gemm;
    mc.seq_balance_alpha = opt.seq_balance_alpha;
    std::vector<int64_t> rows, next;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t + 1 < T; ++t) {
        rows.push_back(b * T + t);
        next.push_back(ids[size_t(b * T + t + 1)]);
        if (opt.segments) mc.segments.push_back((*opt.segments)[size_t(b * T + t)]);
      }
    fill_positions(mc);
    Var e = ag::rms_norm(ag::embedding(m.embed, next), m.mtp->enorm, eps);
    Var hs = ag::rms_norm(ag::gather_rows(h, rows), m.mtp->hnorm, eps);
    Var y = m.mtp->layer.forward(ag::linear(ag::concat({e, hs}, 1), m.mtp->eh_proj, Var(), opt.gemm), mc);
    res.mtp_logits = ag::linear(ag::rms_norm(y, m.mtp->head_norm, eps), m.head);
    for (auto& l : mc.expert_load) res.expert_load.push_back(std::move(l));
    for (auto& t : mc.balance_terms) terms.push_back(std::move(t));
  }
  if (!terms.empty()) {
    Var total = terms[0];
    for (size_t i = 1; i < terms.size(); ++i) total = ag::add(total, terms[i]);
    res.balance_loss = total;
  }
  return res;
}

std::vector<int64_t> mtp_targets(const std::vector<int64_t>& targets, int64_t B, int64_t T,
                                 const std::vector<int32_t>* segments, int64_t ignore_index) {
  if (int64_t(targets.size()) != B * T || T < 2)
    throw Error("mtp_targets: " + std::to_string(targets.size()) + " targets for B=" + std::to_string(B) +
                ", T=" + std::to_string(T) + " (T >= 2)");
  std::vector<int64_t> out;
  out.reserve(size_t(B * (T - 1)));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t) {
      const size_t r = size_t(b * T + t);
      const bool cross = segments && (*segments)[r] != (*segments)[r + 1];
      out.push_back(cross ? ignore_index : targets[r + 1]);
    }
  return out;
}

LmLoss lm_loss(const TrainForwardResult& f, const std::vector<int64_t>& targets, int64_t B, int64_t T,
               double mtp_lambda, const std::vector<int32_t>* segments, int64_t ignore_index) {
  LmLoss l;
  l.main = ag::cross_entropy(f.logits, targets, ignore_index);
  l.total = l.main;
  if (f.mtp_logits.defined()) {
    l.mtp = ag::cross_entropy(f.mtp_logits, mtp_targets(targets, B, T, segments, ignore_index), ignore_index);
    l.total = ag::add(l.total, ag::scale(l.mtp, mtp_lambda));
  }
  if (f.balance_loss.defined()) l.total = ag::add(l.total, f.balance_loss);
  return l;
}

}  // namespace janus::llm
