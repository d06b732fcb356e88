#include "llm/config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace janus::llm {

using json = nlohmann::json;
using kernels::Error;

namespace {

struct Reader {
  const json& j;
  const std::string& path;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(path + ": field '" + key + "': " + what);
  }
  bool present(const char* key) const { return j.contains(key) && !j[key].is_null(); }
  int64_t integer(const char* key, int64_t dflt) const {
    if (!present(key)) return dflt;
    const json& v = j[key];
    if (v.is_number_integer() || v.is_number_unsigned()) return v.get<int64_t>();
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return int64_t(v.get<double>());
    fail(key, "expected an integer, found " + v.dump());
  }
  double number(const char* key, double dflt) const {
    if (!present(key)) return dflt;
    if (!j[key].is_number()) fail(key, "expected a number, found " + j[key].dump());
    return j[key].get<double>();
  }
  bool boolean(const char* key, bool dflt) const {
    if (!present(key)) return dflt;
    if (!j[key].is_boolean()) fail(key, "expected true/false, found " + j[key].dump());
    return j[key].get<bool>();
  }
  std::string string(const char* key, const std::string& dflt) const {
    if (!present(key)) return dflt;
    if (!j[key].is_string()) fail(key, "expected a string, found " + j[key].dump());
    return j[key].get<std::string>();
  }
  int64_t positive(const char* key, int64_t dflt) const {
    int64_t v = integer(key, dflt);
    if (v <= 0) fail(key, "must be positive, found " + std::to_string(v));
    return v;
  }
};

// Architecture defaults of transformers' config classes (only the fields we read).
struct Defaults {
  int64_t vocab, hidden, inter, layers, heads, max_pos;
  double rope_theta;
};
const Defaults& defaults_for(const std::string& type) {
  static const Defaults kLlama{32000, 4096, 11008, 32, 32, 2048, 10000.0};
  static const Defaults kQwen2{151936, 4096, 22016, 32, 32, 32768, 10000.0};
  static const Defaults kV3{129280, 7168, 18432, 61, 128, 4096, 10000.0};
  static const Defaults kV2{102400, 4096, 11008, 30, 32, 2048, 10000.0};
  if (type == "llama") return kLlama;
  if (type == "qwen2") return kQwen2;
  if (type == "deepseek_v3") return kV3;
  return kV2;
}

void read_rope(const Reader& r, ModelConfig& c, int rot_dim) {
  c.rope.dim = rot_dim;
  c.rope.theta = r.number("rope_theta", defaults_for(c.model_type).rope_theta);
  const json* scaling = nullptr;
  if (r.present("rope_parameters"))
    scaling = &r.j["rope_parameters"];
  else if (r.present("rope_scaling"))
    scaling = &r.j["rope_scaling"];
  if (!scaling) return;
  const char* key = r.present("rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (!scaling->is_object()) r.fail(key, "expected an object");
  Reader s{*scaling, r.path};
  if (s.present("rope_theta")) c.rope.theta = s.number("rope_theta", c.rope.theta);
  std::string type = s.string("rope_type", s.string("type", "default"));
  c.rope.type = type;
  if (type == "default") return;
  c.rope.factor = s.number("factor", 0.0);
  c.rope.original_max_position_embeddings = s.integer("original_max_position_embeddings", c.max_position_embeddings);
  if (type == "yarn" && c.rope.factor == 0.0 && c.rope.original_max_position_embeddings > 0)
    c.rope.factor = double(c.max_position_embeddings) / double(c.rope.original_max_position_embeddings);
  c.rope.low_freq_factor = s.number("low_freq_factor", 1.0);
  c.rope.high_freq_factor = s.number("high_freq_factor", 4.0);
  c.rope.beta_fast = s.number("beta_fast", 0.0);
  if (c.rope.beta_fast == 0.0) c.rope.beta_fast = 32.0;
  c.rope.beta_slow = s.number("beta_slow", 0.0);
  if (c.rope.beta_slow == 0.0) c.rope.beta_slow = 1.0;
  c.rope.mscale = s.number("mscale", 0.0);
  c.rope.mscale_all_dim = s.number("mscale_all_dim", 0.0);
  c.rope.attention_factor = s.number("attention_factor", 0.0);
  c.rope.truncate = s.boolean("truncate", true);
  if (type != "linear" && type != "llama3" && type != "yarn")
    r.fail(key, "unsupported rope type '" + type + "' (supported: default, linear, llama3, yarn)");
  if (!(c.rope.factor > 0)) r.fail(key, "rope scaling '" + type + "' needs a positive 'factor'");
}

void read_eos(const Reader& r, ModelConfig& c, int64_t dflt) {
  if (!r.present("eos_token_id")) {
    if (dflt >= 0) c.eos_token_ids = {dflt};
    return;
  }
  const json& v = r.j["eos_token_id"];
  if (v.is_number_integer())
    c.eos_token_ids = {v.get<int64_t>()};
  else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_number_integer()) r.fail("eos_token_id", "expected integers");
      c.eos_token_ids.push_back(e.get<int64_t>());
    }
  } else {
    r.fail("eos_token_id", "expected an integer or a list of integers");
  }
}

}  // namespace

ModelConfig parse_config(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(path + ": expected a JSON object");
  Reader r{j, path};
  ModelConfig c;
  c.path = path;
  if (!r.present("model_type")) throw Error(path + ": missing 'model_type'");
  c.model_type = r.string("model_type", "");
  const std::string& t = c.model_type;
  if (t != "llama" && t != "qwen2" && t != "deepseek_v3" && t != "deepseek_v2")
    throw Error(path + ": unsupported model_type '" + t + "' (supported: llama, qwen2, deepseek_v3, deepseek_v2)");
  const Defaults& d = defaults_for(t);
  c.vocab_size = r.positive("vocab_size", d.vocab);
  c.hidden_size = r.positive("hidden_size", d.hidden);
  c.intermediate_size = r.positive("intermediate_size", d.inter);
  c.num_hidden_layers = r.positive("num_hidden_layers", d.layers);
  c.num_attention_heads = r.positive("num_attention_heads", d.heads);
  c.num_key_value_heads = r.positive("num_key_value_heads", c.num_attention_heads);
  c.max_position_embeddings = r.positive("max_position_embeddings", d.max_pos);
  c.rms_norm_eps = r.number("rms_norm_eps", 1e-6);
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", false);
  if (c.num_attention_heads % c.num_key_value_heads)
    r.fail("num_key_value_heads", std::to_string(c.num_key_value_heads) + " does not divide num_attention_heads " +
                                      std::to_string(c.num_attention_heads));
  const bool deepseek = t == "deepseek_v3" || t == "deepseek_v2";
  c.bos_token_id = r.integer("bos_token_id", t == "deepseek_v3" ? 0 : (t == "qwen2" ? -1 : 1));
  read_eos(r, c, t == "deepseek_v3" ? 1 : (t == "qwen2" ? -1 : 2));

  if (!deepseek) {
    if (r.present("hidden_act") && r.string("hidden_act", "silu") != "silu")
      r.fail("hidden_act", "only 'silu' is supported");
    c.head_dim = r.positive("head_dim", c.hidden_size / c.num_attention_heads);
    c.attention_bias = t == "qwen2" ? true : r.boolean("attention_bias", false);
    c.attention_out_bias = t == "qwen2" ? false : c.attention_bias;
    c.mlp_bias = t == "llama" && r.boolean("mlp_bias", false);
    c.rope_style = kernels::RopeStyle::kHalf;
    double partial = r.number("partial_rotary_factor", 1.0);
    read_rope(r, c, int(double(c.head_dim) * partial));
    c.attn_scale = float(1.0 / std::sqrt(double(c.head_dim)));
    if (t == "qwen2" && r.boolean("use_sliding_window", false))
      r.fail("use_sliding_window", "sliding-window attention is not supported");
  } else {
    c.mla = true;
    const bool v3 = t == "deepseek_v3";
    c.q_lora_rank = r.integer("q_lora_rank", 1536);
    if (c.q_lora_rank < 0) r.fail("q_lora_rank", "must be >= 0 or null");
    if (!r.present("q_lora_rank")) c.q_lora_rank = j.contains("q_lora_rank") ? 0 : 1536;
    c.kv_lora_rank = r.positive("kv_lora_rank", 512);
    c.qk_nope_head_dim = r.positive("qk_nope_head_dim", 128);
    c.qk_rope_head_dim = r.positive("qk_rope_head_dim", 64);
    c.v_head_dim = r.positive("v_head_dim", 128);
    c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
    c.attention_bias = r.boolean("attention_bias", false);
    c.rope_style = r.boolean("rope_interleave", true) ? kernels::RopeStyle::kInterleaved : kernels::RopeStyle::kHalf;
    read_rope(r, c, int(c.qk_rope_head_dim));
    double scale = 1.0 / std::sqrt(double(c.head_dim));
    if (c.rope.type != "default" && c.rope.mscale_all_dim != 0.0) {
      double m = kernels::yarn_get_mscale(c.rope.factor, c.rope.mscale_all_dim);
      scale *= m * m;
    }
    c.attn_scale = float(scale);
    // MoE
    c.n_routed_experts = r.integer("n_routed_experts", v3 ? 256 : 64);
    c.n_shared_experts = r.integer("n_shared_experts", v3 ? 1 : 2);
    c.moe_intermediate_size = r.positive("moe_intermediate_size", v3 ? 2048 : 1407);
    c.first_k_dense_replace = r.integer("first_k_dense_replace", v3 ? 3 : 0);
    c.moe_layer_freq = r.positive("moe_layer_freq", 1);
    std::string topk_method = r.string("topk_method", v3 ? "noaux_tc" : "greedy");
    std::string scoring = r.string("scoring_func", v3 ? "sigmoid" : "softmax");
    // transformers' DeepseekV3 always scores with sigmoid + correction bias; V2 with softmax.
    if (v3 && scoring != "sigmoid") r.fail("scoring_func", "deepseek_v3 expects 'sigmoid', found '" + scoring + "'");
    if (!v3 && scoring != "softmax") r.fail("scoring_func", "deepseek_v2 expects 'softmax', found '" + scoring + "'");
    auto& m = c.routing;
    m.score = v3 ? kernels::MoeRouting::Score::kSigmoid : kernels::MoeRouting::Score::kSoftmax;
    m.top_k = int(r.integer("num_experts_per_tok", v3 ? 8 : 0));
    m.scaling = float(r.number("routed_scaling_factor", v3 ? 2.5 : 1.0));
    if (v3) {
      c.router_bias = true;
      m.group_by_top2_sum = true;
      m.n_group = int(r.integer("n_group", 8));
      m.topk_group = int(r.integer("topk_group", 4));
      m.normalize = r.boolean("norm_topk_prob", true);
    } else {
      if (topk_method == "group_limited_greedy") {
        m.n_group = int(r.integer("n_group", 1));
        m.topk_group = int(r.integer("topk_group", 1));
      } else if (topk_method == "greedy") {
        m.n_group = 1;
        m.topk_group = 1;
      } else {
        r.fail("topk_method", "deepseek_v2 supports 'greedy' and 'group_limited_greedy', found '" + topk_method + "'");
      }
      m.normalize = false;  // transformers' DeepseekV2 never renormalises
    }
    if (c.n_routed_experts > 0) {
      if (m.top_k <= 0 || m.top_k > c.n_routed_experts)
        r.fail("num_experts_per_tok", "must be in [1, n_routed_experts]");
      if (m.n_group <= 0 || c.n_routed_experts % m.n_group) r.fail("n_group", "must divide n_routed_experts");
      if (m.topk_group <= 0 || m.topk_group > m.n_group) r.fail("topk_group", "must be in [1, n_group]");
      if (m.top_k > m.topk_group * (c.n_routed_experts / m.n_group))
        r.fail("num_experts_per_tok", "exceeds the experts available in topk_group groups");
      if (m.group_by_top2_sum && m.n_group > 1 && c.n_routed_experts / m.n_group < 2)
        r.fail("n_group", "group scores need at least 2 experts per group");
    }
    c.num_nextn_predict_layers = r.integer("num_nextn_predict_layers", r.integer("num_mtp_layers", 0));
    if (c.num_nextn_predict_layers > 1)
      r.fail("num_nextn_predict_layers",
             "only one MTP module is supported, found " + std::to_string(c.num_nextn_predict_layers));
  }
  if (r.present("quantization_config")) {
    const json& q = j["quantization_config"];
    Reader qr{q, path};
    std::string method = qr.string("quant_method", "");
    if (method != "fp8") r.fail("quantization_config", "unsupported quant_method '" + method + "' (supported: fp8)");
    std::string fmt = qr.string("fmt", "e4m3");
    if (fmt != "e4m3") r.fail("quantization_config", "unsupported fp8 format '" + fmt + "'");
    c.fp8 = true;
    if (q.contains("weight_block_size")) {
      const json& b = q["weight_block_size"];
      if (!b.is_array() || b.size() != 2 || b[0] != 128 || b[1] != 128)
        r.fail("quantization_config.weight_block_size", "only [128, 128] blocks are supported, found " + b.dump());
    }
  }
  return c;
}

ModelConfig load_config(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open (missing config.json?)");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace janus::llm
