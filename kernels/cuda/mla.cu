// MLA absorbed attention on the GPU (ops.h: mla_attention_absorbed), in three launches:
//  1. q_full[t, h] = (W_UK,hᵀ·q_nope[t, h] | q_pe[t, h])  [T, H, C + dr], W_UK,h = kv_b rows
//     h·(dn+dv) .. +dn, read in their stored dtype (fp8 with block scales).
//  2. o_lat = attention(q_full, keys = cache rows (latent | k_pe), values = latent) with one KV
//     head: the absorbed scores q_lat·latent + q_pe·k_pe are exactly q_full · cache_row, so the
//     GQA kernel of attention.cu runs unchanged (Dv = C ≤ 512).
//  3. out[t, h, :] = W_UV,h·o_lat[t, h], W_UV,h = kv_b rows h·(dn+dv)+dn .. +dv.
// Scratch: (2C + dr)·T·H floats. Stages 1 and 3 read their kv_b slice once per query (decode:
// once); stage 2 reads the latent cache once per (query, head) from L2 (see attention.cu).
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// One block per (t, h): thread c computes q_lat[c] = Σ_d q_nope[d]·W[h(dn+dv) + d, c] (coalesced
// over c), then q_pe is appended.
__global__ void __launch_bounds__(kThreads)
    absorb_q_kernel(float* qf, const float* qn, int64_t qn0, int64_t qn1, const float* qp, int64_t qp0, int64_t qp1,
                    WeightView w, int64_t H, int64_t dn, int64_t dv, int64_t dr, int64_t C) {
  extern __shared__ float q[];  // [dn]
  const int64_t t = blockIdx.x / H, h = blockIdx.x % H;
  const float* qnr = qn + t * qn0 + h * qn1;
  for (int64_t d = threadIdx.x; d < dn; d += blockDim.x) q[d] = qnr[d];
  __syncthreads();
  float* out = qf + int64_t(blockIdx.x) * (C + dr);
  const int64_t r0 = h * (dn + dv);
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float s = 0.0f;
    for (int64_t d = 0; d < dn; ++d) s = fmaf(q[d], w.at(r0 + d, c), s);
    out[c] = s;
  }
  const float* qpr = qp + t * qp0 + h * qp1;
  for (int64_t d = threadIdx.x; d < dr; d += blockDim.x) out[C + d] = qpr[d];
}

// One block per (t, h): warp per output dim v, out[v] = Σ_c W[h(dn+dv) + dn + v, c]·o_lat[c].
__global__ void __launch_bounds__(kThreads)
    project_out_kernel(float* o, int64_t o0, int64_t o1, const float* olat, WeightView w, int64_t H, int64_t dn,
                       int64_t dv, int64_t C) {
  extern __shared__ float ol[];  // [C]
  const int64_t t = blockIdx.x / H, h = blockIdx.x % H;
  const float* src = olat + int64_t(blockIdx.x) * C;
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) ol[c] = src[c];
  __syncthreads();
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp, nw = blockDim.x / kWarp;
  const int64_t r0 = h * (dn + dv) + dn;
  float* orow = o + t * o0 + h * o1;
  for (int64_t v = warp; v < dv; v += nw) {
    float s = 0.0f;
    for (int64_t c = lane; c < C; c += kWarp) s = fmaf(w.at(r0 + v, c), ol[c], s);
    s = warp_sum(s);
    if (lane == 0) orow[v] = s;
  }
}

}  // namespace

void mla_attention_absorbed(Tensor& out, const Tensor& q_nope, const Tensor& q_pe, const Tensor& cache,
                            const Weight& kv_b, float scale, int64_t q_pos0) {
  const char* op = "mla_attention_absorbed";
  require_gpu(op);
  check_on_cuda(out, op, "out");
  check_on_cuda(q_nope, op, "q_nope");
  check_on_cuda(q_pe, op, "q_pe");
  check_on_cuda(cache, op, "cache");
  check_on_cuda(kv_b.w, op, "kv_b.w");
  check_on_cuda(kv_b.scale_inv, op, "kv_b.scale_inv");
  check_rows_f32(out, op, "out");
  check_rows_f32(q_nope, op, "q_nope");
  check_rows_f32(q_pe, op, "q_pe");
  check_rows_f32(cache, op, "cache");
  JANUS_REQUIRE(q_nope.dim() == 3 && q_pe.dim() == 3 && out.dim() == 3 && cache.dim() == 2, op,
                "expected q_nope [T,H,dn], q_pe [T,H,dr], cache [S,C+dr], out [T,H,dv]");
  const int64_t T = q_nope.size(0), H = q_nope.size(1), dn = q_nope.size(2), dr = q_pe.size(2), dv = out.size(2);
  const int64_t S = cache.size(0), C = cache.size(1) - dr;
  JANUS_REQUIRE(q_pe.size(0) == T && q_pe.size(1) == H && out.size(0) == T && out.size(1) == H && C > 0, op,
                "q_nope " + shape_str(q_nope.shape()) + ", q_pe " + shape_str(q_pe.shape()) + ", cache " +
                    shape_str(cache.shape()) + ", out " + shape_str(out.shape()));
  JANUS_REQUIRE(kv_b.w.dim() == 2 && kv_b.w.size(0) == H * (dn + dv) && kv_b.w.size(1) == C, op,
                "kv_b " + shape_str(kv_b.w.shape()) + " does not match " + std::to_string(H) + " heads of " +
                    std::to_string(dn) + "+" + std::to_string(dv) + " over a latent of " + std::to_string(C));
  JANUS_REQUIRE(q_pos0 >= 0 && q_pos0 + T <= S, op, "queries beyond the cache");
  JANUS_REQUIRE(C <= kAttentionMaxDv, op,
                "latent width " + std::to_string(C) + " above the kernel's " + std::to_string(kAttentionMaxDv));
  const Tensor& w = kv_b.w;
  JANUS_REQUIRE(w.strides()[1] == 1, op, "kv_b must be a row-major matrix, got " + shape_str(w.shape()));
  WeightView wv{w.raw(), w.strides()[0], w.dtype(), nullptr, 0};
  switch (w.dtype()) {
    case DType::F32:
    case DType::BF16:
    case DType::F16: break;
    case DType::F8E4M3: {
      const Tensor& sc = kv_b.scale_inv;
      const Shape ws{(w.size(0) + 127) / 128, (C + 127) / 128};
      JANUS_REQUIRE(sc.defined() && sc.dtype() == DType::F32 && sc.shape() == ws && sc.strides()[1] == 1, op,
                    "fp8 kv_b needs f32 scale_inv " + shape_str(ws) + " with contiguous rows");
      wv.scale = sc.data<float>();
      wv.scale_ld = sc.strides()[0];
      break;
    }
    default: fail(op, std::string("unsupported weight dtype ") + dtype_name(w.dtype()));
  }
  if (T == 0 || H == 0) return;
  JANUS_REQUIRE(T * H <= 0x7fffffffLL, op, "too many (query, head) pairs for one launch");
  JANUS_REQUIRE(size_t(std::max(dn, C)) * sizeof(float) <= 48 * 1024, op, "head dims too large for shared memory");

  std::shared_ptr<void> qbuf = scratch(size_t(T * H * (C + dr)) * sizeof(float));
  std::shared_ptr<void> obuf = scratch(size_t(T * H * C) * sizeof(float));
  float* qf = static_cast<float*>(qbuf.get());
  float* olat = static_cast<float*>(obuf.get());
  cudaStream_t s = stream();
  const unsigned g = unsigned(T * H);
  absorb_q_kernel<<<g, kThreads, size_t(dn) * sizeof(float), s>>>(
      qf, q_nope.data<float>(), q_nope.strides()[0], q_nope.strides()[1], q_pe.data<float>(), q_pe.strides()[0],
      q_pe.strides()[1], wv, H, dn, dv, dr, C);
  check_launch(op);

  AttentionArgs a;
  a.q = qf, a.qs0 = H * (C + dr), a.qs1 = C + dr;
  a.k = cache.data<float>(), a.ks0 = cache.strides()[0], a.ks1 = 0;
  a.v = cache.data<float>(), a.vs0 = cache.strides()[0], a.vs1 = 0;
  a.o = olat, a.os0 = H * C, a.os1 = C;
  a.T = T, a.Hq = H, a.Hkv = 1, a.D = C + dr, a.Dv = C, a.q_pos0 = q_pos0, a.scale = scale;
  launch_attention(a, op);

  if (dv == 0) return;
  project_out_kernel<<<g, kThreads, size_t(C) * sizeof(float), s>>>(out.data<float>(), out.strides()[0],
                                                                    out.strides()[1], olat, wv, H, dn, dv, C);
  check_launch(op);
}

}  // namespace janus::kernels::cuda
