// conv2d(): 2-D convolution, NCHW, as im2col tiles × OpenBLAS sgemm. Contract in kernels/ops.h.
//
// Per image and chunk of output pixels [c0, c0 + n) (the whole image unless its col exceeds
// conv2d_col_bytes()): col[K, n] with K = Cin·kh·kw, col[(ci·kh + i)·kw + j][p] =
// x[ci][oh·s − pad_top + i][ow·s − pad_left + j] (0 outside), filled in parallel over its rows;
// then y[:, c0:c0+n] = W[Cout, K] · col (+ bias) split into (output-channel block × pixel block)
// single-threaded sgemms spread over the thread pool (about 2 blocks per thread: few large calls,
// so OpenBLAS packs each operand rarely). A 1×1 stride-1 unpadded convolution needs no col: the image itself is the
// [Cin, H·W] operand.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/common.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

namespace {

constexpr int64_t kMinChunk = 256;  // pixels per chunk, whatever K is
std::atomic<int64_t> g_col_bytes{cpu::kConv2dColBytes};

void blas_single_threaded() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

// One col row: c[q] = x[oh·s + di][ow·s + dj] (0 outside the image) for the output pixels
// p = c0 + q, q < n, (oh, ow) = (p / Wo, p % Wo). Walks output rows, zero-filling the out-of-image
// parts and copying the in-image run (a memcpy when s = 1).
void im2col_row(float* c, const float* x, int64_t H, int64_t W, int64_t Wo, int64_t s, int64_t di, int64_t dj,
                int64_t c0, int64_t n) {
  // ow range with 0 <= ow·s + dj < W
  const int64_t lo = dj >= 0 ? 0 : (-dj + s - 1) / s;
  const int64_t hi = std::min<int64_t>(Wo, W - dj > 0 ? (W - dj + s - 1) / s : 0);
  for (int64_t p = c0, end = c0 + n; p < end;) {
    const int64_t oh = p / Wo, ow0 = p % Wo, ow1 = std::min<int64_t>(Wo, ow0 + (end - p));
    float* out = c + (p - c0);
    const int64_t ih = oh * s + di;
    if (ih < 0 || ih >= H || lo >= hi) {
      std::fill(out, out + (ow1 - ow0), 0.0f);
    } else {
      const float* xr = x + ih * W + dj;
      const int64_t a = std::clamp(lo, ow0, ow1), b = std::clamp(hi, ow0, ow1);
      std::fill(out, out + (a - ow0), 0.0f);
      if (s == 1) {
        std::copy(xr + a, xr + b, out + (a - ow0));
      } else {
        for (int64_t ow = a; ow < b; ++ow) out[ow - ow0] = xr[ow * s];
      }
      std::fill(out + (b - ow0), out + (ow1 - ow0), 0.0f);
    }
    p += ow1 - ow0;
  }
}

}  // namespace

int64_t cpu::conv2d_col_bytes() { return g_col_bytes.load(); }
void cpu::set_conv2d_col_bytes(int64_t bytes) { g_col_bytes.store(std::max<int64_t>(bytes, 1)); }

void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& opt) {
  if (any_on_cuda(y, x, w, bias)) throw Error("conv2d: CPU only (no CUDA kernel); copy the tensors to the host");
  const char* op = "conv2d";
  cpu::check(x.defined() && x.dtype() == DType::F32 && x.dim() == 4 && x.is_contiguous(), op,
             "x must be contiguous f32 [B, Cin, H, W], got " + shape_str(x.shape()));
  cpu::check(y.defined() && y.dtype() == DType::F32 && y.dim() == 4 && y.is_contiguous(), op,
             "y must be contiguous f32 [B, Cout, Ho, Wo], got " + shape_str(y.shape()));
  cpu::check(w.defined() && w.dim() == 4, op, "w must be [Cout, Cin, kh, kw]");
  cpu::check(opt.stride >= 1 && opt.pad_top >= 0 && opt.pad_bottom >= 0 && opt.pad_left >= 0 && opt.pad_right >= 0, op,
             "stride must be >= 1 and padding >= 0");
  const int64_t B = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t Cout = w.size(0), kh = w.size(2), kw = w.size(3);
  cpu::check(w.size(1) == Cin, op, "w " + shape_str(w.shape()) + " for x " + shape_str(x.shape()));
  const int64_t Hp = H + opt.pad_top + opt.pad_bottom, Wp = W + opt.pad_left + opt.pad_right;
  cpu::check(Hp >= kh && Wp >= kw, op,
             "kernel " + std::to_string(kh) + "x" + std::to_string(kw) + " larger than the padded input " +
                 shape_str(x.shape()));
  const int64_t Ho = (Hp - kh) / opt.stride + 1, Wo = (Wp - kw) / opt.stride + 1;
  cpu::check(y.size(0) == B && y.size(1) == Cout && y.size(2) == Ho && y.size(3) == Wo, op,
             "y " + shape_str(y.shape()) + ", expected " + shape_str({B, Cout, Ho, Wo}));
  cpu::check(!bias.defined() || bias.numel() == Cout, op, "bias " + shape_str(bias.shape()));

  // Weights as f32 [Cout, K] (borrowed when already f32 and contiguous).
  const int64_t K = Cin * kh * kw, P = Ho * Wo;
  cpu::check(w.dtype() == DType::F32 || w.dtype() == DType::BF16 || w.dtype() == DType::F16, op,
             std::string("w must be f32, bf16 or f16, got ") + dtype_name(w.dtype()));
  const Tensor wf = w.dtype() == DType::F32 ? w.contiguous() : w.to(DType::F32).contiguous();
  const float* wp = wf.data<float>();
  const std::vector<float> bv = bias.defined() ? cpu::to_f32(bias) : std::vector<float>();
  if (B == 0 || Cout == 0 || P == 0) return;

  const bool direct = kh == 1 && kw == 1 && opt.stride == 1 && Hp == H && Wp == W;
  // Pixel chunk: the whole image when its col fits the budget.
  const int64_t chunk = direct
                            ? P
                            : std::clamp<int64_t>(g_col_bytes.load() / int64_t(sizeof(float)) / std::max<int64_t>(K, 1),
                                                  std::min<int64_t>(P, kMinChunk), P);
  std::unique_ptr<float[]> col(direct ? nullptr : new float[size_t(K * chunk)]);  // uninitialised
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int s = opt.stride, pt = opt.pad_top, pl = opt.pad_left;
  const int64_t want = 2 * int64_t(num_threads());

  for (int64_t b = 0; b < B; ++b) {
    const float* xb = xp + b * Cin * H * W;
    for (int64_t c0 = 0; c0 < P; c0 += chunk) {
      const int64_t n = std::min(chunk, P - c0);
      const float* src = direct ? xb + c0 : col.get();
      const int64_t ldb = direct ? P : n;
      if (!direct)
        parallel_for(
            K,
            [&](int64_t r0, int64_t r1) {
              for (int64_t r = r0; r < r1; ++r) {  // r = (ci·kh + i)·kw + j
                const int64_t ci = r / (kh * kw), i = (r / kw) % kh, j = r % kw;
                im2col_row(col.get() + r * n, xb + ci * H * W, H, W, Wo, s, i - pt, j - pl, c0, n);
              }
            },
            4);
      // y[:, c0:c0+n] = W · col as (Cout block × pixel block) single-threaded sgemms.
      // Few large calls (OpenBLAS packs each operand once per call): pixel blocks first, output
      // channel blocks only when the pixels alone cannot feed the threads.
      const int64_t nb = std::min(n, std::max<int64_t>(64, (n + want - 1) / want));
      const int64_t nblk = (n + nb - 1) / nb;
      const int64_t mb = nblk >= want ? Cout : std::max<int64_t>(16, Cout / ((want + nblk - 1) / nblk));
      const int64_t nm = (Cout + mb - 1) / mb, nn = (n + nb - 1) / nb;
      parallel_for(nm * nn, [&](int64_t i0, int64_t i1) {
        blas_single_threaded();
        for (int64_t it = i0; it < i1; ++it) {
          const int64_t m0 = (it / nn) * mb, n0 = (it % nn) * nb;
          const int64_t mc = std::min(mb, Cout - m0), ncols = std::min(nb, n - n0);
          float* yt = yp + (b * Cout + m0) * P + c0 + n0;
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(mc), int(ncols), int(K), 1.0f, wp + m0 * K, int(K),
                      src + n0, int(ldb), 0.0f, yt, int(P));
          if (!bv.empty())
            for (int64_t co = 0; co < mc; ++co) {
              float* r = yt + co * P;
              const float bias_v = bv[size_t(m0 + co)];
              for (int64_t q = 0; q < ncols; ++q) r[q] += bias_v;
            }
        }
      });
    }
  }
}

}  // namespace janus::kernels
