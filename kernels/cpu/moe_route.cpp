// DeepSeek V2/V3 expert selection (ops.h: MoeRouting). Scores in float32; the correction bias
// only influences which experts are chosen, never their weights (V3 report, eq. 16).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void moe_route(Tensor& ids, Tensor& weights, const Tensor& logits, const Tensor& bias, const MoeRouting& cfg) {
  JANUS_CUDA_DISPATCH((ids, weights, logits, bias), cuda::moe_route(ids, weights, logits, bias, cfg));
  const char* op = "moe_route";
  cpu::check_rows_f32(logits, op, "logits");
  cpu::check(logits.dim() == 2, op, "logits must be [T, E], got " + shape_str(logits.shape()));
  const int64_t T = logits.size(0), E = logits.size(1);
  const int K = cfg.top_k, G = std::max(1, cfg.n_group);
  cpu::check(K >= 1 && K <= E, op, "top_k " + std::to_string(K) + " with " + std::to_string(E) + " experts");
  cpu::check(E % G == 0, op, std::to_string(E) + " experts do not split into " + std::to_string(G) + " groups");
  const int64_t per_group = E / G;
  cpu::check(G == 1 || (cfg.topk_group >= 1 && cfg.topk_group <= G && K <= cfg.topk_group * per_group), op,
             "topk_group " + std::to_string(cfg.topk_group) + " of " + std::to_string(G) +
                 " groups cannot supply top_k " + std::to_string(K));
  cpu::check(!cfg.group_by_top2_sum || per_group >= 2, op, "top-2 group scores need at least 2 experts per group");
  cpu::check(ids.dtype() == DType::I32 && ids.is_contiguous() && ids.numel() == T * K, op,
             "ids must be i32 [T, top_k]");
  cpu::check(weights.dtype() == DType::F32 && weights.is_contiguous() && weights.numel() == T * K, op,
             "weights must be f32 [T, top_k]");
  std::vector<float> b(size_t(E), 0.0f);
  if (bias.defined()) {
    cpu::check(bias.numel() == E, op, "bias " + shape_str(bias.shape()) + " for " + std::to_string(E) + " experts");
    b = cpu::to_f32(bias);
  }
  const int64_t ls = cpu::row_stride(logits, op);
  parallel_for(T, [&](int64_t tb, int64_t te) {
    std::vector<float> score(static_cast<size_t>(E)), choice(static_cast<size_t>(E)), gscore(static_cast<size_t>(G));
    std::vector<int> order(static_cast<size_t>(E)), gorder(static_cast<size_t>(G));
    for (int64_t t = tb; t < te; ++t) {
      const float* l = logits.data<float>() + t * ls;
      if (cfg.score == MoeRouting::Score::kSigmoid) {
        for (int64_t e = 0; e < E; ++e) score[size_t(e)] = 1.0f / (1.0f + std::exp(-l[e]));
      } else {
        float m = *std::max_element(l, l + E);
        double s = 0;
        for (int64_t e = 0; e < E; ++e) s += (score[size_t(e)] = std::exp(l[e] - m));
        for (int64_t e = 0; e < E; ++e) score[size_t(e)] = float(score[size_t(e)] / s);
      }
      for (int64_t e = 0; e < E; ++e) choice[size_t(e)] = score[size_t(e)] + b[size_t(e)];
      if (G > 1) {
        for (int g = 0; g < G; ++g) {
          float* c = choice.data() + g * per_group;
          if (cfg.group_by_top2_sum) {
            float a = -INFINITY, bb = -INFINITY;
            for (int64_t i = 0; i < per_group; ++i) {
              if (c[i] > a) {
                bb = a;
                a = c[i];
              } else if (c[i] > bb) {
                bb = c[i];
              }
            }
            gscore[size_t(g)] = a + bb;
          } else {
            gscore[size_t(g)] = *std::max_element(c, c + per_group);
          }
        }
        std::iota(gorder.begin(), gorder.end(), 0);
        std::stable_sort(gorder.begin(), gorder.end(),
                         [&](int x, int y) { return gscore[size_t(x)] > gscore[size_t(y)]; });
        for (int r = cfg.topk_group; r < G; ++r)
          std::fill(choice.begin() + gorder[size_t(r)] * per_group,
                    choice.begin() + (gorder[size_t(r)] + 1) * per_group, -INFINITY);
      }
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + K, order.end(), [&](int x, int y) {
        return choice[size_t(x)] > choice[size_t(y)] || (choice[size_t(x)] == choice[size_t(y)] && x < y);
      });
      int32_t* id = ids.data<int32_t>() + t * K;
      float* w = weights.data<float>() + t * K;
      float sum = 0.0f;
      for (int k = 0; k < K; ++k) {
        id[k] = order[size_t(k)];
        w[k] = score[size_t(order[size_t(k)])];
        sum += w[k];
      }
      if (cfg.normalize)
        for (int k = 0; k < K; ++k) w[k] /= (sum + 1e-20f);
      for (int k = 0; k < K; ++k) w[k] *= cfg.scaling;
    }
  });
}

}  // namespace janus::kernels
