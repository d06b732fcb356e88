// Differentiable ops over Var (see var.h). Forward eagerly; backward recorded when needed.
// All float Vars of one call share a dtype (F32 or F64) and are contiguous. Shapes are checked; a
// mismatch throws Error ("ag::<op>: ...") naming the op and the shapes. "[..., K]" means any
// number of leading dims, flattened to rows for the computation. Every output is a fresh
// contiguous tensor except reshape and detach, which view their input's buffer.
// Kernels: one template over float/double per op in autograd/ops_<family>.cpp; GEMMs through
// OpenBLAS (split over the thread pool, single-threaded BLAS per chunk), other heavy loops on
// the thread pool. Reductions accumulate in the value dtype unless stated.
// Results do not depend on the pool size (JANUS_THREADS / core count), bit for bit: every reduction
// runs serially per output element or row, and GEMMs split into blocks fixed by the shape alone
// (test_autograd: AutogradDeterminism compares 1, 2, 3 and 7 threads).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/autograd/var.h"
#include "kernels/ops.h"

namespace janus::kernels::ag {

// ---- GEMM (ops_gemm.cpp) --------------------------------------------------------------------
// Numerics of linear()'s three GEMMs: y = x·wᵀ (reduction over K), dgrad dx = gy·w (over N),
// wgrad dw = gyᵀ·x (over M = rows of x). Accumulation in the value dtype (f32 for F32).
//   kFull  operands as they are (F32 or F64).
//   kBf16  each GEMM operand (x, w, gy) rounded to bf16 (round-to-nearest-even, via f32) before
//          the product; the bias and the output are not rounded.
//   kFp8   DeepSeek-V3 FP8 recipe, emulated exactly: quantise to e4m3 → dequantise → GEMM.
//          Activation-type operands (x, gy) use 1×128 tiles along the reduction dim of their GEMM
//          with scale = max(amax, 1e-4)/448 (kernels::fp8_quantize_rows):
//            forward  x  in 1×128 tiles along K (per row of x)
//            dgrad    gy in 1×128 tiles along N (per row of gy)
//            wgrad    gy and x in 128×1 tiles along M (128 consecutive rows of one column)
//          The weight w uses 128×128 blocks with scale = amax/448 (1 for an all-zero block;
//          kernels::fp8_quantize_blocks), in the forward and in dgrad (the 128×128 blocks of wᵀ
//          are those of w, so the forward's dequantised weight is reused). Partial tiles/blocks at
//          the edges use their own amax. Bias and output are not quantised.
//   F64 values are rounded through f32 first (the GEMM then runs in f64).
// Rounding is straight-through: gradients flow to the unrounded master values (x, w, b).
enum class GemmPrecision { kFull, kBf16, kFp8 };

// y[..., N] = x[..., K] · wᵀ (+ b). w [N, K] (PyTorch layout), b [N] optional (undefined Var).
Var linear(const Var& x, const Var& w, const Var& b = Var(), GemmPrecision p = GemmPrecision::kFull);
// c[M, N] = a[M, K] · b[K, N]; batched when both are 3-D [B, M, K] · [B, K, N].
Var matmul(const Var& a, const Var& b);

// ---- elementwise and reductions (ops_elementwise.cpp) ---------------------------------------
Var add(const Var& a, const Var& b);  // same shape
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var scale(const Var& a, double s);
Var add_scalar(const Var& a, double s);
// a [..., D] + b [D] (bias / per-channel broadcast over the last dim)
Var add_row(const Var& a, const Var& b);
// a [R, D] * w [R] (one scalar per row; MoE combine weights)
Var mul_rows(const Var& a, const Var& w);
Var silu(const Var& x);
Var sigmoid(const Var& x);
Var gelu(const Var& x, bool tanh_approx = false);  // exact: 0.5·x·(1 + erf(x/√2))
Var square(const Var& x);
Var exp(const Var& x);
Var log(const Var& x);
Var tanh(const Var& x);
Var relu(const Var& x);          // gradient 0 at x = 0
Var sum(const Var& x);           // -> [1] (accumulated in double)
Var mean(const Var& x);          // -> [1] (accumulated in double)
Var sum_last(const Var& x);      // [..., D] -> [...] ([D] -> [1])
Var softmax_last(const Var& x);  // over the last dim, max-subtracted
Var log_softmax_last(const Var& x);
Var detach(const Var& x);  // same value (shared buffer), no gradient (stop-gradient)

// ---- shape (ops_shape.cpp) ------------------------------------------------------------------
Var reshape(const Var& x, const Shape& shape);  // one dim may be -1; a view of x's buffer
Var transpose(const Var& x, int d0, int d1);    // result is contiguous; negative dims count from the end
Var slice(const Var& x, int dim, int64_t begin, int64_t end);
Var concat(const std::vector<Var>& xs, int dim);  // a Var may appear more than once

// ---- indexing (ops_index.cpp) ---------------------------------------------------------------
// All index lists are checked against their range (throws Error naming the bad entry).
// out[n, :] = table[ids[n], :]; table [V, D]. Throws for an id outside [0, V). Dense [V, D] grad.
Var embedding(const Var& table, const std::vector<int64_t>& ids);
// out[r, :] = x[rows[r], :]; x [R, D]
Var gather_rows(const Var& x, const std::vector<int64_t>& rows);
// out [n_rows, D] zero, then out[rows[r], :] += x[r, :]; x [rows.size(), D]
Var scatter_add_rows(const Var& x, const std::vector<int64_t>& rows, int64_t n_rows);
// out[t, j] = x[t, idx[t*k + j]]; x [T, E] -> [T, k]
Var take_along_last(const Var& x, const std::vector<int64_t>& idx, int64_t k);

// ---- normalisation (ops_norm.cpp) -----------------------------------------------------------
// x / sqrt(mean(x²) + eps) · w over the last dim; w [D] (undefined: no scale).
Var rms_norm(const Var& x, const Var& w, double eps);
// (x − mean) / sqrt(var + eps) · w + b over the last dim (biased variance); w, b may be undefined.
Var layer_norm(const Var& x, const Var& w, const Var& b, double eps);
// x / max(‖x‖₂, eps) over the last dim (F.normalize).
Var l2_normalize(const Var& x, double eps = 1e-12);

// ---- transformer (ops_attention.cpp) --------------------------------------------------------
// RoPE on x [B, T, H, D] (or [T, H, D]): dims [offset, offset + 2·inv_freq.size()) of every head
// rotated by pos·inv_freq[j] and multiplied by `mscale` (other dims pass through); styles as
// kernels::rope (kHalf pairs j, j + rot/2; kInterleaved pairs 2j, 2j + 1). pos holds T positions
// (shared by the batch) or B·T (one per row, e.g. packed sequences). The angle and cos/sin are
// computed in the value dtype: for F32 exactly as kernels::rope (float32 product pos·inv_freq,
// as transformers), for F64 in double. Backward applies the inverse (transposed) rotation.
Var rope(const Var& x, const std::vector<int64_t>& pos, const std::vector<float>& inv_freq, int offset, RopeStyle style,
         double mscale = 1.0);
// Scaled-dot-product attention. q [B, T, Hq, D], k [B, S, Hkv, D], v [B, S, Hkv, Dv] ->
// [B, T, Hq, Dv] (or all 3-D without B); Hq % Hkv == 0, query head h reads KV head
// h / (Hq / Hkv). causal: query t sees keys ≤ t (needs T == S). segments (optional, [B·T] ids,
// needs T == S): a query sees only keys of its own segment (sequence packing). A query that sees
// no key outputs 0 (and gets zero gradient). Softmax in the value dtype, max-subtracted. The
// forward saves one log-sum-exp per query row ([B, Hq, T]); the backward recomputes the
// probabilities from it (no [T, S] matrix is stored between forward and backward).
Var attention(const Var& q, const Var& k, const Var& v, double scale, bool causal,
              const std::vector<int32_t>& segments = {});

// ---- losses (ops_loss.cpp) ------------------------------------------------------------------
// Mean over the rows whose target != ignore_index of -log softmax(logits[r])[target[r]]
// (log-sum-exp with max subtraction). logits [N, V]; targets outside [0, V) (other than
// ignore_index) throw. Returns [1]; 0 (with zero gradient) when every row is ignored.
Var cross_entropy(const Var& logits, const std::vector<int64_t>& targets, int64_t ignore_index = -100);

// ---- images, NCHW (ops_vision.cpp) ----------------------------------------------------------
// y [B, Cout, Ho, Wo] = conv(x [B, Cin, H, W], w [Cout, Cin, kh, kw]) (+ b [Cout]) with stride
// and per-side zero padding as kernels::conv2d (Conv2dOptions; Ho = (H + pad_top + pad_bottom −
// kh) / stride + 1). im2col × GEMM per image; the backward recomputes the columns.
Var conv2d(const Var& x, const Var& w, const Var& b, const Conv2dOptions& opt);
// GroupNorm over x [B, C, *]: `groups` groups of C/groups consecutive channels, mean and biased
// variance per (image, group) (accumulated in double), · w[c] + b[c]; w, b [C] may be undefined.
// (kernels::group_norm's fused swish is silu() after this.)
Var group_norm(const Var& x, const Var& w, const Var& b, int64_t groups, double eps);
// y [B, C, 2H, 2W][i][j] = x [B, C, H, W][i/2][j/2]; backward sums each 2×2 block.
Var upsample_nearest2x(const Var& x);

}  // namespace janus::kernels::ag
