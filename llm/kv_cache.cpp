#include "llm/kv_cache.h"

#include <algorithm>

namespace janus::llm {

using kernels::Shape;
using kernels::Tensor;

namespace {
Tensor grow(const Tensor& old, const Shape& per_token, int64_t cap, int64_t keep) {
  if (per_token.empty()) return Tensor();
  Shape s{cap};
  s.insert(s.end(), per_token.begin(), per_token.end());
  Tensor t = Tensor::zeros(s, kernels::DType::F32);
  if (old.defined() && keep > 0) t.slice(0, 0, keep).copy_from(old.slice(0, 0, keep));
  return t;
}
}  // namespace

void KvCache::reserve(int64_t n) {
  if (n <= capacity_) return;
  int64_t cap = std::max<int64_t>({n, 2 * capacity_, 64});
  layers.resize(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    layers[i].k = grow(layers[i].k, shapes[i].k, cap, length);
    layers[i].v = grow(layers[i].v, shapes[i].v, cap, length);
    layers[i].latent = grow(layers[i].latent, shapes[i].latent, cap, length);
  }
  capacity_ = cap;
}

}  // namespace janus::llm
