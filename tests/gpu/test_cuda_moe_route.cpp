// moe_route() on the GPU against the CPU op, for the DeepSeek V2 (softmax, group max) and V3
// (sigmoid, correction bias, top-2 group sums, normalised, scaled) configurations.
//
// Expert ids must be identical: the GPU follows the CPU's selection order and tie-breaks, and
// its scores differ only by expf's ≤ 2 ulp, so a different choice needs two candidates within
// ~3e-7 of each other at the top-k boundary — for 64 tokens of random logits the chance is
// ~1e-3, and the seeds are fixed. Weights: |Δw| ≤ 2e-6·|w| (a few roundings of the same score;
// the normalising sum is over ≤ 8 terms in the same order).
#include "gpu_test_util.h"

namespace janus::kernels {
namespace {

using gpu_test::CudaTest;
using gpu_test::expect_close;
using gpu_test::gpu;
using gpu_test::host;
using gpu_test::random_f32;

void run_route(const MoeRouting& cfg, int64_t T, int64_t E, bool bias, uint32_t seed, const std::string& what) {
  SCOPED_TRACE(what);
  Tensor lfull = random_f32({T, E + 5}, seed, -4.0f, 4.0f);
  Tensor logits = lfull.slice(1, 0, E);
  Tensor b = bias ? random_f32({E}, seed + 1, -0.1f, 0.1f) : Tensor();
  Tensor ids = Tensor::empty({T, cfg.top_k}, DType::I32), w = Tensor::empty({T, cfg.top_k}, DType::F32);
  moe_route(ids, w, logits, b, cfg);
  Tensor gids = Tensor::empty({T, cfg.top_k}, DType::I32, Device::CUDA);
  Tensor gw = Tensor::empty({T, cfg.top_k}, DType::F32, Device::CUDA);
  moe_route(gids, gw, gpu(lfull).slice(1, 0, E), bias ? gpu(b) : Tensor(), cfg);
  EXPECT_EQ(gids.to_i64_vector(), ids.to_i64_vector());
  const std::vector<float> want = host(w);
  expect_close(
      host(gw), want, [&](size_t i) { return 2e-6 * std::fabs(want[i]); }, what);
}

class CudaMoeRoute : public CudaTest {};

TEST_F(CudaMoeRoute, SoftmaxTopKWithoutGroupsMatchesCpu) {
  MoeRouting cfg;
  cfg.top_k = 6;
  run_route(cfg, 64, 64, false, 1, "softmax top-6 of 64");
}

TEST_F(CudaMoeRoute, DeepSeekV2GroupLimitedRoutingMatchesCpu) {
  MoeRouting cfg;
  cfg.top_k = 6;
  cfg.n_group = 8;
  cfg.topk_group = 3;
  cfg.scaling = 16.0f;
  run_route(cfg, 64, 160, false, 2, "V2: softmax, group max, 3 of 8 groups");
}

TEST_F(CudaMoeRoute, DeepSeekV3SigmoidBiasTop2GroupsMatchesCpu) {
  MoeRouting cfg;
  cfg.score = MoeRouting::Score::kSigmoid;
  cfg.top_k = 8;
  cfg.n_group = 8;
  cfg.topk_group = 4;
  cfg.group_by_top2_sum = true;
  cfg.normalize = true;
  cfg.scaling = 2.5f;
  run_route(cfg, 64, 256, true, 3, "V3: sigmoid + bias, top-2 group sums, 4 of 8 groups");
}

}  // namespace
}  // namespace janus::kernels
