#include "vision/vision_config.h"

#include <cmath>

#include "kernels/tensor.h"

namespace janus::vision {

namespace {

using kernels::Error;
using nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& key, const std::string& what) {
  throw Error(where + ": field '" + key + "' " + what);
}

void check_object(const json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object, got " + std::string(j.type_name()));
}

int64_t get_int(const json& j, const std::string& where, const std::string& key, int64_t def, int64_t min = 1) {
  if (!j.contains(key) || j[key].is_null()) return def;
  const json& v = j[key];
  int64_t r = 0;
  if (v.is_number_integer()) {
    r = v.get<int64_t>();
  } else if (v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[0] == v[1]) {
    r = v[0].get<int64_t>();  // [n, n] (square sizes only)
  } else {
    bad(where, key, "must be an integer, got " + v.dump());
  }
  if (r < min) bad(where, key, "must be >= " + std::to_string(min) + ", got " + std::to_string(r));
  return r;
}

double get_num(const json& j, const std::string& where, const std::string& key, double def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_number()) bad(where, key, "must be a number, got " + j[key].dump());
  return j[key].get<double>();
}

bool get_bool(const json& j, const std::string& where, const std::string& key, bool def) {
  if (!j.contains(key) || j[key].is_null()) return def;
  if (!j[key].is_boolean()) bad(where, key, "must be true or false, got " + j[key].dump());
  return j[key].get<bool>();
}

Activation get_act(const json& j, const std::string& where) {
  if (!j.contains("hidden_act") || j["hidden_act"].is_null()) return Activation::kGelu;
  if (!j["hidden_act"].is_string()) bad(where, "hidden_act", "must be a string");
  return parse_activation(j["hidden_act"].get<std::string>(), where + ".hidden_act");
}

}  // namespace

Activation parse_activation(const std::string& name, const std::string& where) {
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_pytorch_tanh" || name == "gelu_new") return Activation::kGeluTanh;
  throw Error(where + ": unsupported activation '" + name + "' (expected gelu or gelu_pytorch_tanh)");
}

SiglipConfig parse_siglip_config(const json& j) {
  const std::string w = "vision_config";
  check_object(j, w);
  SiglipConfig c;
  c.hidden_size = get_int(j, w, "hidden_size", c.hidden_size);
  c.num_layers = get_int(j, w, "num_hidden_layers", c.num_layers, 0);
  c.num_heads = get_int(j, w, "num_attention_heads", c.num_heads);
  c.num_channels = get_int(j, w, "num_channels", c.num_channels);
  c.image_size = get_int(j, w, "image_size", c.image_size);
  c.patch_size = get_int(j, w, "patch_size", c.patch_size);
  const double ratio = get_num(j, w, "mlp_ratio", 4.0);
  c.intermediate_size = int64_t(double(c.hidden_size) * ratio);  // Python int(hidden * ratio)
  if (c.intermediate_size < 1) bad(w, "mlp_ratio", "gives an empty MLP");
  c.layer_norm_eps = float(get_num(j, w, "layer_norm_eps", 1e-6));
  c.attention_bias = get_bool(j, w, "attention_bias", true);
  c.act = get_act(j, w);
  if (get_bool(j, w, "use_qk_norm", false)) bad(w, "use_qk_norm", "true is not supported (Janus uses false)");
  if (c.hidden_size % c.num_heads != 0)
    bad(w, "num_attention_heads",
        std::to_string(c.num_heads) + " does not divide hidden_size " + std::to_string(c.hidden_size));
  if (c.image_size % c.patch_size != 0)
    bad(w, "patch_size", std::to_string(c.patch_size) + " does not divide image_size " + std::to_string(c.image_size));
  return c;
}

MlpAlignerConfig parse_aligner_config(const json& j) {
  const std::string w = "vision_config";
  check_object(j, w);
  MlpAlignerConfig c;
  c.in_dim = get_int(j, w, "hidden_size", 1024);
  c.out_dim = get_int(j, w, "projection_dim", 2048);
  c.depth = get_int(j, w, "depth", 2);
  c.act = get_act(j, w);
  return c;
}

VqConfig parse_vq_config(const json& j) {
  const std::string w = "vq_config";
  check_object(j, w);
  VqConfig c;
  c.embed_dim = get_int(j, w, "embed_dim", c.embed_dim);
  c.num_embeddings = get_int(j, w, "num_embeddings", c.num_embeddings);
  c.latent_channels = get_int(j, w, "latent_channels", c.latent_channels);
  c.in_channels = get_int(j, w, "in_channels", c.in_channels);
  c.out_channels = get_int(j, w, "out_channels", c.out_channels);
  c.base_channels = get_int(j, w, "base_channels", c.base_channels);
  c.num_res_blocks = get_int(j, w, "num_res_blocks", c.num_res_blocks);
  c.num_patches = get_int(j, w, "num_patches", c.num_patches);
  if (j.contains("channel_multiplier") && !j["channel_multiplier"].is_null()) {
    const json& m = j["channel_multiplier"];
    if (!m.is_array() || m.empty()) bad(w, "channel_multiplier", "must be a non-empty list of integers");
    c.channel_multiplier.clear();
    for (const json& v : m) {
      if (!v.is_number_integer() || v.get<int64_t>() < 1)
        bad(w, "channel_multiplier", "must hold positive integers, got " + m.dump());
      c.channel_multiplier.push_back(v.get<int64_t>());
    }
  }
  if (get_bool(j, w, "double_latent", false)) bad(w, "double_latent", "true is not supported (Janus uses false)");
  for (int64_t m : c.channel_multiplier)
    if ((c.base_channels * m) % c.norm_groups != 0)
      bad(w, "base_channels",
          std::to_string(c.base_channels) + " × multiplier " + std::to_string(m) +
              " is not a multiple of the 32 GroupNorm groups");
  return c;
}

MlpAlignerConfig parse_gen_aligner_config(const json& j) {
  const std::string w = "vq_config";
  check_object(j, w);
  MlpAlignerConfig c;
  c.in_dim = get_int(j, w, "embed_dim", 8);
  c.out_dim = get_int(j, w, "projection_dim", 2048);
  c.depth = get_int(j, w, "num_hidden_layers", 2);
  c.act = get_act(j, w);
  return c;
}

GenHeadConfig parse_gen_head_config(const json& j) {
  const std::string w = "vq_config";
  check_object(j, w);
  GenHeadConfig c;
  c.in_dim = get_int(j, w, "image_token_embed_dim", 2048);
  c.hidden = get_int(j, w, "projection_dim", 2048);
  c.num_codes = get_int(j, w, "num_embeddings", 16384);
  c.act = get_act(j, w);
  return c;
}

}  // namespace janus::vision
