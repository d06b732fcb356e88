#include "llm/janus_weights.h"

namespace janus::llm {

using kernels::Error;
using kernels::Tensor;

namespace {

bool starts(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

// "fc1.x" -> "layers.0.x"; "hidden_layers.k.x" -> "layers.(2k+2).x".
std::string mlp_projector(const std::string& rest) {
  if (starts(rest, "fc1.")) return "layers.0." + rest.substr(4);
  if (starts(rest, "hidden_layers.")) {
    const std::string r = rest.substr(14);
    const size_t dot = r.find('.');
    if (dot != std::string::npos && dot > 0 && r.find_first_not_of("0123456789") == dot)
      return "layers." + std::to_string(2 * std::stoll(r.substr(0, dot)) + 2) + r.substr(dot);
  }
  return "?" + rest;  // no such tensor in the release
}

}  // namespace

std::string janus_original_name(const std::string& n, int* qkv_part) {
  *qkv_part = -1;
  const std::string vm = "model.vision_model.", tower = "vision_model.vision_tower.";
  if (starts(n, vm)) {
    std::string r = n.substr(vm.size());
    if (starts(r, "embeddings.patch_embedding.")) return tower + "patch_embed.proj." + r.substr(27);
    if (r == "embeddings.position_embedding.weight") return tower + "pos_embed";
    if (starts(r, "post_layernorm.")) return tower + "norm." + r.substr(15);
    if (starts(r, "encoder.layers.")) {
      r = r.substr(15);
      const size_t dot = r.find('.');
      if (dot == std::string::npos) return n;
      const std::string idx = r.substr(0, dot), p = r.substr(dot + 1);
      const std::string b = tower + "blocks." + idx + ".";
      if (starts(p, "layer_norm1.")) return b + "norm1." + p.substr(12);
      if (starts(p, "layer_norm2.")) return b + "norm2." + p.substr(12);
      if (starts(p, "self_attn.projection_layer.")) return b + "attn.proj." + p.substr(27);
      for (int k = 0; k < 3; ++k) {
        const std::string q = std::string("self_attn.") + "qkv"[k] + "_proj.";
        if (starts(p, q)) {
          *qkv_part = k;
          return b + "attn.qkv." + p.substr(q.size());
        }
      }
      return b + p;  // mlp.fc1 / mlp.fc2
    }
    return n;
  }
  if (starts(n, "model.vqmodel.")) {
    std::string r = n.substr(14);
    replace_all(r, "encoder.down.", "encoder.conv_blocks.");
    replace_all(r, "decoder.up.", "decoder.conv_blocks.");
    replace_all(r, ".block.", ".res.");
    replace_all(r, "mid.block_1.", "mid.0.");
    replace_all(r, "mid.attn_1.", "mid.1.");
    replace_all(r, "mid.block_2.", "mid.2.");
    return "gen_vision_model." + r;
  }
  if (starts(n, "model.aligner.")) return "aligner." + mlp_projector(n.substr(14));
  if (starts(n, "model.generation_aligner.")) return "gen_aligner." + mlp_projector(n.substr(25));
  if (starts(n, "model.generation_head.proj_out.")) return "gen_head.output_mlp_projector." + n.substr(31);
  if (starts(n, "model.generation_head.vision_head.")) return "gen_head.vision_head." + n.substr(34);
  if (n == "model.generation_embeddings.weight") return "gen_embed.weight";
  return n;
}

bool JanusWeightSource::has(const std::string& name) const {
  if (layout_ == JanusLayout::kTransformers) return store_.has(name);
  int part;
  return store_.has(janus_original_name(name, &part));
}

Tensor JanusWeightSource::get(const std::string& name) const {
  if (layout_ == JanusLayout::kTransformers) return store_.get(name);
  int part;
  const std::string orig = janus_original_name(name, &part);
  if (!store_.has(orig))
    throw Error(store_.dir() + ": missing tensor '" + orig + "' (transformers name '" + name + "')");
  Tensor t = store_.get(orig);
  if (part >= 0) {
    if (t.dim() < 1 || t.size(0) % 3)
      throw Error(store_.dir() + ": tensor '" + orig + "' has shape " + kernels::shape_str(t.shape()) +
                  ", expected a fused q|k|v first dimension divisible by 3");
    const int64_t d = t.size(0) / 3;
    return t.slice(0, part * d, (part + 1) * d);
  }
  if (orig == "vision_model.vision_tower.pos_embed" && t.dim() == 3 && t.size(0) == 1)
    return (t.is_contiguous() ? t : t.contiguous()).view({t.size(1), t.size(2)});
  return t;
}

void JanusWeightSource::mark_dead_weights() const {
  for (const auto& n : store_.names()) {
    if (starts(n, "vision_model.vision_tower.attn_pool.") || n == "gen_vision_model.quantize.codebook_used" ||
        n.find("rotary_emb.inv_freq") != std::string::npos)
      store_.mark_used(n);
  }
}

}  // namespace janus::llm
