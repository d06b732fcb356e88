// The CUDA kernels behind ops.h. Same contract (shapes, dtypes, strided rows, errors) as the
// CPU kernels; the public ops in kernels/cpu/*.cpp route here when any of their tensors lives on
// the GPU (kernels/dispatch.h). Only declared in builds with JANUS_HAVE_CUDA.
//
// Device rules for every op below:
// - Every tensor (weights, scales, biases included) must be on the CUDA device; a tensor on the
//   CPU throws Error naming it. Host-side arguments stay on the host: `ids` (embedding), `pos`
//   and `inv_freq` (rope) are host memory, validated and uploaded by the op.
// - Ops are asynchronous: they enqueue work on the calling thread's stream (the per-thread
//   default stream, cudaStreamPerThread; see backend.cu) and return. Results are visible to later ops of the same
//   thread and to Tensor::to(Device::CPU); another thread must call synchronize() first.
// - Without a usable GPU every op throws Error carrying cuda_status().
//
// Precision (float32 everywhere, no fast-math): reductions are float trees instead of the CPU's
// double or serial sums, exp/erf/tanh/cos/sin are CUDA's (≤ 2 ulp), so results differ from the
// CPU by a few ulp per element (tests/gpu state the tolerance per op).
#pragma once
#include <vector>

#include "kernels/ops.h"

namespace janus::kernels::cuda {

// f32 weights: cuBLAS sgemm (TF32 off unless set_allow_tf32(true)). bf16/f16/fp8 weights:
// M ≤ kGemvMaxRows a GEMV that reads the stored weights directly (fp8: f32 partial sums of at
// most 16 products, each multiplied by its 128×128 block scale, accumulated in f32); larger M:
// weights widened to f32 one row tile at a time into a scratch buffer, then sgemm (x is never
// rounded to a narrow type).
constexpr int64_t kGemvMaxRows = 8;
void linear(Tensor& y, const Tensor& x, const Weight& w);
// Scratch bytes for one widened weight tile on the many-rows path (rounded down to whole
// 128-row bands, at least one). Default 64 MiB; a knob for tests and benchmarks (atomic).
constexpr int64_t kLinearTileBytes = int64_t(64) << 20;
int64_t linear_tile_bytes();
void set_linear_tile_bytes(int64_t bytes);

void rms_norm(Tensor& y, const Tensor& x, const Tensor& weight, float eps);
void layer_norm(Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);
void silu_mul(Tensor& y, const Tensor& gate, const Tensor& up);
void gelu(Tensor& y, const Tensor& x, bool tanh_approx);
void add(Tensor& y, const Tensor& a, const Tensor& b);
void axpy(Tensor& y, float s, const Tensor& x);
void softmax_rows(Tensor& x);
void embedding(Tensor& y, const Tensor& table, const int64_t* ids, int64_t n);
void rope(Tensor& x, const int64_t* pos, const std::vector<float>& inv_freq, int offset, RopeStyle style, float scale);
// Head dims: D any, Dv ≤ 512 (one block per (query, head), online softmax).
void attention(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, float scale, int64_t q_pos0);
// Latent width C ≤ 512.
void mla_attention_absorbed(Tensor& out, const Tensor& q_nope, const Tensor& q_pe, const Tensor& cache,
                            const Weight& kv_b, float scale, int64_t q_pos0);
void moe_route(Tensor& ids, Tensor& weights, const Tensor& logits, const Tensor& bias, const MoeRouting& cfg);

// Lets cuBLAS use TF32 tensor cores in linear()'s sgemm calls (f32 weights, and narrow weights
// above kGemvMaxRows rows): ≈10-bit mantissa products, several times faster, no longer within
// the CPU parity tolerance. Off by default. Applies to later calls of every thread.
void set_allow_tf32(bool allow);
bool allow_tf32();

// Waits for all work queued by the calling thread.
void synchronize();

// The device caching allocator (backend.cu): bytes handed out / kept in free lists, and a way
// to give the cached blocks back to the driver (waits for the whole device first).
struct MemoryStats {
  size_t bytes_in_use = 0, bytes_cached = 0;
};
MemoryStats memory_stats();
void release_cached_memory();

}  // namespace janus::kernels::cuda
