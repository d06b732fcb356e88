#include "vision/janus_vision.h"

#include "kernels/tensor.h"

namespace janus::vision {

JanusVision JanusVision::load(const nlohmann::json& config, const WeightSource& src, const JanusVisionNames& names,
                              bool with_vq_encoder) {
  if (!config.is_object() || !config.contains("vision_config") || !config.contains("vq_config"))
    throw kernels::Error("Janus config: expected an object with 'vision_config' and 'vq_config'");
  const nlohmann::json& vc = config["vision_config"];
  const nlohmann::json& qc = config["vq_config"];
  JanusVision j;
  j.siglip_cfg = parse_siglip_config(vc);
  j.aligner_cfg = parse_aligner_config(vc);
  j.vq_cfg = parse_vq_config(qc);
  j.vq_cfg.num_patches = j.siglip_cfg.grid();
  j.gen_aligner_cfg = parse_gen_aligner_config(qc);
  j.gen_head_cfg = parse_gen_head_config(qc);
  j.siglip = SiglipVisionModel(j.siglip_cfg, src, names.vision);
  j.aligner = MlpAligner(j.aligner_cfg, src, names.aligner);
  j.vq = VqModel(j.vq_cfg, src, names.vq, with_vq_encoder);
  j.gen_embed = GenEmbedding(j.gen_aligner_cfg, j.vq_cfg.num_embeddings, src, names.gen_embed_table, names.gen_aligner);
  j.gen_head = GenHead(j.gen_head_cfg, src, names.gen_head);
  return j;
}

}  // namespace janus::vision
