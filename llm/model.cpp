#include "llm/model.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "llm/architectures.h"
#include "llm/janus_config.h"
#include "llm/weights.h"

namespace janus::llm {

using kernels::DType;
using kernels::Tensor;

namespace {
using LayerBuilder = DecoderLayer (*)(const ModelConfig&, const TensorStore&, const std::string&, int64_t);
LayerBuilder builder_for(const std::string& type) {
  if (type == "llama" || type == "qwen2") return build_llama_layer;
  return build_deepseek_layer;
}
Tensor load_embedding(const TensorStore& s, const std::string& name, int64_t V, int64_t H) {
  Tensor t = s.get(name, {V, H});
  if (t.dtype() != DType::F32 && t.dtype() != DType::BF16 && t.dtype() != DType::F16)
    throw kernels::Error(s.dir() + ": tensor '" + name + "' has dtype " + kernels::dtype_name(t.dtype()) +
                         ", expected f32/bf16/f16");
  return t;
}
}  // namespace

std::unique_ptr<Model> Model::load(const std::string& dir) {
  const std::string cfg_path = dir + "/config.json";
  std::ifstream f(cfg_path, std::ios::binary);
  if (!f) throw kernels::Error(cfg_path + ": cannot open (missing config.json?)");
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ModelConfig cfg;
  BackboneNames names;
  const bool janus = is_janus_config_text(text);
  if (janus) {  // the language model of a Janus checkpoint; its vision/generation tensors are not ours
    JanusConfig jc = parse_janus_config(text, cfg_path);
    const JanusNames jn = janus_names(jc.layout);
    cfg = std::move(jc.text);
    names = BackboneNames{jn.lm_prefix, jn.lm_head};
  } else {
    cfg = parse_config(text, cfg_path);
  }
  std::unique_ptr<Model> m = load(std::move(cfg), TensorStore::open_dir(dir), names);
  const TensorStore& s = m->store_;
  std::vector<std::string> unused;
  for (const auto& n : s.unused_names()) {
    if (n.find("rotary_emb.inv_freq") != std::string::npos) continue;  // non-persistent buffers some exporters save
    if (janus && n.rfind(names.prefix, 0) != 0 && n != names.lm_head + ".weight") continue;
    unused.push_back(n);
  }
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) list += (i ? ", " : "") + ("'" + unused[i] + "'");
    throw kernels::Error(dir + ": " + std::to_string(unused.size()) + " checkpoint tensor(s) not used by the " +
                         m->config_.model_type + (janus ? " language model" : " model") + " (" + list +
                         (unused.size() > 5 ? ", ..." : "") + "): wrong config.json for these weights?");
  }
  return m;
}

std::unique_ptr<Model> Model::load(ModelConfig cfg, const TensorStore& store, const BackboneNames& names) {
  std::unique_ptr<Model> m(new Model(std::move(cfg), store));
  m->names_ = names;
  const std::string& P = names.prefix;
  const ModelConfig& c = m->config_;
  const TensorStore& s = m->store_;
  const int64_t V = c.vocab_size, H = c.hidden_size;
  m->embed_ = load_embedding(s, P + "embed_tokens.weight", V, H);
  m->final_norm_ = load_vector(s, P + "norm.weight", H);
  if (c.tie_word_embeddings && !s.has(names.lm_head + ".weight")) {
    m->lm_head_.w = m->embed_;
  } else {
    m->lm_head_ = load_linear(s, names.lm_head, V, H);
  }
  const LayerBuilder build = builder_for(c.model_type);
  m->layers_.reserve(size_t(c.num_hidden_layers));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    m->layers_.push_back(build(c, s, P + "layers." + std::to_string(i), i));
  if (c.num_nextn_predict_layers > 0) {
    const int64_t L = c.num_hidden_layers;
    const std::string p = P + "layers." + std::to_string(L);
    if (!s.has(p + ".eh_proj.weight")) {
      // Checkpoint without the MTP weights (e.g. saved by transformers, which drops them).
      for (const auto& n : s.names())
        if (n.rfind(p + ".", 0) == 0) s.mark_used(n);
    } else {
      auto mtp = std::make_unique<Mtp>();
      mtp->embed = s.has(p + ".embed_tokens.weight") ? load_embedding(s, p + ".embed_tokens.weight", V, H) : m->embed_;
      mtp->enorm = load_vector(s, p + ".enorm.weight", H);
      mtp->hnorm = load_vector(s, p + ".hnorm.weight", H);
      mtp->eh_proj = load_linear(s, p + ".eh_proj", H, 2 * H);
      mtp->head_norm = load_vector(s, p + ".shared_head.norm.weight", H);
      mtp->head = s.has(p + ".shared_head.head.weight") ? load_linear(s, p + ".shared_head.head", V, H) : m->lm_head_;
      mtp->layer = build(c, s, p, L);
      m->mtp_ = std::move(mtp);
    }
  }
  return m;
}

KvCache Model::new_cache() const {
  KvCache cache;
  for (const auto& l : layers_) cache.shapes.push_back(l.attn->cache_shape());
  return cache;
}

KvCache Model::new_mtp_cache() const {
  if (!mtp_) throw kernels::Error("model has no MTP module");
  KvCache cache;
  cache.shapes.push_back(mtp_->layer.attn->cache_shape());
  return cache;
}

void Model::logits_from_hidden(const Tensor& h, Tensor& logits, const kernels::Weight& head) const {
  kernels::linear(logits, h, head);
}

void Model::forward(KvCache& cache, const int64_t* ids, int64_t n, const ForwardOutput& out) const {
  if (n <= 0) throw kernels::Error("forward: no tokens");
  Tensor x = Tensor::empty({n, config_.hidden_size}, DType::F32);
  kernels::embedding(x, embed_, ids, n);
  run_layers({&cache}, {n}, x, out);
}

void Model::check_embeds(const Tensor& embeds, const char* who) const {
  const int64_t H = config_.hidden_size;
  if (embeds.dim() != 2 || embeds.size(0) <= 0 || embeds.size(1) != H || embeds.dtype() != DType::F32)
    throw kernels::Error(std::string(who) + ": embeddings " + kernels::shape_str(embeds.shape()) + " " +
                         kernels::dtype_name(embeds.dtype()) + ", expected [n, " + std::to_string(H) + "] f32");
}

void Model::forward_embeds(KvCache& cache, const Tensor& embeds, const ForwardOutput& out) const {
  check_embeds(embeds, "forward_embeds");
  Tensor x = embeds.clone();
  run_layers({&cache}, {x.size(0)}, x, out);
}

void Model::forward_embeds_batch(const std::vector<KvCache*>& caches, const Tensor& embeds,
                                 const std::vector<int64_t>& counts, const ForwardOutput& out) const {
  check_embeds(embeds, "forward_embeds_batch");
  if (caches.empty() || caches.size() != counts.size())
    throw kernels::Error("forward_embeds_batch: " + std::to_string(caches.size()) + " caches for " +
                         std::to_string(counts.size()) + " token counts");
  int64_t rows = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] <= 0 || !caches[i])
      throw kernels::Error("forward_embeds_batch: sequence " + std::to_string(i) + " has no cache or no tokens");
    for (size_t j = 0; j < i; ++j)
      if (caches[j] == caches[i])
        throw kernels::Error("forward_embeds_batch: sequences " + std::to_string(j) + " and " + std::to_string(i) +
                             " share a cache");
    rows += counts[i];
  }
  if (rows != embeds.size(0))
    throw kernels::Error("forward_embeds_batch: the counts sum to " + std::to_string(rows) +
                         " tokens, embeddings have " + std::to_string(embeds.size(0)) + " rows");
  Tensor x = embeds.clone();
  run_layers(caches, counts, x, out);
}

Tensor Model::embed(const int64_t* ids, int64_t n) const {
  Tensor x = Tensor::empty({n, config_.hidden_size}, DType::F32);
  kernels::embedding(x, embed_, ids, n);
  return x;
}

Tensor Model::logits(const Tensor& hidden) const {
  Tensor l = Tensor::empty({hidden.size(0), config_.vocab_size}, DType::F32);
  logits_from_hidden(hidden, l, lm_head_);
  return l;
}

void Model::run_layers(const std::vector<KvCache*>& caches, const std::vector<int64_t>& counts, Tensor& x,
                       const ForwardOutput& out) const {
  const int64_t H = config_.hidden_size, V = config_.vocab_size, n = x.size(0);
  std::vector<SeqRows> seqs(caches.size());
  std::vector<int64_t> last;  // each sequence's last row
  for (size_t i = 0, row = 0; i < caches.size(); row += size_t(counts[i]), ++i) {
    KvCache& c = *caches[i];
    if (c.shapes.size() != layers_.size()) throw kernels::Error("forward: cache was not made by this model");
    c.reserve(c.length + counts[i]);
    seqs[i] = {nullptr, c.length, int64_t(row), counts[i]};
    last.push_back(int64_t(row) + counts[i] - 1);
  }
  for (size_t l = 0; l < layers_.size(); ++l) {
    for (size_t i = 0; i < seqs.size(); ++i) seqs[i].cache = &caches[i]->layers[l];
    layers_[l].forward(x, seqs);
  }
  for (size_t i = 0; i < caches.size(); ++i) caches[i]->length += counts[i];
  Tensor xs = x;
  if (out.last_only && last.size() == 1) {
    xs = x.slice(0, n - 1, n);
  } else if (out.last_only) {
    xs = Tensor::empty({int64_t(last.size()), H}, DType::F32);
    for (size_t i = 0; i < last.size(); ++i)
      xs.slice(0, int64_t(i), int64_t(i) + 1).copy_from(x.slice(0, last[i], last[i] + 1));
  }
  Tensor h = Tensor::empty({xs.size(0), H}, DType::F32);
  kernels::rms_norm(h, xs, final_norm_, float(config_.rms_norm_eps));
  if (out.hidden) *out.hidden = h;
  if (out.logits) {
    *out.logits = Tensor::empty({h.size(0), V}, DType::F32);
    logits_from_hidden(h, *out.logits, lm_head_);
  }
}

void Model::mtp_forward(KvCache& mc, const Tensor& hidden, const int64_t* next_ids, int64_t n, Tensor& logits) const {
  if (!mtp_) throw kernels::Error("model has no MTP module");
  const int64_t H = config_.hidden_size, V = config_.vocab_size, pos0 = mc.length;
  if (hidden.dim() != 2 || hidden.size(0) != n || hidden.size(1) != H)
    throw kernels::Error("mtp_forward: hidden " + kernels::shape_str(hidden.shape()) + " for " + std::to_string(n) +
                         " tokens");
  mc.reserve(pos0 + n);
  const float eps = float(config_.rms_norm_eps);
  Tensor e = Tensor::empty({n, H}, DType::F32);
  kernels::embedding(e, mtp_->embed, next_ids, n);
  Tensor cat = Tensor::empty({n, 2 * H}, DType::F32);
  Tensor left = cat.slice(1, 0, H), right = cat.slice(1, H, 2 * H);
  kernels::rms_norm(left, e, mtp_->enorm, eps);
  kernels::rms_norm(right, hidden, mtp_->hnorm, eps);
  Tensor x = Tensor::empty({n, H}, DType::F32);
  kernels::linear(x, cat, mtp_->eh_proj);
  mtp_->layer.forward(x, mc.layers[0], pos0);
  mc.length = pos0 + n;
  Tensor h = Tensor::empty({n, H}, DType::F32);
  kernels::rms_norm(h, x, mtp_->head_norm, eps);
  logits = Tensor::empty({n, V}, DType::F32);
  logits_from_hidden(h, logits, mtp_->head);
}

double Model::weight_bytes_per_token() const {
  const auto& c = config_;
  double total = 0;
  for (const auto& n : store_.names()) {
    const auto& info = store_.info(n);
    double bytes = double(info.nbytes());
    if (n.find(".mlp.experts.") != std::string::npos && c.n_routed_experts > 0)
      bytes *= double(c.routing.top_k) / double(c.n_routed_experts);
    if (n.rfind(names_.prefix, 0) != 0 && n != names_.lm_head + ".weight") continue;  // not the backbone's
    if (n == names_.prefix + "embed_tokens.weight" &&
        !(c.tie_word_embeddings && !store_.has(names_.lm_head + ".weight")))
      bytes = bytes / double(c.vocab_size);  // one row per token
    if (n.rfind(names_.prefix + "layers." + std::to_string(c.num_hidden_layers) + ".", 0) == 0) continue;  // MTP
    total += bytes;
  }
  return total;
}

}  // namespace janus::llm
