// attention() and mla_attention_absorbed() on the GPU against the CPU ops.
//
// Tolerance: |Δout| ≤ 2e-5 · max|value|. The output is a convex combination of value rows; both
// sides compute scores as f32 dots (≤ 128 terms of |q·k| ≤ 1, scaled by 1/√D: ≤ 1e-6 absolute),
// the softmax in f32 (the CPU with one max and a double sum, the GPU online with running maxima
// rescaled per 32-key tile: ≤ 1e-6 relative per weight) and the weighted sum in f32 over n ≤ 300
// keys: worst case n·u = 1.8e-5 of max|v| per side, typically √n·u ≈ 1e-6 (random signs).
// Cases with S > 128 make each warp rescale across several key tiles. A wrong mask, head mapping,
// rescale or stride moves outputs by O(max|v|) (checked by mutating the kernel).
#include "gpu_test_util.h"

namespace janus::kernels {
namespace {

using gpu_test::CudaTest;
using gpu_test::expect_close;
using gpu_test::gpu;
using gpu_test::host;
using gpu_test::max_abs;
using gpu_test::random_f32;

struct AttnCase {
  int64_t T, S, Hq, Hkv, D, Dv, q_pos0;
};

// k and v are views into one cache buffer [S, Hkv, D + Dv] (row stride ≠ D), q a view of [T, Hq, D + 3].
void run_attention(const AttnCase& c, uint32_t seed) {
  const std::string what = "T=" + std::to_string(c.T) + " S=" + std::to_string(c.S) + " Hq=" + std::to_string(c.Hq) +
                           " Hkv=" + std::to_string(c.Hkv) + " D=" + std::to_string(c.D) +
                           " Dv=" + std::to_string(c.Dv) + " q_pos0=" + std::to_string(c.q_pos0);
  SCOPED_TRACE(what);
  Tensor kv = random_f32({c.S, c.Hkv, c.D + c.Dv}, seed);
  Tensor qf = random_f32({c.T, c.Hq, c.D + 3}, seed + 1);
  Tensor k = kv.slice(2, 0, c.D), v = kv.slice(2, c.D, c.D + c.Dv), q = qf.slice(2, 0, c.D);
  Tensor gkv = gpu(kv), gqf = gpu(qf);
  Tensor gk = gkv.slice(2, 0, c.D), gv = gkv.slice(2, c.D, c.D + c.Dv), gq = gqf.slice(2, 0, c.D);
  const float scale = 1.0f / std::sqrt(float(c.D));
  Tensor out = Tensor::empty({c.T, c.Hq, c.Dv}, DType::F32);
  Tensor gout = Tensor::empty({c.T, c.Hq, c.Dv}, DType::F32, Device::CUDA);
  attention(out, q, k, v, scale, c.q_pos0);
  attention(gout, gq, gk, gv, scale, c.q_pos0);
  const double tol = 2e-5 * max_abs(v.to_f32_vector());
  expect_close(
      host(gout), host(out), [&](size_t) { return tol; }, what);
}

class CudaAttention : public CudaTest {};

TEST_F(CudaAttention, DecodeAndChunkedPrefillMatchCpuWithGqa) {
  run_attention({1, 64, 8, 2, 64, 64, 63}, 1);  // decode: last position
  run_attention({5, 37, 8, 2, 64, 48, 32}, 2);  // a chunk after a cached prefix
  run_attention({33, 33, 4, 4, 32, 32, 0}, 3);  // full prefill, MHA, more keys than one tile
}

TEST_F(CudaAttention, LongContextsRescaleAcrossKeyTiles) {
  run_attention({1, 300, 8, 2, 64, 64, 299}, 6);    // decode over 10 tiles: 3 per warp
  run_attention({4, 200, 4, 1, 128, 128, 196}, 7);  // MQA chunk at the end of a long cache
}

TEST_F(CudaAttention, OddHeadDimsAndWideValuesMatchCpu) {
  run_attention({3, 20, 6, 3, 30, 300, 17}, 4);  // D % 4 ≠ 0: scalar dot; Dv > 256
  run_attention({2, 9, 2, 1, 1, 1, 7}, 5);       // degenerate dims
}

// MLA: three f32 stages (W_UKᵀ·q_nope over dn = 16 terms, attention over C + dr = 48 with the
// error budget above, W_UV·o_lat over C = 40), taken relative to the output scale:
// |Δ| ≤ 3e-5·max|out_cpu|.
void run_mla(DType wdt, int64_t T, int64_t S, int64_t q_pos0, uint32_t seed) {
  const int64_t H = 8, dn = 16, dv = 12, dr = 8, C = 40;
  const std::string what = std::string(dtype_name(wdt)) + " T=" + std::to_string(T) + " S=" + std::to_string(S);
  SCOPED_TRACE(what);
  Tensor qn = random_f32({T, H, dn}, seed), qp = random_f32({T, H, dr}, seed + 1);
  Tensor cache_full = random_f32({S, C + dr + 4}, seed + 2);
  Tensor cache = cache_full.slice(1, 0, C + dr);
  Weight kv_b;
  Tensor wf = random_f32({H * (dn + dv), C}, seed + 3, -0.3f, 0.3f);
  if (wdt == DType::F8E4M3) {
    const int64_t N = H * (dn + dv);
    kv_b.w = Tensor::empty({N, C}, DType::F8E4M3);
    kv_b.scale_inv = Tensor::empty({(N + 127) / 128, (C + 127) / 128}, DType::F32);
    fp8_quantize_blocks(kv_b.w, kv_b.scale_inv, wf);
  } else {
    kv_b.w = wf.to(wdt);
  }
  Weight gkv_b;
  gkv_b.w = gpu(kv_b.w);
  if (kv_b.scale_inv.defined()) gkv_b.scale_inv = gpu(kv_b.scale_inv);
  Tensor gcache_full = gpu(cache_full);
  Tensor gcache = gcache_full.slice(1, 0, C + dr);
  const float scale = 0.2f;
  Tensor out = Tensor::empty({T, H, dv}, DType::F32), gout = Tensor::empty({T, H, dv}, DType::F32, Device::CUDA);
  mla_attention_absorbed(out, qn, qp, cache, kv_b, scale, q_pos0);
  mla_attention_absorbed(gout, gpu(qn), gpu(qp), gcache, gkv_b, scale, q_pos0);
  const std::vector<float> want = host(out);
  const double tol = 3e-5 * max_abs(want);
  expect_close(
      host(gout), want, [&](size_t) { return tol; }, what);
}

class CudaMla : public CudaTest {};

TEST_F(CudaMla, AbsorbedAttentionMatchesCpuForEveryWeightDtype) {
  for (DType wdt : {DType::F32, DType::BF16, DType::F8E4M3}) {
    run_mla(wdt, 1, 20, 19, 10);    // decode
    run_mla(wdt, 4, 45, 41, 20);    // chunk over a cache longer than one key tile
    run_mla(wdt, 1, 300, 299, 30);  // decode: several tiles per warp
  }
}

TEST_F(CudaMla, RejectsLatentsWiderThanTheKernel) {
  Tensor qn = Tensor::zeros({1, 1, 4}, DType::F32, Device::CUDA),
         qp = Tensor::zeros({1, 1, 2}, DType::F32, Device::CUDA);
  Tensor cache = Tensor::zeros({1, 513 + 2}, DType::F32, Device::CUDA);
  Weight w;
  w.w = Tensor::zeros({1 * (4 + 4), 513}, DType::F32, Device::CUDA);
  Tensor out = Tensor::empty({1, 1, 4}, DType::F32, Device::CUDA);
  EXPECT_THROW(mla_attention_absorbed(out, qn, qp, cache, w, 1.0f, 0), Error);
}

}  // namespace
}  // namespace janus::kernels
