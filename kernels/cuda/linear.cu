// linear() on the GPU: y[M, N] = x[M, K]·Wᵀ (+ bias). Contract in kernels/ops.h, paths in
// cuda_ops.h.
//
// Row-major y = x·Wᵀ is, read column-major, yᵀ[N, M] = W[N, K]·xᵀ: W (row stride ldw) is a
// column-major K×N matrix used transposed, x a column-major K×M matrix, y column-major N×M —
// one cublasSgemm(T, N) with no copies.
// Narrow weights with many x rows are widened to f32 in tiles of whole 128-row bands (at most
// linear_tile_bytes() of scratch) and multiplied tile by tile; the tile costs one read of the narrow
// weights and a write+read of f32, small next to the M·N·K FLOPs once M is past the GEMV range.
#include <atomic>

#include "kernels/cuda/cuda_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda/device.cuh"
#include "kernels/cuda/linear_gemv.cuh"

namespace janus::kernels::cuda {

namespace {

constexpr const char* kOp = "linear";
std::atomic<int64_t> g_tile_bytes{kLinearTileBytes};
constexpr int kThreads = 256;

// dst[r, k] = W[n0 + r, k] as f32 (fp8 with its block scale), dst rows of K floats.
__global__ void widen_kernel(float* dst, WeightView w, int64_t n0, int64_t rows, int64_t K) {
  const int64_t total = rows * K;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / K, k = i - r * K;
    dst[i] = w.at(n0 + r, k);
  }
}

// y[m, n] (+)= bias[n]; `set` writes bias (or 0) instead of adding (K == 0).
__global__ void bias_kernel(float* y, int64_t ldy, int64_t M, int64_t N, const void* bias, DType bdt, int64_t bstride,
                            bool set) {
  const int64_t total = M * N;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t m = i / N, n = i - m * N;
    const float b = bias ? load_float(bias, bdt, n * bstride) : 0.0f;
    float& out = y[m * ldy + n];
    out = set ? b : out + b;
  }
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined";
  return std::string(dtype_name(t.dtype())) + shape_str(t.shape()) + "@" + device_name(t.device());
}

void sgemm(int64_t M, int64_t N, int64_t K, const float* w, int64_t ldw, const float* x, int64_t ldx, float* y,
           int64_t ldy) {
  const float one = 1.0f, zero = 0.0f;
  check_cublas(cublasSgemm(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &one, w, int(ldw), x, int(ldx),
                           &zero, y, int(ldy)),
               kOp, "cublasSgemm");
}

}  // namespace

int64_t linear_tile_bytes() { return g_tile_bytes.load(); }
void set_linear_tile_bytes(int64_t bytes) { g_tile_bytes.store(bytes); }

void linear(Tensor& y, const Tensor& x, const Weight& wt) {
  require_gpu(kOp);
  const Tensor& w = wt.w;
  JANUS_REQUIRE(w.defined(), kOp, "weight is undefined");
  auto ctx = [&] { return " (y " + describe(y) + ", x " + describe(x) + ", w " + describe(w) + ")"; };
  check_on_cuda(y, kOp, "y");
  check_on_cuda(x, kOp, "x");
  check_on_cuda(w, kOp, "w");
  check_on_cuda(wt.scale_inv, kOp, "scale_inv");
  check_on_cuda(wt.bias, kOp, "bias");
  JANUS_REQUIRE(w.dim() == 2 && w.strides()[1] == 1, kOp, "w must be 2-D [N, K] with contiguous rows" + ctx());
  const DType wd = w.dtype();
  JANUS_REQUIRE(wd == DType::F32 || wd == DType::BF16 || wd == DType::F16 || wd == DType::F8E4M3, kOp,
                std::string("w dtype must be f32, bf16, f16 or f8e4m3, got ") + dtype_name(wd) + ctx());
  check_rows_f32(x, kOp, "x");
  check_rows_f32(y, kOp, "y");
  const int64_t N = w.size(0), K = w.size(1);
  JANUS_REQUIRE(x.size(-1) == K, kOp, "x last dim must equal in_features " + std::to_string(K) + ctx());
  bool y_ok = y.dim() == x.dim() && y.size(-1) == N;
  for (int d = 0; y_ok && d + 1 < x.dim(); ++d) y_ok = y.size(d) == x.size(d);
  if (!y_ok) {
    Shape want = x.shape();
    want.back() = N;
    fail(kOp, "y must have shape " + shape_str(want) + ctx());
  }

  int64_t M = 1;
  for (int d = 0; d + 1 < x.dim(); ++d) M *= x.size(d);
  if (M == 0 || N == 0) return;
  int64_t ldx = x.dim() >= 2 ? row_stride(x, kOp) : K;
  int64_t ldy = y.dim() >= 2 ? row_stride(y, kOp) : N;
  JANUS_REQUIRE(M == 1 || (ldx >= K && ldy >= N), kOp, "x and y rows must not overlap" + ctx());
  if (M == 1) ldx = std::max(ldx, K), ldy = std::max(ldy, N);  // one row: stride unused
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  {
    const char* xb = reinterpret_cast<const char*>(xp);
    const char* yb = reinterpret_cast<const char*>(yp);
    const char* xe = xb + ((M - 1) * ldx + K) * 4;
    const char* ye = yb + ((M - 1) * ldy + N) * 4;
    JANUS_REQUIRE(xe <= yb || ye <= xb || K == 0, kOp, "y must not alias x" + ctx());
  }
  const int64_t ldw = w.strides()[0];
  JANUS_REQUIRE(ldw >= K, kOp, "w rows overlap (row stride " + std::to_string(ldw) + " < K)" + ctx());
  const int64_t kIntMax = 0x7fffffff;
  JANUS_REQUIRE(M <= kIntMax && N <= kIntMax && K <= kIntMax && ldx <= kIntMax && ldy <= kIntMax && ldw <= kIntMax, kOp,
                "dimensions beyond cuBLAS's 32-bit range" + ctx());

  const Tensor& sc = wt.scale_inv;
  WeightView wv{w.raw(), ldw, wd, nullptr, 0};
  if (wd == DType::F8E4M3) {
    const Shape ws{(N + 127) / 128, (K + 127) / 128};
    JANUS_REQUIRE(sc.defined(), kOp, "f8e4m3 weight needs scale_inv " + shape_str(ws) + ctx());
    JANUS_REQUIRE(sc.dtype() == DType::F32 && sc.shape() == ws && sc.strides()[1] == 1, kOp,
                  "scale_inv must be f32 " + shape_str(ws) + " with contiguous rows, got " + describe(sc) + ctx());
    wv.scale = sc.data<float>();
    wv.scale_ld = sc.strides()[0];
  } else {
    JANUS_REQUIRE(!sc.defined(), kOp, std::string("scale_inv given for a ") + dtype_name(wd) + " weight" + ctx());
  }

  const void* bias = nullptr;
  DType bdt = DType::F32;
  int64_t bstride = 1;
  if (wt.bias.defined()) {
    const Tensor& b = wt.bias;
    JANUS_REQUIRE(b.dim() == 1 && b.size(0) == N &&
                      (b.dtype() == DType::F32 || b.dtype() == DType::BF16 || b.dtype() == DType::F16),
                  kOp, "bias must be a float vector [" + std::to_string(N) + "], got " + describe(b) + ctx());
    bias = b.raw();
    bdt = b.dtype();
    bstride = b.strides()[0];
  }
  cudaStream_t s = stream();
  auto add_bias = [&](bool set) {
    bias_kernel<<<blocks_for(M * N, kThreads), kThreads, 0, s>>>(yp, ldy, M, N, bias, bdt, bstride, set);
    check_launch(kOp);
  };

  if (K == 0) {  // empty sum: y = bias or 0
    add_bias(true);
    return;
  }
  if (wd == DType::F32) {
    sgemm(M, N, K, w.data<float>(), ldw, xp, ldx, yp, ldy);
    if (bias) add_bias(false);
    return;
  }
  if (M <= kGemvMaxRows) {
    GemvArgs a;
    a.w = w.raw(), a.ldw = ldw, a.wdt = wd, a.scale = wv.scale, a.scale_ld = wv.scale_ld;
    a.x = xp, a.ldx = ldx, a.bias = bias, a.bias_dt = bdt, a.bias_stride = bstride;
    a.y = yp, a.ldy = ldy, a.M = int(M), a.N = N, a.K = K;
    launch_gemv(a, kOp);
    return;
  }
  const int64_t band_bytes = 128 * K * 4;
  const int64_t tile = std::min(N, std::max<int64_t>(1, g_tile_bytes.load() / band_bytes) * 128);
  std::shared_ptr<void> buf = scratch(size_t(tile * K) * 4);
  float* wf = static_cast<float*>(buf.get());
  for (int64_t n0 = 0; n0 < N; n0 += tile) {
    const int64_t nb = std::min(tile, N - n0);
    widen_kernel<<<blocks_for(nb * K, kThreads), kThreads, 0, s>>>(wf, wv, n0, nb, K);
    check_launch(kOp);
    sgemm(M, nb, K, wf, K, xp, ldx, yp + n0, ldy);
  }
  if (bias) add_bias(false);
}

}  // namespace janus::kernels::cuda
