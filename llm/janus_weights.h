// The Janus checkpoint as a vision::WeightSource: the vision modules ask for transformers `janus`
// names (model.vision_model.*, model.aligner.*, model.vqmodel.*, model.generation_*); for the
// original `multi_modality` layout those are renamed to the release's names
// (../shared/reference/janus_tensors.txt):
//   model.vision_model.embeddings.patch_embedding      vision_model.vision_tower.patch_embed.proj
//   model.vision_model.embeddings.position_embedding.weight [N, D]
//                                                      vision_model.vision_tower.pos_embed [1, N, D]
//   model.vision_model.encoder.layers.i.layer_norm{1,2}  ….blocks.i.norm{1,2}
//   ….self_attn.{q,k,v}_proj                           ….blocks.i.attn.qkv rows [0,D) / [D,2D) / [2D,3D)
//   ….self_attn.projection_layer                       ….blocks.i.attn.proj
//   ….mlp.fc{1,2}                                      ….blocks.i.mlp.fc{1,2}
//   model.vision_model.post_layernorm                  vision_model.vision_tower.norm
//   model.vqmodel.{encoder.down,decoder.up}.i.block.j  gen_vision_model.{encoder,decoder}.conv_blocks.i.res.j
//   model.vqmodel.*.mid.{block_1,attn_1,block_2}       gen_vision_model.*.mid.{0,1,2}
//   model.vqmodel.<rest>                               gen_vision_model.<rest>
//   model.{aligner,generation_aligner}.fc1             {aligner,gen_aligner}.layers.0
//   model.{aligner,generation_aligner}.hidden_layers.k {aligner,gen_aligner}.layers.(2k+2)
//   model.generation_head.proj_out / vision_head       gen_head.output_mlp_projector / vision_head
//   model.generation_embeddings.weight                 gen_embed.weight
// Views (qkv rows, squeezed pos_embed) are zero-copy. Tensors fetched are marked used in the
// store; dead weights of the release (attn_pool.*, quantize.codebook_used) are marked by
// mark_dead_weights().
#pragma once
#include <string>

#include "llm/janus_config.h"
#include "llm/tensor_store.h"
#include "vision/weight_source.h"

namespace janus::llm {

class JanusWeightSource : public vision::WeightSource {
 public:
  JanusWeightSource(TensorStore store, JanusLayout layout) : store_(std::move(store)), layout_(layout) {}
  bool has(const std::string& name) const override;
  kernels::Tensor get(const std::string& name) const override;
  std::string describe() const override { return store_.dir(); }
  // Marks checkpoint tensors that no Janus module reads (so the unused-tensor check ignores them).
  void mark_dead_weights() const;

 private:
  TensorStore store_;
  JanusLayout layout_;
};

// The release name of a transformers-layout vision/generation tensor name, and which third of a
// fused qkv tensor it is (-1: the whole tensor). Names outside the Janus modules map to themselves.
std::string janus_original_name(const std::string& transformers_name, int* qkv_part);

}  // namespace janus::llm
