// moe_route() on the GPU (ops.h: MoeRouting): one block per token. The block computes the
// scores (sigmoid, or softmax with a block max) in parallel; thread 0 then follows the CPU
// algorithm step by step — the softmax sum in double, group scores, group selection (ties to the
// lower group, as stable_sort), top-k (ties to the lower expert id, as the CPU comparator) —
// so the same experts are chosen whenever the scores agree (CUDA expf is ≤ 2 ulp from glibc's:
// only scores that tie to within that can pick differently). O(top_k·E) serial steps per
// token: microseconds for E = 256; the kernel is latency-bound, not a bottleneck.
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kThreads = 128;

struct RouteArgs {
  const float* logits;
  int64_t ls, E;
  const void* bias;
  DType bias_dt;
  int64_t bias_stride;
  int32_t* ids;
  float* weights;
  int K, G, topk_group;
  int64_t per_group;
  bool sigmoid, top2, normalize;
  float scaling;
};

__global__ void __launch_bounds__(kThreads) moe_route_kernel(RouteArgs a) {
  extern __shared__ float sm[];
  __shared__ float red[kWarp];
  float* score = sm;             // [E]
  float* choice = sm + a.E;      // [E]; NaN marks an expert already taken
  float* gscore = sm + 2 * a.E;  // [G]; NaN marks a group already kept
  const int64_t t = blockIdx.x;
  const float* l = a.logits + t * a.ls;
  if (a.sigmoid) {
    for (int64_t e = threadIdx.x; e < a.E; e += blockDim.x) score[e] = 1.0f / (1.0f + expf(-l[e]));
  } else {
    float m = -INFINITY;
    for (int64_t e = threadIdx.x; e < a.E; e += blockDim.x) m = fmaxf(m, l[e]);
    m = block_max(m, red);
    for (int64_t e = threadIdx.x; e < a.E; e += blockDim.x) score[e] = expf(l[e] - m);
  }
  __syncthreads();
  if (threadIdx.x != 0) return;

  if (!a.sigmoid) {
    double s = 0;
    for (int64_t e = 0; e < a.E; ++e) s += score[e];
    for (int64_t e = 0; e < a.E; ++e) score[e] = float(score[e] / s);
  }
  for (int64_t e = 0; e < a.E; ++e)
    choice[e] = score[e] + (a.bias ? load_float(a.bias, a.bias_dt, e * a.bias_stride) : 0.0f);
  if (a.G > 1) {
    for (int g = 0; g < a.G; ++g) {
      const float* c = choice + g * a.per_group;
      float best = -INFINITY, second = -INFINITY;
      for (int64_t i = 0; i < a.per_group; ++i) {
        if (c[i] > best)
          second = best, best = c[i];
        else if (c[i] > second)
          second = c[i];
      }
      gscore[g] = a.top2 ? best + second : best;
    }
    // Keep the topk_group best groups (first of equals wins), then mask the rest.
    for (int r = 0; r < a.topk_group; ++r) {
      int pick = -1;
      for (int g = 0; g < a.G; ++g)
        if (!isnan(gscore[g]) && (pick < 0 || gscore[g] > gscore[pick])) pick = g;
      gscore[pick] = NAN;
    }
    for (int g = 0; g < a.G; ++g)
      if (!isnan(gscore[g]))
        for (int64_t i = 0; i < a.per_group; ++i) choice[g * a.per_group + i] = -INFINITY;
  }
  int32_t* id = a.ids + t * a.K;
  float* w = a.weights + t * a.K;
  float sum = 0.0f;
  for (int k = 0; k < a.K; ++k) {
    int64_t pick = -1;
    for (int64_t e = 0; e < a.E; ++e)
      if (!isnan(choice[e]) && (pick < 0 || choice[e] > choice[pick])) pick = e;
    choice[pick] = NAN;
    id[k] = int32_t(pick);
    w[k] = score[pick];
    sum += w[k];
  }
  if (a.normalize)
    for (int k = 0; k < a.K; ++k) w[k] /= (sum + 1e-20f);
  for (int k = 0; k < a.K; ++k) w[k] *= a.scaling;
}

}  // namespace

void moe_route(Tensor& ids, Tensor& weights, const Tensor& logits, const Tensor& bias, const MoeRouting& cfg) {
  const char* op = "moe_route";
  require_gpu(op);
  check_on_cuda(ids, op, "ids");
  check_on_cuda(weights, op, "weights");
  check_on_cuda(logits, op, "logits");
  check_on_cuda(bias, op, "bias");
  check_rows_f32(logits, op, "logits");
  JANUS_REQUIRE(logits.dim() == 2, op, "logits must be [T, E], got " + shape_str(logits.shape()));
  const int64_t T = logits.size(0), E = logits.size(1);
  const int K = cfg.top_k, G = std::max(1, cfg.n_group);
  JANUS_REQUIRE(K >= 1 && K <= E, op, "top_k " + std::to_string(K) + " with " + std::to_string(E) + " experts");
  JANUS_REQUIRE(E % G == 0, op, std::to_string(E) + " experts do not split into " + std::to_string(G) + " groups");
  const int64_t per_group = E / G;
  JANUS_REQUIRE(G == 1 || (cfg.topk_group >= 1 && cfg.topk_group <= G && K <= cfg.topk_group * per_group), op,
                "topk_group " + std::to_string(cfg.topk_group) + " of " + std::to_string(G) +
                    " groups cannot supply top_k " + std::to_string(K));
  JANUS_REQUIRE(!cfg.group_by_top2_sum || per_group >= 2, op, "top-2 group scores need at least 2 experts per group");
  JANUS_REQUIRE(ids.dtype() == DType::I32 && ids.is_contiguous() && ids.numel() == T * K, op,
                "ids must be i32 [T, top_k]");
  JANUS_REQUIRE(weights.dtype() == DType::F32 && weights.is_contiguous() && weights.numel() == T * K, op,
                "weights must be f32 [T, top_k]");
  RouteArgs a{};
  if (bias.defined()) {
    JANUS_REQUIRE(bias.numel() == E, op, "bias " + shape_str(bias.shape()) + " for " + std::to_string(E) + " experts");
    JANUS_REQUIRE(bias.dim() == 1 || bias.is_contiguous(), op, "bias must be a vector or contiguous on the GPU");
    const DType dt = bias.dtype();
    JANUS_REQUIRE(dt == DType::F32 || dt == DType::BF16 || dt == DType::F16, op,
                  std::string("bias must be f32, bf16 or f16, got ") + dtype_name(dt));
    a.bias = bias.raw(), a.bias_dt = dt, a.bias_stride = bias.dim() == 1 ? bias.strides()[0] : 1;
  }
  if (T == 0) return;
  JANUS_REQUIRE(T <= 0x7fffffffLL, op, std::to_string(T) + " tokens exceed one launch");
  const size_t smem = size_t(2 * E + G) * sizeof(float);
  JANUS_REQUIRE(smem <= 48 * 1024, op, std::to_string(E) + " experts need more shared memory than one block has");
  a.logits = logits.data<float>(), a.ls = row_stride(logits, op), a.E = E;
  a.ids = ids.data<int32_t>(), a.weights = weights.data<float>();
  a.K = K, a.G = G, a.topk_group = cfg.topk_group, a.per_group = per_group;
  a.sigmoid = cfg.score == MoeRouting::Score::kSigmoid, a.top2 = cfg.group_by_top2_sum, a.normalize = cfg.normalize;
  a.scaling = cfg.scaling;
  moe_route_kernel<<<unsigned(T), kThreads, smem, stream()>>>(a);
  check_launch(op);
}

}  // namespace janus::kernels::cuda
