// Per-sequence attention cache.
//
// GQA layers keep k [capacity, Hkv, D] and v [capacity, Hkv, Dv]; MLA layers keep the latent
// cache [capacity, kv_lora_rank + qk_rope_head_dim] (kv_norm(latent) then the roped k_pe), the
// 576 values per token per layer of DeepSeek-V3's absorbed decode. `length` tokens are valid;
// truncate() drops the tail (speculative decoding rejects drafts that way). Not thread-safe.
#pragma once
#include <vector>

#include "kernels/tensor.h"

namespace janus::llm {

struct LayerCache {
  kernels::Tensor k, v;    // GQA
  kernels::Tensor latent;  // MLA
};

class KvCache {
 public:
  std::vector<LayerCache> layers;
  int64_t length = 0;

  int64_t capacity() const { return capacity_; }
  // Ensures room for `n` tokens, growing every layer's buffers (amortised doubling).
  void reserve(int64_t n);
  void truncate(int64_t n) {
    if (n < 0 || n > length)
      throw kernels::Error("KvCache::truncate: " + std::to_string(n) + " of " + std::to_string(length));
    length = n;
  }
  // Shapes of one token's entries per layer; set by the model when creating the cache.
  struct LayerShape {
    kernels::Shape k, v, latent;  // per-token shapes (empty when unused)
  };
  std::vector<LayerShape> shapes;

 private:
  int64_t capacity_ = 0;
};

}  // namespace janus::llm
