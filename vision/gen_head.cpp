#include "vision/gen_head.h"

namespace janus::vision {

using kernels::DType;
using kernels::Error;
using kernels::Shape;
using kernels::Tensor;

GenEmbedding::GenEmbedding(const MlpAlignerConfig& aligner, int64_t num_embeddings, const WeightSource& src,
                           const std::string& table_name, const std::string& aligner_prefix)
    : table_(get_weight(src, table_name, {num_embeddings, aligner.in_dim}).contiguous()),
      aligner_(aligner, src, aligner_prefix) {}

Tensor GenEmbedding::forward(const Tensor& ids) const {
  if (!table_.defined()) throw Error("GenEmbedding: not loaded");
  if (ids.dtype() != DType::I64) throw Error("GenEmbedding: ids must be i64");
  const std::vector<int64_t> v = ids.to_i64_vector();
  const int64_t n = int64_t(v.size()), d = table_.size(1);
  Tensor e = Tensor::empty({n, d}, DType::F32);
  kernels::embedding(e, table_, v.data(), n);
  Shape s = ids.shape();
  s.push_back(d);
  return aligner_.forward(e.view(s));
}

GenHead::GenHead(const GenHeadConfig& cfg, const WeightSource& src, const std::string& prefix)
    : cfg_(cfg),
      proj_out_(get_linear(src, prefix + "proj_out", cfg.hidden, cfg.in_dim, true)),
      vision_head_(get_linear(src, prefix + "vision_head", cfg.num_codes, cfg.hidden, true)) {}

Tensor GenHead::forward(const Tensor& hidden) const {
  if (!proj_out_.w.defined()) throw Error("GenHead: not loaded");
  if (hidden.dim() < 1 || hidden.size(-1) != cfg_.in_dim)
    throw Error("GenHead: hidden " + kernels::shape_str(hidden.shape()) + ", expected [..., " +
                std::to_string(cfg_.in_dim) + "]");
  const int64_t M = hidden.numel() / cfg_.in_dim;
  Tensor h = Tensor::empty({M, cfg_.hidden}, DType::F32);
  kernels::linear(h, hidden.contiguous().view({M, cfg_.in_dim}), proj_out_);
  activate(h, cfg_.act);
  Tensor logits = Tensor::empty({M, cfg_.num_codes}, DType::F32);
  kernels::linear(logits, h, vision_head_);
  Shape s = hidden.shape();
  s.back() = cfg_.num_codes;
  return logits.view(s);
}

}  // namespace janus::vision
