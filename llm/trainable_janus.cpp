#include "llm/trainable_janus.h"

#include "llm/janus_weights.h"
#include "llm/tensor_store.h"
#include "llm/trainable.h"
#include "llm/trainable_blocks.h"
#include "vision/trainable_vision.h"

namespace janus::llm {

namespace ag = kernels::ag;
using ag::Var;
using kernels::Error;
using kernels::Tensor;

namespace {

constexpr const char* kLmPrefix = "model.language_model.";

// The backbone's parameters through the vision ParamMaker (checkpoint or seeded random), with
// transformers names mapped to the checkpoint layout's LM names.
class MakerSource : public ParamSource {
 public:
  MakerSource(vision::ParamMaker& pm, JanusNames names) : pm_(pm), names_(std::move(names)) {}
  Tensor fetch(const std::string& name, const kernels::Shape& shape, ParamKind kind) override {
    std::string stored = name;
    const std::string lm = kLmPrefix;
    if (name.rfind(lm, 0) == 0) stored = names_.lm_prefix + name.substr(lm.size());
    if (name == "lm_head.weight") stored = names_.lm_head + ".weight";
    const vision::InitKind k = kind == ParamKind::kNorm                                 ? vision::InitKind::kNormWeight
                               : kind == ParamKind::kBias || kind == ParamKind::kBuffer ? vision::InitKind::kBias
                                                                                        : vision::InitKind::kMatrix;
    return pm_.value(stored, shape, k);
  }

 private:
  vision::ParamMaker& pm_;
  JanusNames names_;
};

std::string str(int64_t v) { return std::to_string(v); }

}  // namespace

struct TrainableJanus::Impl {
  JanusConfig c;
  ag::ParamList params;
  std::vector<NamedBuffer> buffers;
  Var embed, norm, head;
  std::vector<TrainLayer> layers;
  vision::TrainSiglip vit;
  vision::TrainMlpAligner aligner;
  vision::TrainVqModel vq;
  vision::TrainGenEmbedding gen_embed;
  vision::TrainGenHead gen_head;
  struct Mtp {  // DeepSeek-V3 multi-token prediction module (config num_nextn_predict_layers >= 1)
    Var enorm, hnorm, eh_proj, head_norm;
    TrainLayer layer;
  };
  std::unique_ptr<Mtp> mtp;
  int64_t moe_layers = 0;

  void build(const vision::WeightSource* src, uint64_t seed) {
    vision::ParamMaker pm(params, src, seed);
    MakerSource ms(pm, janus_names(c.layout));
    ParamRegistry r{ms, params, buffers};
    const ModelConfig& t = c.text;
    const std::string lm = kLmPrefix;
    embed = r.param(lm + "embed_tokens.weight", {t.vocab_size, t.hidden_size}, ParamKind::kMatrix);
    for (int64_t i = 0; i < t.num_hidden_layers; ++i) {
      layers.push_back(build_train_layer(t, r, lm + "layers." + str(i), i));
      if (layers.back().moe) ++moe_layers;
    }
    norm = r.param(lm + "norm.weight", {t.hidden_size}, ParamKind::kNorm);
    const bool tied = t.tie_word_embeddings && (!src || !src->has(janus_names(c.layout).lm_head + ".weight"));
    head = tied ? embed : r.param("lm_head.weight", {t.vocab_size, t.hidden_size}, ParamKind::kMatrix);
    const std::string mp = lm + "layers." + str(t.num_hidden_layers);
    const std::string mp_stored = janus_names(c.layout).lm_prefix + "layers." + str(t.num_hidden_layers);
    if (t.num_nextn_predict_layers > 0 && (!src || src->has(mp_stored + ".eh_proj.weight"))) {
      const int64_t H = t.hidden_size;
      mtp = std::make_unique<Mtp>();
      mtp->enorm = r.param(mp + ".enorm.weight", {H}, ParamKind::kNorm);
      mtp->hnorm = r.param(mp + ".hnorm.weight", {H}, ParamKind::kNorm);
      mtp->eh_proj = r.param(mp + ".eh_proj.weight", {H, 2 * H}, ParamKind::kMatrix);
      mtp->layer = build_train_layer(t, r, mp, t.num_hidden_layers);
      if (mtp->layer.moe) ++moe_layers;
      mtp->head_norm = r.param(mp + ".shared_head.norm.weight", {H}, ParamKind::kNorm);
    }
    vit = vision::TrainSiglip(c.vision, pm, "model.vision_model.");
    aligner = vision::TrainMlpAligner(c.aligner, pm, "model.aligner.");
    vq = vision::TrainVqModel(c.vq, pm, "model.vqmodel.", /*with_encoder=*/true);
    gen_embed = vision::TrainGenEmbedding(c.gen_aligner, c.vq.num_embeddings, pm, "model.generation_embeddings.weight",
                                          "model.generation_aligner.");
    gen_head = vision::TrainGenHead(c.gen_head, pm, "model.generation_head.");
  }
};

TrainableJanus::TrainableJanus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TrainableJanus::TrainableJanus(TrainableJanus&&) noexcept = default;
TrainableJanus& TrainableJanus::operator=(TrainableJanus&&) noexcept = default;
TrainableJanus::~TrainableJanus() = default;

TrainableJanus TrainableJanus::from_checkpoint(const std::string& dir) {
  auto impl = std::make_unique<Impl>();
  impl->c = load_janus_config(dir + "/config.json");
  JanusWeightSource src(TensorStore::open_dir(dir), impl->c.layout);
  impl->build(&src, 0);
  return TrainableJanus(std::move(impl));
}

TrainableJanus TrainableJanus::random(const JanusConfig& config, uint64_t seed) {
  auto impl = std::make_unique<Impl>();
  impl->c = config;
  impl->build(nullptr, seed);
  return TrainableJanus(std::move(impl));
}

const JanusConfig& TrainableJanus::config() const { return impl_->c; }
void TrainableJanus::set_image_token_id(int64_t id) { impl_->c.image_token_id = id; }
ag::ParamList& TrainableJanus::params() { return impl_->params; }
const ag::ParamList& TrainableJanus::params() const { return impl_->params; }
const vision::TrainVqModel& TrainableJanus::vq() const { return impl_->vq; }

namespace {
void fill_rows(TrainContext& ctx, int64_t B, int64_t T) {
  ctx.batch = B;
  ctx.seq = T;
  ctx.pos.resize(size_t(B * T));
  ctx.sequence_of_row.resize(size_t(B * T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) ctx.pos[size_t(b * T + t)] = t, ctx.sequence_of_row[size_t(b * T + t)] = b;
  ctx.num_sequences = B;
}

// Moves a run's expert loads and balance terms into stats.
void collect(TrainContext& ctx, JanusLoss* stats) {
  for (auto& l : ctx.expert_load) stats->expert_load.push_back(std::move(l));
  for (auto& t : ctx.balance_terms) stats->balance = stats->balance.defined() ? ag::add(stats->balance, t) : t;
}
}  // namespace

Var TrainableJanus::backbone(const Var& embeds, int64_t B, int64_t T) const {
  JanusLoss stats;
  return backbone_run(embeds, B, T, 0.0, &stats);
}

Var TrainableJanus::backbone_run(const Var& embeds, int64_t B, int64_t T, double balance_alpha,
                                 JanusLoss* stats) const {
  const Impl& m = *impl_;
  if (B <= 0 || T <= 0 || !embeds.defined() || embeds.value().dim() != 2 || embeds.size(0) != B * T ||
      embeds.size(1) != m.c.text.hidden_size)
    throw Error("TrainableJanus::backbone: embeddings " +
                (embeds.defined() ? kernels::shape_str(embeds.shape()) : std::string("undefined")) + ", expected [" +
                str(B * T) + ", " + str(m.c.text.hidden_size) + "]");
  TrainContext ctx;
  fill_rows(ctx, B, T);
  ctx.seq_balance_alpha = balance_alpha;
  Var x = embeds;
  for (const auto& l : m.layers) x = l.forward(x, ctx);
  collect(ctx, stats);
  return ag::rms_norm(x, m.norm, m.c.text.rms_norm_eps);
}

Var TrainableJanus::mtp_hidden(const Var& hidden, const Var& embeds, int64_t B, int64_t T, double balance_alpha,
                               JanusLoss* stats) const {
  const Impl& m = *impl_;
  if (!m.mtp) throw Error("TrainableJanus::mtp_hidden: the model has no MTP module");
  if (T < 2) throw Error("TrainableJanus::mtp_hidden: needs T >= 2, got " + str(T));
  const double eps = m.c.text.rms_norm_eps;
  std::vector<int64_t> rows, next;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t + 1 < T; ++t) rows.push_back(b * T + t), next.push_back(b * T + t + 1);
  TrainContext mc;
  fill_rows(mc, B, T - 1);
  mc.seq_balance_alpha = balance_alpha;
  Var e = ag::rms_norm(ag::gather_rows(embeds, next), m.mtp->enorm, eps);
  Var hs = ag::rms_norm(ag::gather_rows(hidden, rows), m.mtp->hnorm, eps);
  Var y = m.mtp->layer.forward(ag::linear(ag::concat({e, hs}, 1), m.mtp->eh_proj), mc);
  collect(mc, stats);
  return ag::rms_norm(y, m.mtp->head_norm, eps);
}

Var TrainableJanus::understanding_embeds(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                                         const Var& pixels) const {
  const Impl& m = *impl_;
  if (B <= 0 || T <= 0 || int64_t(ids.size()) != B * T)
    throw Error("TrainableJanus::forward_understanding: " + str(int64_t(ids.size())) + " ids for B=" + str(B) +
                ", T=" + str(T));
  const int64_t img_id = m.c.image_token_id, N = m.c.image_tokens();
  int64_t n_ph = 0;
  for (int64_t id : ids) n_ph += id == img_id;
  Var x = ag::embedding(m.embed, ids);
  if (n_ph > 0 || pixels.defined()) {
    if (img_id < 0) throw Error("TrainableJanus: no image_token_id (set_image_token_id())");
    const int64_t n_img = pixels.defined() && pixels.value().dim() == 4 ? pixels.size(0) : 0;
    if (n_ph != n_img * N)
      throw Error("TrainableJanus::forward_understanding: " + str(n_ph) + " image placeholders (id " + str(img_id) +
                  ") for " + str(n_img) + " image(s) of " + str(N) + " tokens");
    // masked_scatter: placeholder k (in flattened order) takes image feature row k.
    Var feats = ag::reshape(m.aligner.forward(m.vit.forward(pixels)), {n_ph, m.c.text.hidden_size});
    std::vector<int64_t> rows(ids.size());
    int64_t k = 0;
    for (size_t r = 0; r < ids.size(); ++r) rows[r] = ids[r] == img_id ? B * T + k++ : int64_t(r);
    x = ag::gather_rows(ag::concat({x, feats}, 0), rows);
  }
  return x;
}

Var TrainableJanus::generation_embeds(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                      int64_t P, int64_t K) const {
  const Impl& m = *impl_;
  if (B <= 0 || P < 0 || K < 0 || P + K <= 0 || int64_t(prompt.size()) != B * P || int64_t(codes.size()) != B * K)
    throw Error("TrainableJanus::forward_generation: " + str(int64_t(prompt.size())) + " prompt ids and " +
                str(int64_t(codes.size())) + " codes for B=" + str(B) + ", P=" + str(P) + ", K=" + str(K));
  std::vector<Var> parts;
  if (P > 0) parts.push_back(ag::embedding(m.embed, prompt));
  if (K > 0) parts.push_back(m.gen_embed.forward(codes));
  const int64_t T = P + K;
  std::vector<int64_t> rows;
  rows.reserve(size_t(B * T));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < P; ++t) rows.push_back(b * P + t);
    for (int64_t t = 0; t < K; ++t) rows.push_back((P > 0 ? B * P : 0) + b * K + t);
  }
  return ag::gather_rows(parts.size() == 1 ? parts[0] : ag::concat(parts, 0), rows);
}

Var TrainableJanus::forward_understanding(const std::vector<int64_t>& ids, int64_t B, int64_t T,
                                          const Var& pixels) const {
  return ag::linear(backbone(understanding_embeds(ids, B, T, pixels), B, T), impl_->head);
}

Var TrainableJanus::forward_generation(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                       int64_t P, int64_t K) const {
  return impl_->gen_head.forward(backbone(generation_embeds(prompt, codes, B, P, K), B, P + K));
}

JanusLoss TrainableJanus::losses(const Var& embeds, int64_t B, int64_t T, const std::vector<int64_t>& targets,
                                 bool generation, double mtp_lambda, double balance_alpha) const {
  const Impl& m = *impl_;
  auto head = [&](const Var& h) { return generation ? m.gen_head.forward(h) : ag::linear(h, m.head); };
  JanusLoss l;
  Var h = backbone_run(embeds, B, T, balance_alpha, &l);
  l.main = ag::cross_entropy(head(h), targets);
  l.total = l.main;
  if (m.mtp && mtp_lambda > 0 && T >= 2) {
    l.mtp = ag::cross_entropy(head(mtp_hidden(h, embeds, B, T, balance_alpha, &l)), mtp_targets(targets, B, T));
    l.total = ag::add(l.main, ag::scale(l.mtp, mtp_lambda));
  }
  if (l.balance.defined()) l.total = ag::add(l.total, l.balance);
  return l;
}

JanusLoss TrainableJanus::understanding_losses(const std::vector<int64_t>& ids, int64_t B, int64_t T, const Var& pixels,
                                               const std::vector<int64_t>& targets, double mtp_lambda,
                                               double balance_alpha) const {
  if (int64_t(targets.size()) != B * T)
    throw Error("TrainableJanus::understanding_loss: " + str(int64_t(targets.size())) +
                " targets for B·T=" + str(B * T));
  return losses(understanding_embeds(ids, B, T, pixels), B, T, targets, false, mtp_lambda, balance_alpha);
}

JanusLoss TrainableJanus::generation_losses(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes,
                                            int64_t B, int64_t P, int64_t K, double mtp_lambda,
                                            double balance_alpha) const {
  if (P < 1 || K < 1) throw Error("TrainableJanus::generation_loss: needs P >= 1 and K >= 1");
  const int64_t T = P + K;
  std::vector<int64_t> targets(size_t(B * T), -100);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < K; ++k) targets[size_t(b * T + P - 1 + k)] = codes.at(size_t(b * K + k));
  return losses(generation_embeds(prompt, codes, B, P, K), B, T, targets, true, mtp_lambda, balance_alpha);
}

Var TrainableJanus::understanding_loss(const std::vector<int64_t>& ids, int64_t B, int64_t T, const Var& pixels,
                                       const std::vector<int64_t>& targets) const {
  return understanding_losses(ids, B, T, pixels, targets, 0.0).total;
}

Var TrainableJanus::generation_loss(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                    int64_t P, int64_t K) const {
  return generation_losses(prompt, codes, B, P, K, 0.0).total;
}

std::vector<NamedBuffer>& TrainableJanus::buffers() { return impl_->buffers; }
const std::vector<NamedBuffer>& TrainableJanus::buffers() const { return impl_->buffers; }
bool TrainableJanus::has_mtp() const { return impl_->mtp != nullptr; }
int64_t TrainableJanus::num_moe_layers() const { return impl_->moe_layers; }

}  // namespace janus::llm
