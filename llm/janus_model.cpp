#include "llm/janus_model.h"

#include <cstring>
#include <filesystem>

#include "llm/janus_weights.h"
#include "tokenizers/tokenizer.h"

namespace janus::llm {

using kernels::DType;
using kernels::Error;
using kernels::Tensor;

std::unique_ptr<JanusModel> JanusModel::load(const std::string& dir) {
  std::unique_ptr<JanusModel> m(new JanusModel());
  m->cfg_ = load_janus_config(dir + "/config.json");
  const JanusConfig& c = m->cfg_;
  TensorStore store = TensorStore::open_dir(dir);
  const JanusNames names = janus_names(c.layout);
  m->lm_ = Model::load(c.text, store, BackboneNames{names.lm_prefix, names.lm_head});
  JanusWeightSource src(store, c.layout);
  m->siglip_ = vision::SiglipVisionModel(c.vision, src, "model.vision_model.");
  m->aligner_ = vision::MlpAligner(c.aligner, src, "model.aligner.");
  m->vq_ = vision::VqModel(c.vq, src, "model.vqmodel.", /*with_encoder=*/true);
  m->gen_embed_ = vision::GenEmbedding(c.gen_aligner, c.vq.num_embeddings, src, "model.generation_embeddings.weight",
                                       "model.generation_aligner.");
  m->gen_head_ = vision::GenHead(c.gen_head, src, "model.generation_head.");
  src.mark_dead_weights();
  const auto unused = store.unused_names();
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < unused.size() && i < 5; ++i) list += (i ? ", " : "") + ("'" + unused[i] + "'");
    throw Error(dir + ": " + std::to_string(unused.size()) + " checkpoint tensor(s) not used by the Janus model (" +
                list + (unused.size() > 5 ? ", ..." : "") + "): wrong config.json for these weights?");
  }
  m->image_token_id_ = c.image_token_id;
  if (m->image_token_id_ < 0 && std::filesystem::exists(dir + "/tokenizer.json")) {
    const int32_t id = tokenizers::Tokenizer::from_dir(dir).token_to_id("<image_placeholder>");
    m->image_token_id_ = id;
  }
  return m;
}

Tensor JanusModel::image_embeds(const Tensor& pixels) const { return aligner_.forward(siglip_.forward(pixels)); }

Tensor JanusModel::splice(const int64_t* ids, int64_t T, const Tensor& images) const {
  const int64_t H = cfg_.text.hidden_size, N = cfg_.image_tokens();
  Tensor x = lm_->embed(ids, T);
  const int64_t B = images.defined() ? images.size(0) : 0;
  if (images.defined() && (images.dim() != 3 || images.size(1) != N || images.size(2) != H))
    throw Error("Janus: image embeddings " + kernels::shape_str(images.shape()) + ", expected [B, " +
                std::to_string(N) + ", " + std::to_string(H) + "]");
  if (B > 0 && image_token_id_ < 0)
    throw Error(
        "Janus: no image placeholder id (config.json has no image_token_id and the model folder has no "
        "tokenizer.json with <image_placeholder>)");
  Tensor img = images.defined() ? images.contiguous() : Tensor();
  int64_t run = 0;
  for (int64_t t = 0; t < T;) {
    if (image_token_id_ < 0 || ids[t] != image_token_id_) {
      ++t;
      continue;
    }
    int64_t e = t;
    while (e < T && ids[e] == image_token_id_) ++e;
    if (e - t != N)
      throw Error("Janus: a run of " + std::to_string(e - t) + " image placeholders at position " + std::to_string(t) +
                  ", expected " + std::to_string(N) + " per image");
    if (run >= B)
      throw Error("Janus: the prompt has more image placeholder runs than the " + std::to_string(B) +
                  " image(s) given");
    std::memcpy(x.data<float>() + t * H, img.data<float>() + run * N * H, size_t(N * H) * sizeof(float));
    ++run;
    t = e;
  }
  if (run != B)
    throw Error("Janus: " + std::to_string(B) + " image(s) given but the prompt has " + std::to_string(run) +
                " placeholder run(s)");
  return x;
}

void JanusModel::forward(const int64_t* ids, int64_t T, const Tensor& pixels, const ForwardOutput& out) const {
  const Tensor images = pixels.defined() ? image_embeds(pixels) : Tensor();
  KvCache cache = lm_->new_cache();
  lm_->forward_embeds(cache, splice(ids, T, images), out);
}

Tensor JanusModel::decode_images(const Tensor& codes, int64_t chunk) const {
  if (codes.dim() != 2 || codes.dtype() != DType::I64)
    throw Error("Janus: image codes " + kernels::shape_str(codes.shape()) + ", expected i64 [B, n]");
  if (chunk < 1) throw Error("Janus: decode chunk must be >= 1");
  const int64_t B = codes.size(0);
  Tensor out;
  for (int64_t b = 0; b < B; b += chunk) {
    const int64_t e = std::min(B, b + chunk);
    Tensor img = vq_.decode(codes.slice(0, b, e).contiguous());
    if (!out.defined()) out = Tensor::empty({B, img.size(1), img.size(2), img.size(3)}, DType::F32);
    Tensor dst = out.slice(0, b, e);
    dst.copy_from(img);
  }
  return out;
}

Tensor JanusModel::encode_images(const Tensor& pixels, vision::QuantizeRule rule) const {
  return vq_.encode(pixels, rule);
}

}  // namespace janus::llm
