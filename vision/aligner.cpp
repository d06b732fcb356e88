#include "vision/aligner.h"

namespace janus::vision {

using kernels::DType;
using kernels::Error;
using kernels::Shape;
using kernels::Tensor;

void activate(Tensor& x, Activation act) { kernels::gelu(x, x, act == Activation::kGeluTanh); }

MlpAligner::MlpAligner(const MlpAlignerConfig& cfg, const WeightSource& src, const std::string& prefix) : cfg_(cfg) {
  layers_.push_back(get_linear(src, prefix + "fc1", cfg.out_dim, cfg.in_dim, true));
  for (int64_t i = 1; i < cfg.depth; ++i)
    layers_.push_back(
        get_linear(src, prefix + "hidden_layers." + std::to_string(i - 1), cfg.out_dim, cfg.out_dim, true));
}

Tensor MlpAligner::forward(const Tensor& x) const {
  if (layers_.empty()) throw Error("MlpAligner: not loaded");
  if (x.dim() < 1 || x.size(-1) != cfg_.in_dim)
    throw Error("MlpAligner: input " + kernels::shape_str(x.shape()) + ", expected [..., " +
                std::to_string(cfg_.in_dim) + "]");
  const int64_t M = x.numel() / cfg_.in_dim;
  Tensor h = Tensor::empty({M, cfg_.out_dim}, DType::F32);
  kernels::linear(h, x.contiguous().view({M, cfg_.in_dim}), layers_[0]);
  for (size_t i = 1; i < layers_.size(); ++i) {
    activate(h, cfg_.act);
    Tensor next = Tensor::empty({M, cfg_.out_dim}, DType::F32);
    kernels::linear(next, h, layers_[i]);
    h = next;
  }
  Shape out = x.shape();
  out.back() = cfg_.out_dim;
  return h.view(out);
}

}  // namespace janus::vision
