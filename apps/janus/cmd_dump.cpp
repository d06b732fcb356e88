// janus dump: run the parts of a model that the named inputs feed and write float32 outputs
// (DESIGN §4). Used by the parity checks against transformers.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "apps/janus/command.h"
#include "apps/janus/common.h"
#include "apps/janus/dump_janus.h"
#include "llm/janus_config.h"
#include "llm/model.h"
#include "llm/safetensors.h"

namespace janus::app {
namespace {

using kernels::DType;
using kernels::Tensor;

struct DumpArgs {
  std::string model, inputs, out, dtype = "f32";
};

bool is_janus_dir(const std::string& dir) {
  std::ifstream f(dir + "/config.json", std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return llm::is_janus_config_text(ss.str());
}

int dump(const DumpArgs& a) {
  if (a.dtype != "f32") throw std::runtime_error("--dtype " + a.dtype + ": only f32 is supported so far");
  const std::string dir = resolve_model_dir(a.model);
  if (is_janus_dir(dir)) {
    dump_janus(dir, a.inputs, a.out);
    return 0;
  }
  auto in = llm::SafetensorsFile::open(a.inputs);
  const std::set<std::string> known{"input_ids"};
  for (const auto& n : in->names()) {
    if (n == "pixel_values" || n == "image_tokens" || n == "vq_pixels")
      throw std::runtime_error(a.inputs + ": input '" + n +
                               "' needs a Janus multimodal model; this build runs text backbones only");
    if (!known.count(n)) throw std::runtime_error(a.inputs + ": unknown input '" + n + "' (expected input_ids)");
  }
  if (!in->has("input_ids")) throw std::runtime_error(a.inputs + ": no input_ids");
  Tensor ids = in->get("input_ids");
  if (ids.dtype() != DType::I64 || ids.dim() != 2 || ids.size(0) < 1 || ids.size(1) < 1)
    throw std::runtime_error(a.inputs + ": input_ids must be i64 [B, T] with B, T >= 1, found " +
                             std::string(kernels::dtype_name(ids.dtype())) + " " + kernels::shape_str(ids.shape()));
  auto model = llm::Model::load(dir);
  const auto& c = model->config();
  const int64_t B = ids.size(0), T = ids.size(1), V = c.vocab_size, H = c.hidden_size;
  const auto id = ids.to_i64_vector();
  for (int64_t v : id)
    if (v < 0 || v >= V)
      throw std::runtime_error(a.inputs + ": input_ids contains " + std::to_string(v) +
                               ", outside the vocabulary [0, " + std::to_string(V) + ")");
  Tensor logits = Tensor::empty({B, T, V}, DType::F32), hidden = Tensor::empty({B, T, H}, DType::F32);
  Tensor mtp = model->has_mtp() ? Tensor::zeros({B, T, V}, DType::F32) : Tensor();
  for (int64_t b = 0; b < B; ++b) {
    auto cache = model->new_cache();
    Tensor lg, hs;
    model->forward(cache, id.data() + b * T, T, {&hs, &lg, false});
    logits.select(0, b).copy_from(lg);
    hidden.select(0, b).copy_from(hs);
    if (mtp.defined() && T > 1) {
      // Row t predicts token t+2 from h_t and token t+1; the last row has no token t+1 (zeros).
      auto mc = model->new_mtp_cache();
      Tensor ml;
      model->mtp_forward(mc, hs.slice(0, 0, T - 1), id.data() + b * T + 1, T - 1, ml);
      mtp.select(0, b).slice(0, 0, T - 1).copy_from(ml);
    }
  }
  llm::NamedTensors outs{{"logits", logits}, {"hidden_states", hidden}};
  if (mtp.defined()) outs.push_back({"mtp_logits", mtp});
  llm::write_safetensors(a.out, outs);
  return 0;
}

Registrar reg("dump", "Run a model on named inputs and write its outputs (parity checks)", [](CLI::App& sub) {
  auto a = std::make_shared<DumpArgs>();
  sub.add_option("--model", a->model, "HF model folder (default: the embedded model)");
  sub.add_option("--inputs", a->inputs,
                 "safetensors file with the inputs (input_ids i64 [B, T]; Janus models also pixel_values, "
                 "image_tokens, vq_pixels, hidden_states)")
      ->required();
  sub.add_option("--out", a->out, "safetensors file to write (atomically)")->required();
  sub.add_option("--dtype", a->dtype, "compute precision: f32");
  return [a] { return dump(*a); };
});

}  // namespace
}  // namespace janus::app
