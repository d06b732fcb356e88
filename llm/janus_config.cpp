#include "llm/janus_config.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace janus::llm {

using json = nlohmann::json;
using kernels::Error;

namespace {

json parse_json(const std::string& text, const std::string& path) {
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw Error(path + ": expected a JSON object");
    return j;
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
}

// j[key] as an object ({} when absent or null); anything else is an error.
const json& object_at(const json& j, const char* key, const std::string& where) {
  static const json kEmpty = json::object();
  if (!j.contains(key) || j[key].is_null()) return kEmpty;
  if (!j[key].is_object()) throw Error(where + ": field '" + key + "' must be an object");
  return j[key];
}

int64_t int_at(const json& j, const char* key, int64_t dflt, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number_integer()) throw Error(where + ": field '" + key + "' must be an integer");
  return j[key].get<int64_t>();
}

// A backbone config (text_config / language_config) through llm::parse_config.
ModelConfig text_config(const json& j, const std::string& path, const char* key) {
  json t = object_at(j, key, path);
  if (!t.contains("model_type") || t["model_type"].is_null()) t["model_type"] = "llama";
  return parse_config(t.dump(), path + " (" + key + ")");
}

// A module's sub-config with the vision parsers' error messages prefixed by the file.
template <typename F>
auto with_path(const std::string& path, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

void check_dims(const JanusConfig& c) {
  const int64_t H = c.text.hidden_size;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw Error(c.path + ": inconsistent Janus config: " + what);
  };
  need(c.aligner.in_dim == c.vision.hidden_size, "aligner input " + std::to_string(c.aligner.in_dim) +
                                                     " != vision hidden size " + std::to_string(c.vision.hidden_size));
  need(c.aligner.out_dim == H,
       "aligner output " + std::to_string(c.aligner.out_dim) + " != LM hidden size " + std::to_string(H));
  need(c.gen_aligner.out_dim == H,
       "gen aligner output " + std::to_string(c.gen_aligner.out_dim) + " != LM hidden size " + std::to_string(H));
  need(c.gen_aligner.in_dim == c.vq.embed_dim, "gen aligner input " + std::to_string(c.gen_aligner.in_dim) +
                                                   " != codebook dim " + std::to_string(c.vq.embed_dim));
  need(c.gen_head.in_dim == H,
       "gen head input " + std::to_string(c.gen_head.in_dim) + " != LM hidden size " + std::to_string(H));
  need(c.gen_head.num_codes == c.vq.num_embeddings, "gen head outputs " + std::to_string(c.gen_head.num_codes) +
                                                        " != codebook size " + std::to_string(c.vq.num_embeddings));
}

void parse_transformers(const json& j, JanusConfig& c) {
  c.layout = JanusLayout::kTransformers;
  c.text = text_config(j, c.path, "text_config");
  const json& v = object_at(j, "vision_config", c.path);
  const json& q = object_at(j, "vq_config", c.path);
  c.vision = with_path(c.path, [&] { return vision::parse_siglip_config(v); });
  c.aligner = with_path(c.path, [&] { return vision::parse_aligner_config(v); });
  c.vq = with_path(c.path, [&] { return vision::parse_vq_config(q); });
  c.gen_aligner = with_path(c.path, [&] { return vision::parse_gen_aligner_config(q); });
  c.gen_head = with_path(c.path, [&] { return vision::parse_gen_head_config(q); });
  c.vq.num_patches = c.vision.image_size / c.vision.patch_size;    // as JanusConfig.__post_init__
  c.image_token_id = int_at(j, "image_token_id", 100581, c.path);  // transformers' default
}

// MlpProjector params {depth, input_dim, n_embed, projector_type}.
vision::MlpAlignerConfig projector(const json& j, const char* key, const std::string& path) {
  const std::string where = path + ": " + key + ".params";
  const json& p = object_at(object_at(j, key, path), "params", where);
  vision::MlpAlignerConfig a;
  const std::string type = p.value("projector_type", std::string("mlp_gelu"));
  if (type != "mlp_gelu") throw Error(where + ": projector_type '" + type + "' is not supported (mlp_gelu)");
  a.depth = int_at(p, "depth", 2, where);
  a.in_dim = int_at(p, "input_dim", a.in_dim, where);
  a.out_dim = int_at(p, "n_embed", a.out_dim, where);
  a.act = vision::Activation::kGelu;
  if (a.depth < 1) throw Error(where + ": depth must be >= 1");
  return a;
}

void parse_multi_modality(const json& j, JanusConfig& c) {
  c.layout = JanusLayout::kMultiModality;
  c.text = text_config(j, c.path, "language_config");
  // Understanding tower: timm SigLIP preset, optionally overridden (small checkpoints).
  const std::string vw = c.path + ": vision_config.params";
  const json& vp = object_at(object_at(j, "vision_config", c.path), "params", vw);
  const std::string name = vp.value("model_name", std::string("siglip_large_patch16_384"));
  if (name != "siglip_large_patch16_384")
    throw Error(vw + ": model_name '" + name + "' is not supported (siglip_large_patch16_384)");
  json tv;
  tv["hidden_size"] = int_at(vp, "width", 1024, vw);
  const int64_t layers = int_at(vp, "layers", 24, vw);
  const int64_t select = int_at(vp, "select_layer", -1, vw);
  // create_siglip_vit builds only the blocks up to select_layer (-1 = all).
  tv["num_hidden_layers"] = select <= 0 ? std::min(layers, layers + select + 1) : std::min(layers, select);
  tv["num_attention_heads"] = int_at(vp, "heads", 16, vw);
  tv["image_size"] = int_at(vp, "image_size", 384, vw);
  tv["patch_size"] = int_at(vp, "patch_size", 16, vw);
  tv["mlp_ratio"] = vp.contains("mlp_ratio") ? vp["mlp_ratio"] : json(4.0);
  tv["hidden_act"] = "gelu";
  tv["layer_norm_eps"] = 1e-6;
  const std::string feature = vp.value("select_feature", std::string("same"));
  if (feature != "same" && feature != "patch")
    throw Error(vw + ": select_feature '" + feature + "' is not supported (same)");
  c.vision = with_path(c.path, [&] { return vision::parse_siglip_config(tv); });
  c.aligner = projector(j, "aligner_config", c.path);
  c.gen_aligner = projector(j, "gen_aligner_config", c.path);
  // VQ-16: LlamaGen ModelArgs defaults.
  const std::string gw = c.path + ": gen_vision_config.params";
  const json& gp = object_at(object_at(j, "gen_vision_config", c.path), "params", gw);
  json tq;
  tq["num_embeddings"] = int_at(gp, "codebook_size", int_at(gp, "image_token_size", 16384, gw), gw);
  tq["embed_dim"] = int_at(gp, "codebook_embed_dim", int_at(gp, "n_embed", 8, gw), gw);
  tq["latent_channels"] = int_at(gp, "z_channels", 256, gw);
  tq["base_channels"] = int_at(gp, "ch", 128, gw);
  tq["num_res_blocks"] = int_at(gp, "num_res_blocks", 2, gw);
  const json enc = gp.contains("encoder_ch_mult") ? gp["encoder_ch_mult"] : json({1, 1, 2, 2, 4});
  const json dec = gp.contains("decoder_ch_mult") ? gp["decoder_ch_mult"] : enc;
  if (enc != dec) throw Error(gw + ": encoder_ch_mult and decoder_ch_mult differ (not supported)");
  tq["channel_multiplier"] = enc;
  c.vq = with_path(c.path, [&] { return vision::parse_vq_config(tq); });
  c.vq.num_patches = c.vision.image_size / c.vision.patch_size;
  // vision_head: output_mlp_projector (n_embed → image_token_embed), GELU, vision_head (→ size).
  const std::string hw = c.path + ": gen_head_config.params";
  const json& hp = object_at(object_at(j, "gen_head_config", c.path), "params", hw);
  c.gen_head.in_dim = int_at(hp, "n_embed", c.text.hidden_size, hw);
  c.gen_head.hidden = int_at(hp, "image_token_embed", c.text.hidden_size, hw);
  c.gen_head.num_codes = int_at(hp, "image_token_size", 16384, hw);
  c.gen_head.act = vision::Activation::kGelu;
  c.image_token_id = -1;  // "<image_placeholder>" from the tokenizer
}

}  // namespace

bool is_janus_config_text(const std::string& text) {
  try {
    json j = json::parse(text);
    if (!j.is_object() || !j.contains("model_type") || !j["model_type"].is_string()) return false;
    const std::string t = j["model_type"].get<std::string>();
    return t == "janus" || t == "multi_modality";
  } catch (const json::exception&) {
    return false;
  }
}

JanusConfig parse_janus_config(const std::string& text, const std::string& path) {
  const json j = parse_json(text, path);
  JanusConfig c;
  c.path = path;
  const std::string type =
      j.contains("model_type") && j["model_type"].is_string() ? j["model_type"].get<std::string>() : std::string();
  if (type == "janus")
    parse_transformers(j, c);
  else if (type == "multi_modality")
    parse_multi_modality(j, c);
  else
    throw Error(path + ": model_type '" + type + "' is not a Janus model (janus, multi_modality)");
  check_dims(c);
  return c;
}

JanusConfig load_janus_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open (missing config.json?)");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_janus_config(ss.str(), path);
}

JanusNames janus_names(JanusLayout layout) {
  if (layout == JanusLayout::kTransformers) return {"model.language_model.", "lm_head"};
  return {"language_model.model.", "language_model.lm_head"};
}

}  // namespace janus::llm
