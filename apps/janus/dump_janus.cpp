#include "apps/janus/dump_janus.h"

#include <set>
#include <stdexcept>

#include "llm/janus_model.h"
#include "llm/safetensors.h"

namespace janus::app {

using kernels::DType;
using kernels::Shape;
using kernels::Tensor;

namespace {

Tensor input(const llm::SafetensorsFile& in, const std::string& name, DType dtype, int rank) {
  Tensor t = in.get(name);
  if (t.dtype() != dtype || (rank > 0 && t.dim() != rank))
    throw std::runtime_error(in.path() + ": " + name + " must be " + kernels::dtype_name(dtype) + " with " +
                             std::to_string(rank) + " dimensions, found " + kernels::dtype_name(t.dtype()) + " " +
                             kernels::shape_str(t.shape()));
  for (int64_t s : t.shape())
    if (s < 1) throw std::runtime_error(in.path() + ": " + name + " is empty " + kernels::shape_str(t.shape()));
  return t;
}

// Runs of `id` in one row.
int64_t count_runs(const int64_t* ids, int64_t T, int64_t id) {
  int64_t runs = 0;
  for (int64_t t = 0; t < T; ++t)
    if (ids[t] == id && (t == 0 || ids[t - 1] != id)) ++runs;
  return runs;
}

}  // namespace

void dump_janus(const std::string& dir, const std::string& path, const std::string& out_path) {
  auto in = llm::SafetensorsFile::open(path);
  const std::set<std::string> known{"input_ids", "pixel_values", "image_tokens", "vq_pixels", "hidden_states"};
  for (const auto& n : in->names())
    if (!known.count(n))
      throw std::runtime_error(path + ": unknown input '" + n +
                               "' (expected input_ids, pixel_values, image_tokens, vq_pixels, hidden_states)");
  if (in->names().empty()) throw std::runtime_error(path + ": no inputs");
  auto model = llm::JanusModel::load(dir);
  const auto& c = model->config();
  const int64_t H = c.text.hidden_size, V = c.text.vocab_size, K = c.gen_head.num_codes;
  llm::NamedTensors outs;

  Tensor images;  // [Bi, N, H]
  if (in->has("pixel_values")) {
    images = model->image_embeds(input(*in, "pixel_values", DType::F32, 4));
    outs.push_back({"image_embeds", images});
  }
  if (in->has("input_ids")) {
    const Tensor ids_t = input(*in, "input_ids", DType::I64, 2);
    const int64_t B = ids_t.size(0), T = ids_t.size(1);
    const auto ids = ids_t.to_i64_vector();
    for (int64_t v : ids)
      if (v < 0 || v >= V)
        throw std::runtime_error(path + ": input_ids contains " + std::to_string(v) + ", outside the vocabulary [0, " +
                                 std::to_string(V) + ")");
    Tensor logits = Tensor::empty({B, T, V}, DType::F32), hidden = Tensor::empty({B, T, H}, DType::F32);
    int64_t next_image = 0;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t* row = ids.data() + b * T;
      const int64_t runs = model->image_token_id() >= 0 ? count_runs(row, T, model->image_token_id()) : 0;
      if (runs > 0 && (!images.defined() || next_image + runs > images.size(0)))
        throw std::runtime_error(path + ": input_ids row " + std::to_string(b) + " has image placeholders but " +
                                 (images.defined() ? "not enough pixel_values images" : "no pixel_values"));
      const Tensor mine = runs > 0 ? images.slice(0, next_image, next_image + runs).contiguous() : Tensor();
      next_image += runs;
      Tensor lg, hs;
      llm::KvCache cache = model->language_model().new_cache();
      model->language_model().forward_embeds(cache, model->splice(row, T, mine), {&hs, &lg, false});
      logits.select(0, b).copy_from(lg);
      hidden.select(0, b).copy_from(hs);
    }
    if (images.defined() && next_image != images.size(0))
      throw std::runtime_error(path + ": " + std::to_string(images.size(0)) + " pixel_values images but " +
                               std::to_string(next_image) + " placeholder runs in input_ids");
    outs.push_back({"logits", logits});
    outs.push_back({"hidden_states", hidden});
    outs.push_back({"gen_logits", model->gen_logits(hidden)});
  } else if (in->has("hidden_states")) {
    const Tensor h = input(*in, "hidden_states", DType::F32, 0);
    if (h.size(-1) != H)
      throw std::runtime_error(path + ": hidden_states last dimension " + std::to_string(h.size(-1)) + ", expected " +
                               std::to_string(H));
    outs.push_back({"gen_logits", model->gen_logits(h)});
  }
  if (in->has("image_tokens")) {
    const Tensor codes = input(*in, "image_tokens", DType::I64, 2);
    for (int64_t v : codes.to_i64_vector())
      if (v < 0 || v >= K)
        throw std::runtime_error(path + ": image_tokens contains " + std::to_string(v) + ", outside [0, " +
                                 std::to_string(K) + ")");
    if (codes.size(1) != c.gen_image_tokens())
      throw std::runtime_error(path + ": image_tokens has " + std::to_string(codes.size(1)) + " codes per image, the " +
                               "model decodes " + std::to_string(c.gen_image_tokens()));
    outs.push_back({"decoded_images", model->decode_images(codes, 1)});
    outs.push_back({"gen_embeds", model->gen_embeds(codes)});
  }
  if (in->has("vq_pixels")) outs.push_back({"vq_codes", model->encode_images(input(*in, "vq_pixels", DType::F32, 4))});
  llm::write_safetensors(out_path, outs);
}

}  // namespace janus::app
