// Causal GQA attention on the GPU (ops.h: attention). One block of four warps per (query,
// head); the warps take turns over tiles of 32 keys. In a tile each lane scores one key (q sits
// in shared memory), the warp updates its running max / sum / output (online softmax, FlashAttention
// eq. in Dao et al. 2022, §3.1), then each key's value row is added by the whole warp, lanes
// owning Dv/32 output dims. At the end the four warps' partial states are merged in shared memory.
//
// Precision: float32 throughout; the CPU takes one max over all scores and sums in double,
// here maxima are running and sums are float — outputs agree to ~1e-6 relative.
// Performance: no tensor cores, K/V read from L2 once per query (prefill is O(T·S·D) memory
// traffic), and decode launches only Hq blocks — correct, not fast: a split-KV (flash-decoding)
// kernel is the next step for long contexts.
#include "kernels/cuda/attention.cuh"
#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr int kWarpsA = 4;

// VPL: value dims per lane (Dv ≤ 32·VPL).
template <int VPL>
__global__ void __launch_bounds__(kWarpsA* kWarp) attention_kernel(AttentionArgs a, bool vec) {
  extern __shared__ float sm[];
  const int64_t dpad = (a.D + 3) / 4 * 4;
  float* qs = sm;              // [dpad]
  float* wm = qs + dpad;       // [kWarpsA] running max per warp
  float* wl = wm + kWarpsA;    // [kWarpsA] running sum per warp
  float* wacc = wl + kWarpsA;  // [kWarpsA][Dv] unnormalised outputs
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t t = blockIdx.x / a.Hq, h = blockIdx.x % a.Hq, kh = h / (a.Hq / a.Hkv);
  const float* qv = a.q + t * a.qs0 + h * a.qs1;
  for (int64_t d = threadIdx.x; d < a.D; d += blockDim.x) qs[d] = qv[d];
  __syncthreads();

  const int64_t n = a.q_pos0 + t + 1;  // keys 0..n-1 are visible
  float m = -INFINITY, l = 0.0f, acc[VPL];
#pragma unroll
  for (int i = 0; i < VPL; ++i) acc[i] = 0.0f;
  for (int64_t j0 = int64_t(warp) * kWarp; j0 < n; j0 += kWarpsA * kWarp) {
    const int64_t j = j0 + lane;
    float s = -INFINITY;
    if (j < n) {
      const float* kr = a.k + j * a.ks0 + kh * a.ks1;
      float dot = 0.0f;
      if (vec) {
        for (int64_t d = 0; d < a.D; d += 4) {
          const float4 kv = *reinterpret_cast<const float4*>(kr + d);
          const float4 q4 = *reinterpret_cast<const float4*>(qs + d);
          dot = fmaf(q4.x, kv.x, dot);
          dot = fmaf(q4.y, kv.y, dot);
          dot = fmaf(q4.z, kv.z, dot);
          dot = fmaf(q4.w, kv.w, dot);
        }
      } else {
        for (int64_t d = 0; d < a.D; ++d) dot = fmaf(qs[d], kr[d], dot);
      }
      s = dot * a.scale;
    }
    const float m_new = fmaxf(m, warp_max(s));  // finite: lane 0's key is always visible
    const float p = j < n ? expf(s - m_new) : 0.0f;
    const float corr = expf(m - m_new);  // 0 on the first tile (m = -inf)
    l = l * corr + warp_sum(p);
#pragma unroll
    for (int i = 0; i < VPL; ++i) acc[i] *= corr;
    const int cnt = n - j0 < kWarp ? int(n - j0) : kWarp;
    for (int jj = 0; jj < cnt; ++jj) {
      const float pj = __shfl_sync(0xffffffffu, p, jj);
      const float* vr = a.v + (j0 + jj) * a.vs0 + kh * a.vs1;
#pragma unroll
      for (int i = 0; i < VPL; ++i) {
        const int64_t d = lane + kWarp * i;
        if (d < a.Dv) acc[i] = fmaf(pj, vr[d], acc[i]);
      }
    }
    m = m_new;
  }
  if (lane == 0) wm[warp] = m, wl[warp] = l;
#pragma unroll
  for (int i = 0; i < VPL; ++i) {
    const int64_t d = lane + kWarp * i;
    if (d < a.Dv) wacc[warp * a.Dv + d] = acc[i];
  }
  __syncthreads();
  float mx = -INFINITY;
  for (int w = 0; w < kWarpsA; ++w) mx = fmaxf(mx, wm[w]);
  float f[kWarpsA], sum = 0.0f;
  for (int w = 0; w < kWarpsA; ++w) sum += (f[w] = wl[w] > 0.0f ? expf(wm[w] - mx) : 0.0f) * wl[w];
  const float inv = 1.0f / sum;
  float* o = a.o + t * a.os0 + h * a.os1;
  for (int64_t d = threadIdx.x; d < a.Dv; d += blockDim.x) {
    float r = 0.0f;
    for (int w = 0; w < kWarpsA; ++w) r = fmaf(f[w], wacc[w * a.Dv + d], r);
    o[d] = r * inv;
  }
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

}  // namespace

void launch_attention(const AttentionArgs& a, const char* op) {
  JANUS_REQUIRE(a.Dv <= kAttentionMaxDv, op,
                "value head dim " + std::to_string(a.Dv) + " above the kernel's " + std::to_string(kAttentionMaxDv));
  const int64_t blocks = a.T * a.Hq;
  if (blocks == 0) return;
  JANUS_REQUIRE(blocks <= 0x7fffffffLL, op, "too many (query, head) pairs for one launch");
  const bool vec = a.D % 4 == 0 && a.ks0 % 4 == 0 && a.ks1 % 4 == 0 && aligned16(a.k);
  const size_t smem = size_t((a.D + 3) / 4 * 4 + 2 * kWarpsA + kWarpsA * a.Dv) * sizeof(float);
  JANUS_REQUIRE(smem <= 48 * 1024, op,
                "head dim " + std::to_string(a.D) + " needs more shared memory than one block has");
  const unsigned g = unsigned(blocks), b = kWarpsA * kWarp;
  cudaStream_t s = stream();
  if (a.Dv <= 4 * kWarp)
    attention_kernel<4><<<g, b, smem, s>>>(a, vec);
  else if (a.Dv <= 8 * kWarp)
    attention_kernel<8><<<g, b, smem, s>>>(a, vec);
  else
    attention_kernel<16><<<g, b, smem, s>>>(a, vec);
  check_launch(op);
}

void attention(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, float scale, int64_t q_pos0) {
  const char* op = "attention";
  require_gpu(op);
  check_on_cuda(out, op, "out");
  check_on_cuda(q, op, "q");
  check_on_cuda(k, op, "k");
  check_on_cuda(v, op, "v");
  check_rows_f32(out, op, "out");
  check_rows_f32(q, op, "q");
  check_rows_f32(k, op, "k");
  check_rows_f32(v, op, "v");
  JANUS_REQUIRE(q.dim() == 3 && k.dim() == 3 && v.dim() == 3 && out.dim() == 3, op,
                "expected q [T,Hq,D], k [S,Hkv,D], v [S,Hkv,Dv], out [T,Hq,Dv]");
  const int64_t T = q.size(0), Hq = q.size(1), D = q.size(2);
  const int64_t S = k.size(0), Hkv = k.size(1), Dv = v.size(2);
  JANUS_REQUIRE(k.size(2) == D && v.size(0) == S && v.size(1) == Hkv && Hkv > 0 && Hq % Hkv == 0, op,
                "q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " + shape_str(v.shape()));
  JANUS_REQUIRE(out.size(0) == T && out.size(1) == Hq && out.size(2) == Dv, op, "out " + shape_str(out.shape()));
  JANUS_REQUIRE(q_pos0 >= 0 && q_pos0 + T <= S, op,
                "queries at positions [" + std::to_string(q_pos0) + ", " + std::to_string(q_pos0 + T) +
                    ") need at least that many keys, have " + std::to_string(S));
  AttentionArgs a;
  a.q = q.data<float>(), a.qs0 = q.strides()[0], a.qs1 = q.strides()[1];
  a.k = k.data<float>(), a.ks0 = k.strides()[0], a.ks1 = k.strides()[1];
  a.v = v.data<float>(), a.vs0 = v.strides()[0], a.vs1 = v.strides()[1];
  a.o = out.data<float>(), a.os0 = out.strides()[0], a.os1 = out.strides()[1];
  a.T = T, a.Hq = Hq, a.Hkv = Hkv, a.D = D, a.Dv = Dv, a.q_pos0 = q_pos0, a.scale = scale;
  launch_attention(a, op);
}

}  // namespace janus::kernels::cuda
