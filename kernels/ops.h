// The ops the models run. One declaration here, a CPU kernel in cpu/, a CUDA kernel in cuda/
// when it matters on GPU, and a test against a float64 reference in tests/kernels/.
//
// Conventions (all ops):
// - Destination first. Activations are float32, row-major, last dimension contiguous (rows may
//   be strided: the row stride is taken from the tensor). Shapes are checked; a mismatch throws
//   Error naming the op and both shapes.
// - Weights may be f32, bf16, f16, or fp8 e4m3 with block scales (see Weight).
// - Ops dispatch on the device of their tensors; all tensors of one call share a device.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/tensor.h"

namespace janus::kernels {

// A linear layer's parameters: w [N, K] (out × in, as stored by PyTorch), optional
// scale_inv [ceil(N/128), ceil(K/128)] f32 when w is fp8 e4m3 (DeepSeek-V3 block scheme:
// real weight = fp8 value × scale_inv of its 128×128 block), optional bias [N].
struct Weight {
  Tensor w, scale_inv, bias;
  int64_t out_features() const { return w.size(0); }
  int64_t in_features() const { return w.size(1); }
};

// y[M, N] = x[M, K] · Wᵀ (+ bias). FP8 weights are read as stored (dequantised per block inside
// the kernel, never copied to a wider dtype). f32 weights go through the CPU BLAS.
void linear(Tensor& y, const Tensor& x, const Weight& w);

// Rows [row0, row0 + n) of a linear weight as float32 into dst [n, K] (fp8 applies its block
// scales). For kernels that consume weights in other shapes than x·Wᵀ (MLA absorption).
void weight_rows_f32(float* dst, const Weight& w, int64_t row0, int64_t n);

// y = x / sqrt(mean(x²) + eps) * weight over the last dim; weight [D] in any float dtype.
void rms_norm(Tensor& y, const Tensor& x, const Tensor& weight, float eps);
// y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim (biased variance).
void layer_norm(Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

// y = silu(gate) * up (SwiGLU's elementwise half). y may alias gate.
void silu_mul(Tensor& y, const Tensor& gate, const Tensor& up);
// y = gelu(x), exact (erf) or tanh approximation.
void gelu(Tensor& y, const Tensor& x, bool tanh_approx = false);
// y = a + b (same shapes); y may alias a or b.
void add(Tensor& y, const Tensor& a, const Tensor& b);
// y += s * x
void axpy(Tensor& y, float s, const Tensor& x);
// Softmax over the last dim, in place.
void softmax_rows(Tensor& x);

// y[n, :] = table[ids[n], :]; table [V, D] any float dtype. Throws for an id outside [0, V).
void embedding(Tensor& y, const Tensor& table, const int64_t* ids, int64_t n);

// Rotary position embedding, in place, on x [T, H, D]: dims [offset, offset + rot_dim) of every
// head are rotated by angle pos[t] · inv_freq[j] (rot_dim/2 frequencies) and the result is
// multiplied by `scale` (YaRN's cos/sin factor, 1 otherwise).
// kHalf pairs dim j with j + rot_dim/2 (Llama/Qwen "rotate_half"); kInterleaved pairs 2j with
// 2j+1 (DeepSeek checkpoints, GPT-J).
enum class RopeStyle { kHalf, kInterleaved };
void rope(Tensor& x, const int64_t* pos, const std::vector<float>& inv_freq, int offset, RopeStyle style,
          float scale = 1.0f);

// Causal scaled-dot-product attention with grouped KV heads.
// q [T, Hq, D], k [S, Hkv, D], v [S, Hkv, Dv] (rows may be strided, e.g. views into one cache
// buffer), out [T, Hq, Dv]. Hq % Hkv == 0; query head h reads KV head h / (Hq / Hkv).
// Query t sits at absolute position q_pos0 + t and sees keys 0 .. q_pos0 + t (keys are positions
// 0 .. S-1). Softmax in float32 with max subtraction.
void attention(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, float scale, int64_t q_pos0);

// Multi-head latent attention in DeepSeek's absorbed form, directly over the latent cache.
// q_nope [T, H, dn], q_pe [T, H, dr] (RoPE applied), cache [S, C + dr] whose rows are
// (kv_norm(latent) | roped k_pe), kv_b the checkpoint's kv_b_proj [H·(dn + dv), C].
// For each head: q_lat = W_UKᵀ q_nope; scores = scale·(q_lat·latent + q_pe·k_pe) (causal as
// attention()); o_lat = Σ p·latent; out [T, H, dv] = W_UV o_lat. Equal to the naive form.
void mla_attention_absorbed(Tensor& out, const Tensor& q_nope, const Tensor& q_pe, const Tensor& cache,
                            const Weight& kv_b, float scale, int64_t q_pos0);

// MoE routing (DeepSeek V2/V3). logits [T, E] f32 (router output). Writes expert ids
// [T, top_k] (i32) and weights [T, top_k] (f32).
struct MoeRouting {
  enum class Score { kSoftmax, kSigmoid } score = Score::kSoftmax;
  int top_k = 1;
  int n_group = 1;                 // expert groups; 1 = no group limit
  int topk_group = 1;              // groups kept per token
  bool group_by_top2_sum = false;  // V3 (bias present): sum of top-2 per group; else max
  bool normalize = false;          // renormalise the top-k weights to sum 1
  float scaling = 1.0f;            // routed_scaling_factor
};
// bias: optional [E] f32 (e_score_correction_bias): added for selection only.
void moe_route(Tensor& ids, Tensor& weights, const Tensor& logits, const Tensor& bias, const MoeRouting& cfg);

// FP8 e4m3 block quantisation (DeepSeek-V3 scheme). Activations: 1×128 tiles per row,
// scale = max(amax, 1e-4) / 448. Weights: 128×128 blocks, scale_inv = amax / 448.
void fp8_quantize_rows(Tensor& q /*u8/f8 [M,K]*/, Tensor& scales /*[M, ceil(K/128)]*/, const Tensor& x);
void fp8_quantize_blocks(Tensor& q /*[N,K]*/, Tensor& scale_inv /*[ceil(N/128), ceil(K/128)]*/, const Tensor& w);
// Full dequantised copy (for tests, conversion tools; models use linear() directly).
Tensor fp8_dequantize(const Tensor& q, const Tensor& scale_inv);

// ---------------------------------------------------------------------------------------------
// Vision ops (SigLIP ViT, LlamaGen VQ model). Images are NCHW float32, contiguous.
// CPU kernels: cpu/conv2d.cpp, cpu/group_norm.cpp, cpu/upsample.cpp, cpu/vision_elementwise.cpp.
// ---------------------------------------------------------------------------------------------

// Zero padding per side and stride of a 2-D convolution (PyTorch's F.pad(x, (left, right, top,
// bottom)) followed by Conv2d(padding=0) when the sides differ, as LlamaGen's Downsample).
struct Conv2dOptions {
  int stride = 1;
  int pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  static Conv2dOptions symmetric(int stride, int pad) { return {stride, pad, pad, pad, pad}; }
};

// y [B, Cout, Ho, Wo] = conv(x [B, Cin, H, W], w [Cout, Cin, kh, kw]) (+ bias [Cout]), i.e.
// PyTorch's Conv2d (cross-correlation, groups = 1, dilation = 1) with Ho = (H + pad_top +
// pad_bottom - kh) / stride + 1 (same for Wo). x and y contiguous f32; w and bias f32, bf16 or f16
// (widened once per call). im2col + BLAS sgemm blocks on the thread pool (cpu/conv2d.h: knob).
void conv2d(Tensor& y, const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& opt);

// GroupNorm over x [B, C, *] (contiguous f32): channels split into `groups` consecutive groups,
// mean and biased variance over (C/groups) × spatial elements per (image, group) in float64,
// y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c]; then y = y·sigmoid(y) when `silu`
// (the VQ model's Normalize + swish). weight/bias [C], any float dtype. y may alias x.
void group_norm(Tensor& y, const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, float eps,
                bool silu = false);

// Nearest-neighbour 2× upsampling: y [B, C, 2H, 2W][i][j] = x [B, C, H, W][i/2][j/2]
// (F.interpolate(scale_factor=2, mode="nearest")). Contiguous f32.
void upsample_nearest2x(Tensor& y, const Tensor& x);

// y = x · sigmoid(x) elementwise (same shapes, contiguous f32); y may alias x.
void silu(Tensor& y, const Tensor& x);

// Bidirectional (non-causal) multi-head attention: every query sees all S keys.
// q [T, H, D], k [S, H, D], v [S, H, Dv], out [T, H, Dv] (rows may be strided as in attention()).
// Softmax in float32 with max subtraction, scale applied to q·k.
void attention_full(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, float scale);

}  // namespace janus::kernels
