// linear(): y[M, N] = x[M, K]·Wᵀ (+ bias) on the CPU. Contract in kernels/ops.h.
//
// Few rows of x (decode, M ≤ cpu::kLinearGemvMaxRows): the memory-bound GEMV of gemv.h, the
// weight rows split over the threads in groups of 16. More rows (prefill): OpenBLAS sgemm, one
// tile of weight rows per call; narrow weights (bf16, f16, fp8) are widened one tile at a time
// into a thread-local f32 buffer, so the conversion is amortised over M and no f32 copy of the
// whole matrix ever exists.
// fp8 e4m3 block scales (one per 128×128 block): the GEMV multiplies the packed x by the scale
// of each 128-column block (within a block Σ_k x_k·(s·w_k) = Σ_k (s·x_k)·w_k), the GEMM path
// scales while widening.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cpu/common.h"
#include "kernels/cpu/gemv.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/linear_simd.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

namespace {

using namespace cpu::linear_simd;

constexpr const char* kOp = "linear";
constexpr int64_t kFp8Block = 128;             // scale_inv block edge
constexpr int64_t kRowGroup = 16;              // GEMV work unit in weight rows (divides kFp8Block)
constexpr int64_t kTileBytes = 2 << 20;        // widened f32 weight tile per thread: about one L2
constexpr int64_t kMinChunkBytes = 256 << 10;  // weight bytes below which a thread is not worth waking

std::atomic<int64_t> g_gemv_max_rows{cpu::kLinearGemvMaxRows};

struct Problem {
  int64_t M = 0, N = 0, K = 0;
  const float* x = nullptr;
  int64_t ldx = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  const void* w = nullptr;
  int64_t ldw = 0;
  const float* scale = nullptr;  // fp8: scale_inv [ceil(N/128), ceil(K/128)], row stride scale_ld
  int64_t scale_ld = 0;
  const float* bias = nullptr;  // [N] or null
};

// We split the work ourselves (parallel_for); OpenBLAS's own threads would oversubscribe the
// cores and serialise concurrent calls from our workers.
void blas_single_threaded() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

template <class D>
void run_gemv(const Problem& p) {
  using S = typename D::Storage;
  const int64_t kpad = padded_k<D>(p.K);
  thread_local std::vector<float> xp_buf;  // the caller's; reused: no allocation per decode step
  xp_buf.resize(size_t(p.M * kpad));
  float* const xp = xp_buf.data();  // workers must see this thread's buffer, not their own
  pack_x<D>(p.x, p.ldx, p.M, p.K, xp);
  const S* w = static_cast<const S*>(p.w);
  const int64_t units = (p.N + kRowGroup - 1) / kRowGroup;
  const int64_t unit_bytes = kRowGroup * p.K * int64_t(sizeof(S));
  const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / std::max<int64_t>(1, unit_bytes));
  parallel_for(
      units,
      [&](int64_t u0, int64_t u1) {
        const int64_t n0 = u0 * kRowGroup, n1 = std::min(p.N, u1 * kRowGroup);
        if constexpr (std::is_same_v<D, WFp8>) {
          // One 128-row band at a time: x scaled by that band's per-column-block scales.
          thread_local std::vector<float> xs;
          xs.resize(size_t(p.M * kpad));
          for (int64_t b0 = n0; b0 < n1;) {
            const int64_t band = b0 / kFp8Block, b1 = std::min(n1, (band + 1) * kFp8Block);
            const float* srow = p.scale + band * p.scale_ld;
            for (int64_t m = 0; m < p.M; ++m)
              for (int64_t k = 0; k < kpad; k += kFp8Block) {  // one GEMV step = one scale block
                const VecF s = vbroadcast(srow[k / kFp8Block] * Weights<D>::kUnscale);
                for (int64_t i = k; i < k + kFp8Block; i += kLanes)
                  vstore(xs.data() + m * kpad + i, vmul(vload(xp + m * kpad + i), s));
              }
            gemv_rows<D>(w, p.ldw, b0, b1, p.K, xs.data(), p.M, p.bias, p.y, p.ldy);
            b0 = b1;
          }
        } else {
          gemv_rows<D>(w, p.ldw, n0, n1, p.K, xp, p.M, p.bias, p.y, p.ldy);
        }
      },
      grain);
}

template <class D>
void run_gemm(const Problem& p) {
  using S = typename D::Storage;
  blas_single_threaded();
  const S* w = static_cast<const S*>(p.w);
  constexpr bool kWiden = !std::is_same_v<D, WF32>;
  // f32 weights need no buffer: one slab of rows per thread. Narrow weights: tiles of at most
  // 128 rows and about kTileBytes (measured flat between 64 and 256 rows for K = 896..4864), in
  // a multiple of the thread count so that every thread gets the same number of tiles.
  const int64_t threads = num_threads();
  int64_t tile = std::max<int64_t>(kRowGroup, (p.N + threads - 1) / threads);
  if constexpr (kWiden) {
    const int64_t fit = std::clamp<int64_t>(kTileBytes / (4 * p.K), 16, 128);
    const int64_t count = ((p.N + fit - 1) / fit + threads - 1) / threads * threads;
    tile = (p.N + count - 1) / count;
  }
  const int64_t tiles = (p.N + tile - 1) / tile;
  parallel_for(
      tiles,
      [&](int64_t t0, int64_t t1) {
        thread_local std::vector<float> buf;
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t n0 = t * tile, nb = std::min(tile, p.N - n0);
          const float* wt = nullptr;
          int64_t ldt = 0;
          if constexpr (kWiden) {
            buf.resize(size_t(nb * p.K));
            for (int64_t r = 0; r < nb; ++r) {
              const S* src = w + (n0 + r) * p.ldw;
              float* dst = buf.data() + r * p.K;
              if constexpr (std::is_same_v<D, WFp8>) {
                const float* srow = p.scale + (n0 + r) / kFp8Block * p.scale_ld;
                for (int64_t k = 0; k < p.K; k += kFp8Block)
                  convert_row<D>(src + k, std::min(kFp8Block, p.K - k), srow[k / kFp8Block], dst + k);
              } else {
                convert_row<D>(src, p.K, 1.0f, dst);
              }
            }
            wt = buf.data();
            ldt = p.K;
          } else {
            wt = reinterpret_cast<const float*>(w) + n0 * p.ldw;
            ldt = p.ldw;
          }
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(p.M), int(nb), int(p.K), 1.0f, p.x, int(p.ldx), wt,
                      int(ldt), 0.0f, p.y + n0, int(p.ldy));
          if (p.bias)
            for (int64_t m = 0; m < p.M; ++m) {
              float* yr = p.y + m * p.ldy + n0;
              for (int64_t r = 0; r < nb; ++r) yr[r] += p.bias[n0 + r];
            }
        }
      },
      1);
}

template <class D>
void run(const Problem& p) {
  if (p.M <= g_gemv_max_rows.load(std::memory_order_relaxed))
    run_gemv<D>(p);
  else
    run_gemm<D>(p);
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined";
  return std::string(dtype_name(t.dtype())) + shape_str(t.shape());
}

}  // namespace

int64_t cpu::linear_gemv_max_rows() { return g_gemv_max_rows.load(); }
void cpu::set_linear_gemv_max_rows(int64_t m) { g_gemv_max_rows.store(m); }

void linear(Tensor& y, const Tensor& x, const Weight& wt) {
  JANUS_CUDA_DISPATCH((y, x, wt), cuda::linear(y, x, wt));
  const Tensor& w = wt.w;
  // Messages are built only on failure: decode calls this hundreds of times per token.
  auto fail = [&](const std::string& what) {
    cpu::fail(kOp, what + " (y " + describe(y) + ", x " + describe(x) + ", w " + describe(w) + ")");
  };
  if (!w.defined()) fail("weight is undefined");
  if (x.device() != Device::CPU || y.device() != Device::CPU || w.device() != Device::CPU)
    fail("the CPU kernel needs x, y and w on the CPU");
  if (w.dim() != 2 || w.strides()[1] != 1) fail("w must be 2-D [N, K] with contiguous rows");
  const DType wd = w.dtype();
  if (wd != DType::F32 && wd != DType::BF16 && wd != DType::F16 && wd != DType::F8E4M3)
    fail(std::string("w dtype must be f32, bf16, f16 or f8e4m3, got ") + dtype_name(wd));
  if (!x.defined() || x.dtype() != DType::F32 || x.dim() < 1 || x.strides().back() != 1)
    fail("x must be f32 with a contiguous last dim");
  if (!y.defined() || y.dtype() != DType::F32 || y.dim() < 1 || y.strides().back() != 1)
    fail("y must be f32 with a contiguous last dim");
  const int64_t N = w.size(0), K = w.size(1);
  if (x.size(-1) != K) fail("x last dim must equal in_features " + std::to_string(K));
  bool y_ok = y.dim() == x.dim() && y.size(-1) == N;
  for (int d = 0; y_ok && d + 1 < x.dim(); ++d) y_ok = y.size(d) == x.size(d);
  if (!y_ok) {
    Shape want = x.shape();
    want.back() = N;
    fail("y must have shape " + shape_str(want));
  }

  Problem p;
  p.M = 1;  // product of x's leading dims (not numel / K: K may be 0)
  for (int d = 0; d + 1 < x.dim(); ++d) p.M *= x.size(d);
  p.N = N;
  p.K = K;
  if (p.M == 0 || N == 0) return;
  p.x = x.data<float>();
  p.ldx = x.dim() >= 2 ? cpu::row_stride(x, kOp) : K;
  p.y = y.data<float>();
  p.ldy = y.dim() >= 2 ? cpu::row_stride(y, kOp) : N;
  p.w = w.raw();
  p.ldw = w.strides()[0];
  if (p.M > 1 && (p.ldx < K || p.ldy < N)) fail("rows of x or y overlap each other");
  {
    const char* xb = reinterpret_cast<const char*>(p.x);
    const char* yb = reinterpret_cast<const char*>(p.y);
    const char* xe = xb + ((p.M - 1) * p.ldx + K) * 4;
    const char* ye = yb + ((p.M - 1) * p.ldy + N) * 4;
    if (K > 0 && xe > yb && ye > xb) fail("y must not alias x");
  }

  const Tensor& sc = wt.scale_inv;
  if (wd == DType::F8E4M3) {
    const int64_t bn = (N + kFp8Block - 1) / kFp8Block, bk = (K + kFp8Block - 1) / kFp8Block;
    if (!sc.defined()) fail("f8e4m3 weight needs scale_inv " + shape_str({bn, bk}));
    if (sc.device() != Device::CPU || sc.dtype() != DType::F32 || sc.dim() != 2 || sc.size(0) != bn ||
        sc.size(1) != bk || sc.strides()[1] != 1)
      fail("scale_inv must be f32 " + shape_str({bn, bk}) + " with contiguous rows, got " + describe(sc));
    p.scale = sc.data<float>();
    p.scale_ld = sc.strides()[0];
  } else if (sc.defined()) {
    fail(std::string("scale_inv given for a ") + dtype_name(wd) + " weight");
  }

  std::vector<float> bias_f32;
  if (wt.bias.defined()) {
    const Tensor& b = wt.bias;
    if (b.device() != Device::CPU || b.dim() != 1 || b.size(0) != N ||
        (b.dtype() != DType::F32 && b.dtype() != DType::BF16 && b.dtype() != DType::F16))
      fail("bias must be a float vector [" + std::to_string(N) + "], got " + describe(b));
    if (b.dtype() == DType::F32 && b.strides()[0] == 1) {
      p.bias = b.data<float>();
    } else {
      bias_f32 = cpu::to_f32(b);
      p.bias = bias_f32.data();
    }
  }

  if (K == 0) {  // empty sum: y = bias or 0
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t n = 0; n < N; ++n) p.y[m * p.ldy + n] = p.bias ? p.bias[n] : 0.0f;
    return;
  }
  switch (wd) {
    case DType::F32: run<WF32>(p); break;
    case DType::BF16: run<WBf16>(p); break;
    case DType::F16: run<WF16>(p); break;
    default: run<WFp8>(p); break;
  }
}

}  // namespace janus::kernels
