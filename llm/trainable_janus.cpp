#include "llm/trainable_janus.h"

#include "llm/janus_weights.h"
#include "llm/tensor_store.h"
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

  void build(const vision::WeightSource* src, uint64_t seed) {
    vision::ParamMaker pm(params, src, seed);
    MakerSource ms(pm, janus_names(c.layout));
    ParamRegistry r{ms, params, buffers};
    const ModelConfig& t = c.text;
    const std::string lm = kLmPrefix;
    embed = r.param(lm + "embed_tokens.weight", {t.vocab_size, t.hidden_size}, ParamKind::kMatrix);
    for (int64_t i = 0; i < t.num_hidden_layers; ++i)
      layers.push_back(build_train_layer(t, r, lm + "layers." + str(i), i));
    norm = r.param(lm + "norm.weight", {t.hidden_size}, ParamKind::kNorm);
    const bool tied = t.tie_word_embeddings && (!src || !src->has(janus_names(c.layout).lm_head + ".weight"));
    head = tied ? embed : r.param("lm_head.weight", {t.vocab_size, t.hidden_size}, ParamKind::kMatrix);
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

Var TrainableJanus::backbone(const Var& embeds, int64_t B, int64_t T) const {
  const Impl& m = *impl_;
  if (B <= 0 || T <= 0 || !embeds.defined() || embeds.value().dim() != 2 || embeds.size(0) != B * T ||
      embeds.size(1) != m.c.text.hidden_size)
    throw Error("TrainableJanus::backbone: embeddings " +
                (embeds.defined() ? kernels::shape_str(embeds.shape()) : std::string("undefined")) + ", expected [" +
                str(B * T) + ", " + str(m.c.text.hidden_size) + "]");
  TrainContext ctx;
  ctx.batch = B;
  ctx.seq = T;
  ctx.pos.resize(size_t(B * T));
  ctx.sequence_of_row.resize(size_t(B * T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) ctx.pos[size_t(b * T + t)] = t, ctx.sequence_of_row[size_t(b * T + t)] = b;
  ctx.num_sequences = B;
  Var x = embeds;
  for (const auto& l : m.layers) x = l.forward(x, ctx);
  return ag::rms_norm(x, m.norm, m.c.text.rms_norm_eps);
}

Var TrainableJanus::forward_understanding(const std::vector<int64_t>& ids, int64_t B, int64_t T,
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
  return ag::linear(backbone(x, B, T), m.head);
}

Var TrainableJanus::forward_generation(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
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
  Var x = ag::gather_rows(parts.size() == 1 ? parts[0] : ag::concat(parts, 0), rows);
  return m.gen_head.forward(backbone(x, B, T));
}

Var TrainableJanus::understanding_loss(const std::vector<int64_t>& ids, int64_t B, int64_t T, const Var& pixels,
                                       const std::vector<int64_t>& targets) const {
  if (int64_t(targets.size()) != B * T)
    throw Error("TrainableJanus::understanding_loss: " + str(int64_t(targets.size())) +
                " targets for B·T=" + str(B * T));
  return ag::cross_entropy(forward_understanding(ids, B, T, pixels), targets);
}

Var TrainableJanus::generation_loss(const std::vector<int64_t>& prompt, const std::vector<int64_t>& codes, int64_t B,
                                    int64_t P, int64_t K) const {
  if (P < 1 || K < 1) throw Error("TrainableJanus::generation_loss: needs P >= 1 and K >= 1");
  const int64_t T = P + K;
  std::vector<int64_t> targets(size_t(B * T), -100);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t k = 0; k < K; ++k) targets[size_t(b * T + P - 1 + k)] = codes.at(size_t(b * K + k));
  return ag::cross_entropy(forward_generation(prompt, codes, B, P, K), targets);
}

}  // namespace janus::llm
