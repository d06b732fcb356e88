#!/usr/bin/env python3
r"""Generate tiny backbone parity fixtures with Hugging Face transformers.

Run (deterministic: a second run writes byte-identical files):

    tools/.venv/bin/python tools/make_backbone_fixtures.py --out tests/fixtures/backbones
    tools/.venv/bin/python tools/make_backbone_fixtures.py --out DIR --only llama,deepseek_v3

Every fixture is a loadable HF model folder (``config.json`` written by transformers'
``save_pretrained`` of the config, plus ``quantization_config`` for the FP8 one;
``model.safetensors`` in the released checkpoint naming) and an ``expected.safetensors``
with the float32 reference computed by transformers (eager attention, CPU, float32):

  input_ids      i64 [2, 11]   two different random rows (ids in [2, V))
  logits         f32 [2, 11, V]
  hidden_states  f32 [2, 11, H]   last hidden state AFTER the final norm
  mtp_logits     f32 [2, 11, V]   (deepseek_v3, deepseek_v3_fp8 only; see "MTP" below)
  greedy_prompt  i64 [1, 7]
  greedy_tokens  i64 [32]         the 32 tokens greedy (argmax) decoding appends; computed by
                                  a full-recompute argmax loop and cross-checked against
                                  model.generate(do_sample=False) with KV cache. EOS never
                                  occurs in them (asserted), so EOS handling cannot matter.

Fixtures and what they exercise
-------------------------------
llama            LlamaForCausalLM, GQA 4 q / 2 kv heads, head_dim 32, 3 layers, untied head,
                 rope_type "llama3" (factor 8, low 1, high 4, original_max 64; with theta 1e4 and
                 head_dim 32 pairs 0-1 keep their frequency, pairs 2-4 are smoothed, pairs 5-15 are
                 divided by 8). model.safetensors is BF16; the reference is float32 computed from
                 the bf16-rounded weights (so a C++ bf16->f32 path must match to f32 accuracy).
qwen2            Qwen2ForCausalLM, q/k/v bias (o_proj no bias), GQA 4/2, tie_word_embeddings=true
                 (no lm_head.weight in the file), rope theta 1e6, float32 weights.
deepseek_v3      DeepseekV3ForCausalLM, float32. MLA with q compression (q_lora 48, kv_lora 32,
                 nope 24, rope 16, v 20, 4 heads), YaRN (factor 40, original_max 32, beta 32/1,
                 mscale = mscale_all_dim = 1.0: rope pair 0 kept, pair 1 mixed (divisor 1.95),
                 pairs 2-7 divided by 40; softmax scale x 1.873854), 4 layers = 2 dense +
                 2 MoE (16 experts, 4 groups, topk_group 2, top-4, 1 shared, sigmoid, noaux_tc, norm_topk_prob, scale 2.5,
                 non-zero random e_score_correction_bias) + 1 MTP layer (model.layers.4.*).
deepseek_v2      DeepseekV2ForCausalLM, float32. MLA WITHOUT q compression (q_lora_rank null ->
                 self_attn.q_proj; kv_lora 48, nope 16, rope 16, v 24, 4 heads), YaRN factor 16,
                 original_max 64, mscale = mscale_all_dim = 0.707 (divisors 1, 1.45, 2.67, 16 x5;
                 softmax scale x 1.430469),
                 3 layers = 1 dense + 2 MoE, softmax gate, topk_method group_limited_greedy
                 (16 experts, 4 groups, topk_group 2, top-3; group score = per-group MAX),
                 no correction bias, norm_topk_prob false, routed_scaling_factor 16, 2 shared
                 experts (shared width 2 * moe_intermediate_size).
deepseek_v3_fp8  Same architecture family as deepseek_v3 at FP8-friendly sizes (hidden 256,
                 q_lora 256, kv_lora 128, nope 48, rope 32, v 64, 2 heads, dense inter 384,
                 moe inter 128) in the RELEASED FP8 format: every Linear of attention, dense MLP,
                 routed experts, shared experts and the MTP eh_proj is F8_E4M3 with a
                 ``<name>_scale_inv`` f32 [ceil(out/128), ceil(in/128)]; embeddings, lm_head,
                 norms, router gate weights (and the MTP copies of embed/head) are BF16,
                 e_score_correction_bias is F32. Ragged out-dims: q_b 160, kv_a 160, kv_b 224
                 rows (second row-block partial). The reference is transformers float32 on the
                 dequantised weights (fp8 value * block scale_inv), built from the same config
                 without quantization_config. No activation quantisation in the reference.

Checks done on every run (the script fails if one does not hold)
------------------------------------------------------------------
* the written folder re-loads with AutoModelForCausalLM.from_pretrained and reproduces logits,
  hidden states (and, via the MTP block rebuilt from the file, mtp_logits) bit-exactly;
* a second forward is bit-identical; two runs of the script write byte-identical files;
* an independent float64 re-implementation in this file (no transformers; released names,
  interleaved-pair RoPE applied directly to the stored DeepSeek weights, model.py YaRN,
  per-expert MoE with -inf group masking, MTP wiring below) matches expected.safetensors to
  max|diff|/max|ref| < 1e-5 (observed ~1e-6). Swapping in rotate_half on the stored DeepSeek
  weights, dropping mscale^2 or using plain rope frequencies each gives errors of 30-70%;
* greedy: argmax loop == model.generate (KV cache); no EOS (id 1) among the 32 tokens;
  >= 4 distinct tokens; smallest top1-top2 logit gap over the 32 steps > 0.02;
* YaRN fixtures: inv_freq has kept, mixed and fully interpolated pairs; mscale^2 > 1;
* MoE fixtures: the group limit changes the expert set of some tokens; for V3 the correction
  bias changes it too (bias U(-0.25, 0.25); deepseek_v3: bias changes 50 and the group limit
  58 of 64 token-layer pairs; deepseek_v3_fp8: 46 and 47 of 64; deepseek_v2: group limit 21
  of 44). Masking dropped groups with 0.0 instead of -inf changes nothing in
  these fixtures (top_k <= experts with a positive biased score in the kept groups), so they
  do not discriminate 0 vs -inf masking -- unit-test that separately.

Exact definitions used
----------------------
* Init (all fixtures): seeded torch.Generator, every tensor re-initialised:
  RMSNorm weights ~ N(1, 0.1); biases ~ N(0, 0.1); embeddings ~ N(0, emb_std);
  lm_head ~ N(0, head_gain/sqrt(H)); every other matrix (incl. fused experts, router) ~
  N(0, gain/sqrt(fan_in)); e_score_correction_bias ~ U(-bias_amp, bias_amp).
* FP8 block quantisation (weight W [out, in], block 128x128): for block (i, j), amax over the
  elements present (a ragged edge block uses only its real rows/columns, i.e. the same as
  zero-padding to 128): scale_inv[i, j] = amax(|W_block|) / 448 (float32); q = (W / scale_inv) cast to
  float8_e4m3fn (round to nearest even, |W/scale_inv| <= 448 so never saturates);
  dequant W'[r, c] = float(q[r, c]) * scale_inv[r // 128, c // 128]. The model that produces
  the reference holds exactly W'. bf16 tensors: the reference holds float(bf16(W)).
* Expert weights: transformers 5 holds experts fused (mlp.experts.gate_up_proj [E, 2I, H] with
  GATE rows first then UP rows -- its conversion mapping concatenates [gate, up] on dim 1 and
  the forward does ``gate, up = linear(x, gate_up_proj[e]).chunk(2)`` -- and
  mlp.experts.down_proj [E, H, I]). The fixtures are written per expert
  (mlp.experts.E.{gate,up,down}_proj.weight); every folder is re-loaded with from_pretrained
  and must reproduce the logits bit-exactly (FP8: the file is dequantised by this script's
  own loader, see the transformers FP8 note below).

MTP (deepseek_v3, deepseek_v3_fp8), layer index L = num_hidden_layers
-----------------------------------------------------------------------
transformers ignores model.layers.L.*; the MTP block is built here from transformers' own
DeepseekV3DecoderLayer(config, layer_idx=L) (an MoE layer, L >= first_k_dense_replace) plus
enorm, hnorm, shared_head.norm (DeepseekV3RMSNorm, eps = rms_norm_eps), eh_proj (Linear 2H->H,
no bias) and stored copies model.layers.L.embed_tokens.weight == model.embed_tokens.weight and
model.layers.L.shared_head.head.weight == lm_head.weight. Wiring (vLLM deepseek_mtp.py /
SGLang deepseek_nextn.py):
    h_t  = main model final hidden state at t, AFTER model.norm            (t = 0..T-2)
    e_t  = embed(token_{t+1})                       (no zeroing of any position)
    x_t  = eh_proj(cat[enorm(e_t), hnorm(h_t)])     (embedding FIRST, hidden second)
    y    = DecoderLayer(x_0..x_{T-2}) causal, rope positions 0..T-2, same rotary/YaRN as main
    mtp_logits[b, t] = shared_head.head(shared_head.norm(y_t))   -> predicts token t+2
    mtp_logits[b, T-1] = 0 (no token t+1 exists)

What transformers 5.23 does (the C++ follows transformers)
--------------------------------------------------------------
* config.json: rope settings are written as ``rope_parameters`` (incl. rope_theta and
  rope_type; our deepseek dicts also carry the legacy "type": "yarn"); there is no top-level
  ``rope_theta`` / ``rope_scaling`` (released checkpoints have those; a loader needs both).
  DeepSeek configs also get ``head_dim`` = qk_rope_head_dim (NOT the attention head size) and
  ``qk_head_dim`` = nope + rope.
* DeepSeek-V3 RoPE: ``rope_interleave`` = true (default) -> apply_rotary_pos_emb_interleave:
  pairs (x0,x1),(x2,x3),... of the STORED q_rot / k_rot rows are rotated by frequency j = pair
  index; the output is written de-interleaved ([rotated evens | rotated odds]) but q and k are
  permuted alike, so q.k equals the interleaved-pair rotation applied directly to the stored
  weights. DeepSeek-V2 uses view_as_complex on (x0,x1) pairs: same math, interleaved output.
  Llama/Qwen2 use rotate_half (first half / second half), as their checkpoints expect.
* YaRN (both V2 and V3): inv_freq from _compute_yarn_parameters with truncate=True and
  original_max_position_embeddings; low = max(floor(corr(beta_fast)), 0),
  high = min(ceil(corr(beta_slow)), dim-1), corr(r) = dim*ln(orig/(2*pi*r))/(2*ln(theta)),
  ramp[j] = clamp((j-low)/(high-low), 0, 1), inv = inv_interp*ramp + inv_extrap*(1-ramp).
  cos/sin are multiplied by attention_factor = mscale(f, mscale)/mscale(f, mscale_all_dim)
  (= 1.0 here), where mscale(f, m) = 0.1*m*ln(f) + 1 (f > 1).
  Softmax scale = qk_head_dim^-0.5 * mscale(f, mscale_all_dim)^2, applied whenever
  rope_parameters has a non-default rope_type and a non-zero mscale_all_dim, independent of
  sequence length. V2 does exactly the same as V3 (no extra or missing mscale in 5.23).
* RMSNorm: x * rsqrt(mean(x^2) + eps) in f32 then * weight. q_a_layernorm and kv_a_layernorm
  are constructed WITHOUT eps, i.e. always 1e-6, not rms_norm_eps (all fixtures use 1e-6).
* V3 router (DeepseekV3TopkRouter): logits in f32, s = sigmoid(logits), sel = s + bias,
  group score = sum of top-2 of sel per group, keep topk_group groups, experts of other groups
  masked with -inf (5.23 uses -inf, not 0.0), top-k on sel, weights = s (unbiased) gathered,
  / (sum + 1e-20) if norm_topk_prob, * routed_scaling_factor. scoring_func/topk_method are
  ignored by the V3 class (always sigmoid + noaux_tc); they are kept in config.json.
* V2 router (DeepseekV2TopkRouter): s = softmax(logits, f32); "greedy": top-k of s;
  "group_limited_greedy": group score = max of s per group, keep topk_group groups, other
  experts masked with 0.0 (equivalent to -inf since softmax scores are > 0 and
  top_k <= kept experts), top-k; weights = s * routed_scaling_factor. norm_topk_prob is NOT
  read by the V2 class at all (never renormalises). No e_score_correction_bias.
* FP8: transformers' CPU path auto-dequantises (Fp8Dequantize) but derives the block size as
  rows // scale_rows, which is wrong for ragged blocks (our 160-row kv_a -> 80-row blocks,
  silently, max weight error ~0.05; the real 576-row V3 kv_a would raise). The fixture follows
  the released convention (README_WEIGHTS / fp8_cast_bf16: block = 128, index r//128,
  c//128). (Loading pre-quantised FP8 through from_pretrained also needs `accelerate`, which
  tools/.venv does not have.)
* MTP keys: DeepseekV3PreTrainedModel._keys_to_ignore_on_load_unexpected is the hard-coded
  regex model\.layers\.61.*, so for a tiny model the model.layers.{L}.* keys are merely
  reported as UNEXPECTED and dropped (the load still succeeds).
* Seeds / init gains per fixture: see FIXTURES (seed, emb_std, head_gain, gain,
  router_gain, bias_amp); seeds were picked so the greedy checks above hold.
"""

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import tempfile

import torch
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)

import transformers  # noqa: E402

transformers.logging.set_verbosity_error()  # the MTP layer keys are reported as "unexpected"
transformers.utils.logging.disable_progress_bar()
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    DeepseekV2Config,
    DeepseekV2ForCausalLM,
    DeepseekV3Config,
    DeepseekV3ForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)
from transformers.models.deepseek_v3.modeling_deepseek_v3 import (  # noqa: E402
    DeepseekV3DecoderLayer,
    DeepseekV3RMSNorm,
)

B, T = 2, 11
PROMPT_LEN, GREEDY_NEW = 7, 32
FP8_MAX = 448.0
BLOCK = 128


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------
# configs
# ----------------------------------------------------------------------------------------

def cfg_llama():
    c = LlamaConfig(
        vocab_size=300, hidden_size=128, intermediate_size=256, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, hidden_act="silu",
        max_position_embeddings=512, rms_norm_eps=1e-5, tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False, bos_token_id=0, eos_token_id=1,
        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 64},
    )
    c.architectures = ["LlamaForCausalLM"]
    c.dtype = torch.bfloat16
    return c


def cfg_qwen2():
    c = Qwen2Config(
        vocab_size=300, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu",
        max_position_embeddings=1024, rms_norm_eps=1e-6, tie_word_embeddings=True,
        use_sliding_window=False, bos_token_id=0, eos_token_id=1,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    )
    c.architectures = ["Qwen2ForCausalLM"]
    c.dtype = torch.float32
    return c


def cfg_deepseek_v3():
    c = DeepseekV3Config(
        vocab_size=300, hidden_size=96, intermediate_size=192, moe_intermediate_size=32,
        num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=4,
        n_shared_experts=1, n_routed_experts=16, routed_scaling_factor=2.5,
        kv_lora_rank=32, q_lora_rank=48, qk_rope_head_dim=16, v_head_dim=20, qk_nope_head_dim=24,
        n_group=4, topk_group=2, num_experts_per_tok=4, first_k_dense_replace=2,
        norm_topk_prob=True, hidden_act="silu", max_position_embeddings=32 * 40,
        rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1,
        rope_parameters={"type": "yarn", "rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
                         "original_max_position_embeddings": 32, "beta_fast": 32, "beta_slow": 1,
                         "mscale": 1.0, "mscale_all_dim": 1.0},
        num_nextn_predict_layers=1, topk_method="noaux_tc", scoring_func="sigmoid",
    )
    c.architectures = ["DeepseekV3ForCausalLM"]
    c.dtype = torch.float32
    return c


def cfg_deepseek_v2():
    c = DeepseekV2Config(
        vocab_size=300, hidden_size=64, intermediate_size=160, moe_intermediate_size=24,
        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
        n_shared_experts=2, n_routed_experts=16, routed_scaling_factor=16.0,
        kv_lora_rank=48, q_lora_rank=None, qk_rope_head_dim=16, v_head_dim=24, qk_nope_head_dim=16,
        n_group=4, topk_group=2, num_experts_per_tok=3, first_k_dense_replace=1,
        topk_method="group_limited_greedy", norm_topk_prob=False, hidden_act="silu",
        max_position_embeddings=64 * 16, rms_norm_eps=1e-6, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=1,
        rope_parameters={"type": "yarn", "rope_type": "yarn", "rope_theta": 10000.0, "factor": 16.0,
                         "original_max_position_embeddings": 64, "beta_fast": 32, "beta_slow": 1,
                         "mscale": 0.707, "mscale_all_dim": 0.707},
    )
    c.scoring_func = "softmax"
    c.architectures = ["DeepseekV2ForCausalLM"]
    c.dtype = torch.float32
    return c


def cfg_deepseek_v3_fp8():
    c = DeepseekV3Config(
        vocab_size=256, hidden_size=256, intermediate_size=384, moe_intermediate_size=128,
        num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=2,
        n_shared_experts=1, n_routed_experts=16, routed_scaling_factor=2.5,
        kv_lora_rank=128, q_lora_rank=256, qk_rope_head_dim=32, v_head_dim=64, qk_nope_head_dim=48,
        n_group=4, topk_group=2, num_experts_per_tok=4, first_k_dense_replace=2,
        norm_topk_prob=True, hidden_act="silu", max_position_embeddings=32 * 40,
        rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1,
        rope_parameters={"type": "yarn", "rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0,
                         "original_max_position_embeddings": 32, "beta_fast": 32, "beta_slow": 1,
                         "mscale": 1.0, "mscale_all_dim": 1.0},
        num_nextn_predict_layers=1, topk_method="noaux_tc", scoring_func="sigmoid",
    )
    c.architectures = ["DeepseekV3ForCausalLM"]
    c.dtype = torch.bfloat16
    return c


QUANT_CONFIG = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                "weight_block_size": [BLOCK, BLOCK]}

# name -> (config fn, model class, seed, init params, storage)
FIXTURES = {
    "llama": dict(cfg=cfg_llama, cls=LlamaForCausalLM, seed=1001, storage="bf16",
                  emb_std=1.0, head_gain=2.5, gain=1.0),
    "qwen2": dict(cfg=cfg_qwen2, cls=Qwen2ForCausalLM, seed=2003, storage="f32",
                  emb_std=0.3, head_gain=None, gain=1.5),
    "deepseek_v3": dict(cfg=cfg_deepseek_v3, cls=DeepseekV3ForCausalLM, seed=3008, storage="f32",
                        emb_std=1.0, head_gain=2.5, gain=1.0, router_gain=1.5, bias_amp=0.25),
    "deepseek_v2": dict(cfg=cfg_deepseek_v2, cls=DeepseekV2ForCausalLM, seed=4004, storage="f32",
                        emb_std=1.0, head_gain=2.5, gain=1.0, router_gain=2.0),
    "deepseek_v3_fp8": dict(cfg=cfg_deepseek_v3_fp8, cls=DeepseekV3ForCausalLM, seed=5021,
                            storage="fp8", emb_std=1.0, head_gain=2.5, gain=1.0, router_gain=1.5,
                            bias_amp=0.25),
}


# ----------------------------------------------------------------------------------------
# MTP block
# ----------------------------------------------------------------------------------------

class MTPBlock(torch.nn.Module):
    """DeepSeek-V3 MTP layer (see module docstring for the wiring)."""

    def __init__(self, config):
        super().__init__()
        H = config.hidden_size
        L = config.num_hidden_layers
        self.enorm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)
        self.hnorm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)
        self.eh_proj = torch.nn.Linear(2 * H, H, bias=False)
        self.layer = DeepseekV3DecoderLayer(config, layer_idx=L)
        self.shared_head_norm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)

    def released_state_dict(self, prefix, embed_w, head_w):
        sd = {
            f"{prefix}.enorm.weight": self.enorm.weight,
            f"{prefix}.hnorm.weight": self.hnorm.weight,
            f"{prefix}.eh_proj.weight": self.eh_proj.weight,
            f"{prefix}.shared_head.norm.weight": self.shared_head_norm.weight,
            f"{prefix}.embed_tokens.weight": embed_w,
            f"{prefix}.shared_head.head.weight": head_w,
        }
        for k, v in self.layer.state_dict().items():
            sd[f"{prefix}.{k}"] = v
        return sd

    def load_released(self, sd, prefix):
        self.enorm.weight.data.copy_(sd[f"{prefix}.enorm.weight"])
        self.hnorm.weight.data.copy_(sd[f"{prefix}.hnorm.weight"])
        self.eh_proj.weight.data.copy_(sd[f"{prefix}.eh_proj.weight"])
        self.shared_head_norm.weight.data.copy_(sd[f"{prefix}.shared_head.norm.weight"])
        skip = ("enorm.", "hnorm.", "eh_proj.", "embed_tokens.", "shared_head.")
        layer_sd = {}
        for k, v in sd.items():
            if k.startswith(prefix + "."):
                rest = k[len(prefix) + 1:]
                if not rest.startswith(skip):
                    layer_sd[rest] = v
        self.layer.load_state_dict(layer_sd, strict=True)


def causal_mask(n):
    return torch.full((n, n), float("-inf")).triu(1)[None, None]


@torch.no_grad()
def mtp_forward(model, mtp, input_ids, hidden):
    """mtp_logits [B, T, V]; row T-1 zero. hidden = main final hidden (after model.norm)."""
    b, t = input_ids.shape
    emb = model.model.embed_tokens(input_ids[:, 1:])                  # token t+1
    x = mtp.eh_proj(torch.cat([mtp.enorm(emb), mtp.hnorm(hidden[:, :-1])], dim=-1))
    pos = torch.arange(t - 1)[None]
    pe = model.model.rotary_emb(x, pos)
    y = mtp.layer(x, attention_mask=causal_mask(t - 1), position_ids=pos, position_embeddings=pe)
    logits = model.lm_head(mtp.shared_head_norm(y))
    out = torch.zeros(b, t, logits.shape[-1])
    out[:, :-1] = logits
    return out


# ----------------------------------------------------------------------------------------
# init and name conversion
# ----------------------------------------------------------------------------------------

def is_norm(name):
    return name.endswith("norm.weight") or name.endswith("layernorm.weight")


@torch.no_grad()
def init_params(named, g, spec, H):
    for name, p in named:
        if name.endswith("e_score_correction_bias"):
            amp = spec.get("bias_amp", 0.0)
            p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * amp)
        elif is_norm(name):
            p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
        elif name.endswith(".bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
        elif "embed_tokens" in name:
            p.copy_(spec["emb_std"] * torch.randn(p.shape, generator=g))
        elif name == "lm_head.weight":
            p.copy_(spec["head_gain"] / math.sqrt(H) * torch.randn(p.shape, generator=g))
        elif name.endswith("mlp.gate.weight"):
            p.copy_(spec.get("router_gain", 1.0) / math.sqrt(p.shape[-1]) * torch.randn(p.shape, generator=g))
        else:
            assert p.dim() >= 2, name
            p.copy_(spec["gain"] / math.sqrt(p.shape[-1]) * torch.randn(p.shape, generator=g))


def named_tensors(module):
    """Parameters and persistent buffers, in a fixed (sorted) order; shared tensors once."""
    seen, out = set(), []
    items = list(module.named_parameters()) + [(n, b) for n, b in module.named_buffers()
                                                if n in module.state_dict()]
    for n, t in sorted(items, key=lambda x: x[0]):
        if id(t) in seen:
            continue
        seen.add(id(t))
        out.append((n, t))
    return out


FUSED_GU = re.compile(r"^(.*\.mlp\.experts)\.gate_up_proj$")
FUSED_D = re.compile(r"^(.*\.mlp\.experts)\.down_proj$")
PER_EXPERT = re.compile(r"^(.*\.mlp\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")


def to_released(sd):
    """transformers-5 in-memory names (fused experts) -> released per-expert names."""
    out = {}
    for k, v in sd.items():
        m = FUSED_GU.match(k)
        if m:
            E, I2, _ = v.shape
            I = I2 // 2
            for e in range(E):
                out[f"{m.group(1)}.{e}.gate_proj.weight"] = v[e, :I]   # gate rows first
                out[f"{m.group(1)}.{e}.up_proj.weight"] = v[e, I:]
            continue
        m = FUSED_D.match(k)
        if m:
            for e in range(v.shape[0]):
                out[f"{m.group(1)}.{e}.down_proj.weight"] = v[e]
            continue
        out[k] = v
    return out


def from_released(sd):
    """released per-expert names -> transformers-5 fused names."""
    out, experts = {}, {}
    for k, v in sd.items():
        m = PER_EXPERT.match(k)
        if m:
            experts.setdefault(m.group(1), {}).setdefault(int(m.group(2)), {})[m.group(3)] = v
        else:
            out[k] = v
    for pfx, ex in experts.items():
        n = len(ex)
        assert sorted(ex) == list(range(n))
        out[f"{pfx}.gate_up_proj"] = torch.stack(
            [torch.cat([ex[e]["gate_proj"], ex[e]["up_proj"]], 0) for e in range(n)])
        out[f"{pfx}.down_proj"] = torch.stack([ex[e]["down_proj"] for e in range(n)])
    return out


FP8_NAME = re.compile(r"(self_attn\.(q_proj|q_a_proj|q_b_proj|kv_a_proj_with_mqa|kv_b_proj|o_proj)"
                      r"|mlp\.(experts\.\d+\.|shared_experts\.)?(gate_proj|up_proj|down_proj)"
                      r"|\.eh_proj)\.weight$")


def fp8_quantize(w):
    """w f32 [out, in] -> (q float8_e4m3fn, scale_inv f32 [ceil(out/128), ceil(in/128)])."""
    out_d, in_d = w.shape
    nb_r, nb_c = -(-out_d // BLOCK), -(-in_d // BLOCK)
    s = torch.empty(nb_r, nb_c, dtype=torch.float32)
    q = torch.empty(out_d, in_d, dtype=torch.float8_e4m3fn)
    for i in range(nb_r):
        for j in range(nb_c):
            blk = w[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK].float()
            amax = blk.abs().max()
            si = (amax / FP8_MAX) if amax > 0 else torch.tensor(1.0)
            s[i, j] = si
            q[i * BLOCK:(i + 1) * BLOCK, j * BLOCK:(j + 1) * BLOCK] = (blk / s[i, j]).to(torch.float8_e4m3fn)
    return q, s


def fp8_dequantize(q, s):
    """Released convention: W[r, c] = float(q[r, c]) * s[r // 128, c // 128]."""
    out_d, in_d = q.shape
    full = s.repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)[:out_d, :in_d]
    return q.to(torch.float32) * full


def load_released_dequantized(path):
    """Read a released-format safetensors file, dequantising fp8 and upcasting bf16."""
    raw = load_file(path)
    out = {}
    for k, v in raw.items():
        if k.endswith("_scale_inv"):
            continue
        if v.dtype == torch.float8_e4m3fn:
            out[k] = fp8_dequantize(v, raw[k + "_scale_inv"])
        else:
            out[k] = v.to(torch.float32)
    return raw, out


# ----------------------------------------------------------------------------------------
# reference computation and checks
# ----------------------------------------------------------------------------------------

@torch.no_grad()
def forward_all(model, input_ids, mtp=None):
    out = model.model(input_ids=input_ids, use_cache=False)
    hidden = out.last_hidden_state
    logits = model.lm_head(hidden)
    ref = model(input_ids=input_ids, use_cache=False).logits
    assert torch.equal(ref, logits), "lm_head(hidden) != model logits"
    res = {"logits": logits.float().contiguous(), "hidden_states": hidden.float().contiguous()}
    if mtp is not None:
        res["mtp_logits"] = mtp_forward(model, mtp, input_ids, hidden).contiguous()
    return res


@torch.no_grad()
def greedy(model, prompt, n, eos):
    ids = prompt.clone()
    margins = []
    for _ in range(n):
        lg = model(input_ids=ids, use_cache=False).logits[0, -1]
        top = torch.topk(lg, 2).values
        margins.append(float(top[0] - top[1]))
        nxt = int(torch.argmax(lg))
        ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    toks = ids[0, prompt.shape[1]:].clone()
    # cross-check with transformers' generate (KV cache path)
    gen = model.generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                         max_new_tokens=n, min_new_tokens=n, eos_token_id=None, pad_token_id=eos)
    assert torch.equal(gen[0, prompt.shape[1]:], toks), ("generate() differs from argmax loop",
                                                         gen[0, prompt.shape[1]:], toks)
    assert eos not in toks.tolist(), "EOS produced by greedy decoding; change the seed"
    uniq = len(set(toks.tolist()))
    assert uniq >= 4, f"degenerate greedy continuation {toks.tolist()}"
    assert min(margins) > 0.02, f"greedy near-tie (margin {min(margins)}); change the seed"
    return toks, min(margins), uniq


def yarn_report(model, cfg):
    rp = cfg.rope_parameters
    d = cfg.qk_rope_head_dim
    base = rp["rope_theta"]
    plain = 1.0 / (base ** (torch.arange(0, d, 2).float() / d))
    inv = model.model.rotary_emb.inv_freq
    ratio = (plain / inv).tolist()
    att = model.model.rotary_emb.attention_scaling
    sc = model.model.layers[0].self_attn.scaling
    base_sc = (cfg.qk_nope_head_dim + cfg.qk_rope_head_dim) ** -0.5
    kept = sum(1 for r in ratio if abs(r - 1) < 1e-6)
    full = sum(1 for r in ratio if abs(r - rp["factor"]) < 1e-4 * rp["factor"])
    mixed = len(ratio) - kept - full
    log(f"  yarn inv_freq divisors: {[round(r, 4) for r in ratio]}")
    log(f"  yarn kept/mixed/interpolated pairs: {kept}/{mixed}/{full}; cos/sin attention_factor={att}")
    log(f"  softmax scale {sc:.6f} = {base_sc:.6f} * {sc / base_sc:.6f} (mscale^2)")
    assert kept >= 1 and mixed >= 1 and full >= 1
    assert sc / base_sc > 1.05
    return dict(inv_freq_divisors=ratio, softmax_scale=sc, mscale_sq=sc / base_sc)


@torch.no_grad()
def routing_report(model, cfg, input_ids, mtp=None):
    """Count tokens whose expert set depends on the correction bias / on group limiting."""
    captured = []
    hooks = []
    gates = [l.mlp.gate for l in model.model.layers if hasattr(l.mlp, "gate")]
    if mtp is not None:
        gates.append(mtp.layer.mlp.gate)
    for gm in gates:
        hooks.append(gm.register_forward_hook(lambda m, inp, out: captured.append((m, inp[0].detach()))))
    hidden = model.model(input_ids=input_ids, use_cache=False).last_hidden_state
    if mtp is not None:
        mtp_forward(model, mtp, input_ids, hidden)
    for h in hooks:
        h.remove()
    E, G, TG, K = cfg.n_routed_experts, cfg.n_group, cfg.topk_group, cfg.num_experts_per_tok
    stats = dict(tokens=0, bias_changes=0, group_changes=0, nonpos_sel=0, zero_mask_changes=0)
    for m, x in captured:
        x = x.reshape(-1, cfg.hidden_size).float()
        logits = x @ m.weight.float().t()
        _, _, idx = m(x)
        sel = set_rows(idx)
        if isinstance(model, DeepseekV3ForCausalLM):
            s = logits.sigmoid()
            bias = m.e_score_correction_bias
            nob = route_v3(s, torch.zeros_like(bias), G, TG, K)
            nogrp = route_v3(s, bias, G, G, K)
            stats["nonpos_sel"] += int(((s + bias) <= 0).sum())
            stats["bias_changes"] += sum(a != b for a, b in zip(sel, set_rows(nob)))
            zero = route_v3(s, bias, G, TG, K, fill=0.0)
            stats["zero_mask_changes"] += sum(a != b for a, b in zip(sel, set_rows(zero)))
        else:
            s = logits.softmax(-1)
            nogrp = torch.topk(s, K, dim=-1).indices
        stats["group_changes"] += sum(a != b for a, b in zip(sel, set_rows(nogrp)))
        stats["tokens"] += x.shape[0]
    log(f"  routing: {stats['tokens']} token-layer pairs; expert set changed by bias: "
        f"{stats['bias_changes']}, by group limiting: {stats['group_changes']}; "
        f"biased scores <= 0: {stats['nonpos_sel']}; expert set changed if dropped groups were "
        f"masked with 0.0 instead of -inf: {stats['zero_mask_changes']}")
    assert stats["group_changes"] > 0
    if isinstance(model, DeepseekV3ForCausalLM):
        assert stats["bias_changes"] > 0
    return stats


def set_rows(idx):
    return [frozenset(r) for r in idx.tolist()]


def route_v3(s, bias, G, TG, K, fill=float("-inf")):
    sel = s + bias
    E = s.shape[-1]
    gs = sel.view(-1, G, E // G).topk(2, dim=-1).values.sum(-1)
    gi = gs.topk(TG, dim=-1).indices
    gm = torch.zeros_like(gs).scatter_(1, gi, 1.0)
    mask = gm.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E).bool()
    return sel.masked_fill(~mask, fill).topk(K, dim=-1).indices


# ----------------------------------------------------------------------------------------
# building one fixture
# ----------------------------------------------------------------------------------------

def build(name, spec, outdir):
    log(f"== {name}")
    cfg = spec["cfg"]()
    cls = spec["cls"]
    torch.manual_seed(spec["seed"])
    g = torch.Generator().manual_seed(spec["seed"])

    model_cfg = spec["cfg"]()  # a second copy for the in-memory model (eager attention)
    model_cfg._attn_implementation = "eager"
    model = cls(model_cfg).eval()
    H = cfg.hidden_size
    init_params(named_tensors(model), g, spec, H)
    has_mtp = isinstance(model, DeepseekV3ForCausalLM)
    mtp = None
    if has_mtp:
        mtp = MTPBlock(model_cfg).eval()
        init_params(named_tensors(mtp), g, spec, H)
    input_ids = torch.randint(2, cfg.vocab_size, (B, T), generator=g)
    prompt = torch.randint(2, cfg.vocab_size, (1, PROMPT_LEN), generator=g)
    assert not torch.equal(input_ids[0], input_ids[1])

    # released-form state dict (f32 values for now)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if cfg.tie_word_embeddings:
        sd.pop("lm_head.weight")
    sd = to_released(sd)
    L = cfg.num_hidden_layers
    if has_mtp:
        sd.update(to_released({k: v.detach().clone() for k, v in mtp.released_state_dict(
            f"model.layers.{L}", model.model.embed_tokens.weight, model.lm_head.weight).items()}))

    # storage format + the exact values the reference model holds
    storage = spec["storage"]
    file_sd, ref_sd = {}, {}
    for k in sorted(sd):
        v = sd[k].float().contiguous()
        if storage == "f32" or k.endswith("e_score_correction_bias"):
            file_sd[k] = v.clone()
            ref_sd[k] = v.clone()
        elif storage == "bf16" or not FP8_NAME.search(k):
            file_sd[k] = v.to(torch.bfloat16).contiguous()
            ref_sd[k] = file_sd[k].float()
        else:
            q, s = fp8_quantize(v)
            file_sd[k] = q.contiguous()
            file_sd[k + "_scale_inv"] = s.contiguous()
            ref_sd[k] = fp8_dequantize(q, s)
    if storage == "fp8":
        nq = sum(1 for k in file_sd if k.endswith("_scale_inv"))
        log(f"  fp8 tensors: {nq}; e.g. kv_a scale {tuple(file_sd['model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv'].shape)}")
        rel = max(float((ref_sd[k] - sd[k]).norm() / sd[k].norm()) for k in ref_sd if FP8_NAME.search(k))
        log(f"  fp8 worst relative quantisation error {rel:.4f}")

    # load the reference values into the model (and MTP block)
    main_ref = {k: v for k, v in ref_sd.items() if not k.startswith(f"model.layers.{L}.")} if has_mtp else dict(ref_sd)
    fused = from_released(main_ref)
    if cfg.tie_word_embeddings:
        fused["lm_head.weight"] = fused["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(fused, strict=False)
    missing = [m for m in missing if not (cfg.tie_word_embeddings and m == "lm_head.weight")]
    assert not missing and not unexpected, (missing, unexpected)
    if has_mtp:
        mtp_ref = from_released({k: v for k, v in ref_sd.items() if k.startswith(f"model.layers.{L}.")})
        mtp.load_released(mtp_ref, f"model.layers.{L}")
        assert torch.equal(mtp_ref[f"model.layers.{L}.embed_tokens.weight"], model.model.embed_tokens.weight)
        assert torch.equal(mtp_ref[f"model.layers.{L}.shared_head.head.weight"], model.lm_head.weight)

    # reference outputs (twice: must be bit-identical)
    res = forward_all(model, input_ids, mtp)
    res2 = forward_all(model, input_ids, mtp)
    for k in res:
        assert torch.equal(res[k], res2[k]), f"non-deterministic {k}"
    toks, margin, uniq = greedy(model, prompt, GREEDY_NEW, cfg.eos_token_id)

    lg = res["logits"]
    log(f"  logits: max|.| {lg.abs().max():.3f}  std {lg.std():.3f}  "
        f"mean max-softmax-prob {lg.softmax(-1).max(-1).values.mean():.3f}")
    log(f"  hidden: max|.| {res['hidden_states'].abs().max():.3f}  std {res['hidden_states'].std():.3f}")
    if "mtp_logits" in res:
        m = res["mtp_logits"][:, :-1]
        log(f"  mtp_logits: max|.| {m.abs().max():.3f}  std {m.std():.3f}")
    log(f"  greedy: {toks.tolist()}  (unique {uniq}, min top1-top2 margin {margin:.4f})")
    if has_mtp or isinstance(model, DeepseekV2ForCausalLM):
        yarn_report(model, cfg)
        routing_report(model, cfg, input_ids, mtp)
    if isinstance(model, LlamaForCausalLM):
        rp = cfg.rope_parameters
        d = cfg.head_dim
        plain = 1.0 / (rp["rope_theta"] ** (torch.arange(0, d, 2).float() / d))
        log(f"  llama3 inv_freq divisors: {[round(float(r), 4) for r in plain / model.model.rotary_emb.inv_freq]}")

    # write the folder
    fdir = os.path.join(outdir, name)
    if os.path.isdir(fdir):
        shutil.rmtree(fdir)
    os.makedirs(fdir)
    cfg.save_pretrained(fdir)
    cj = json.load(open(os.path.join(fdir, "config.json")))
    if storage == "fp8":
        cj["quantization_config"] = dict(QUANT_CONFIG)
    cj.pop("transformers_version", None)
    cj["transformers_version"] = transformers.__version__
    with open(os.path.join(fdir, "config.json"), "w") as f:
        json.dump(cj, f, indent=2, sort_keys=True)
        f.write("\n")
    save_file(file_sd, os.path.join(fdir, "model.safetensors"), metadata={"format": "pt"})
    expected = {"input_ids": input_ids.to(torch.int64).contiguous(),
                "greedy_prompt": prompt.to(torch.int64).contiguous(),
                "greedy_tokens": toks.to(torch.int64).contiguous()}
    expected.update(res)
    save_file(expected, os.path.join(fdir, "expected.safetensors"), metadata={"format": "pt"})
    for fn in os.listdir(fdir):
        os.chmod(os.path.join(fdir, fn), 0o644)

    # round trip: re-load the written folder and compare
    roundtrip(name, fdir, cls, res, input_ids, storage, has_mtp, cfg)
    return fdir


@torch.no_grad()
def roundtrip(name, fdir, cls, res, input_ids, storage, has_mtp, cfg):
    L = cfg.num_hidden_layers
    if storage == "fp8":
        raw, deq = load_released_dequantized(os.path.join(fdir, "model.safetensors"))
        assert all(raw[k].dtype == torch.float8_e4m3fn for k in raw if k + "_scale_inv" in raw)
        for k in raw:
            if k.endswith("_scale_inv"):
                w = raw[k[:-len("_scale_inv")]]
                assert tuple(raw[k].shape) == (-(-w.shape[0] // BLOCK), -(-w.shape[1] // BLOCK)), k
        tmp = tempfile.mkdtemp()
        try:
            cj = json.load(open(os.path.join(fdir, "config.json")))
            cj.pop("quantization_config")
            cj["dtype"] = "float32"
            json.dump(cj, open(os.path.join(tmp, "config.json"), "w"))
            save_file({k: v.contiguous() for k, v in deq.items()}, os.path.join(tmp, "model.safetensors"))
            m2 = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32, attn_implementation="eager").eval()
        finally:
            shutil.rmtree(tmp)
        sd_file = deq
    else:
        m2 = AutoModelForCausalLM.from_pretrained(fdir, dtype=torch.float32, attn_implementation="eager").eval()
        sd_file = {k: v.float() for k, v in load_file(os.path.join(fdir, "model.safetensors")).items()}
    assert type(m2) is cls, type(m2)
    out = forward_all(m2, input_ids)
    for k in ("logits", "hidden_states"):
        assert torch.equal(out[k], res[k]), f"{name}: round-trip {k} differs: {(out[k] - res[k]).abs().max()}"
    if has_mtp:
        mtp = MTPBlock(m2.config).eval()
        mtp_sd = from_released({k: v for k, v in sd_file.items() if k.startswith(f"model.layers.{L}.")})
        mtp.load_released(mtp_sd, f"model.layers.{L}")
        got = mtp_forward(m2, mtp, input_ids, out["hidden_states"])
        assert torch.equal(got, res["mtp_logits"]), f"{name}: round-trip mtp_logits differs"
    log(f"  round-trip via from_pretrained: identical" + (" (fp8 dequantised by this script)" if storage == "fp8" else ""))
    if storage == "fp8":
        # document transformers' own FP8 CPU dequantisation rule (block = rows // scale_rows),
        # which is wrong for ragged blocks; called directly (the loader itself needs accelerate)
        from transformers.integrations.finegrained_fp8 import Fp8Dequantize
        k = "model.layers.0.self_attn.kv_a_proj_with_mqa.weight"
        try:
            hf = Fp8Dequantize(None)._dequantize_one(raw[k], raw[k + "_scale_inv"], torch.float32)
            log(f"  note: transformers Fp8Dequantize on {tuple(raw[k].shape)} kv_a: "
                f"max|diff| vs released rule {float((hf - deq[k]).abs().max()):.4g}")
        except Exception as e:  # informational only
            log(f"  note: transformers Fp8Dequantize on kv_a fails: {type(e).__name__}: {str(e)[:120]}")


# ----------------------------------------------------------------------------------------
# independent float64 re-implementation (no transformers): reads config.json +
# model.safetensors the way the C++ engine does (released names, interleaved-pair RoPE on the
# stored DeepSeek weights, per-expert MoE, -inf group masking) and checks expected.safetensors
# ----------------------------------------------------------------------------------------

def _rms(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def _lin(W, x, b=None):
    y = x @ W.t()
    return y if b is None else y + b


def _inv_freq(rp, dim):
    theta = rp.get("rope_theta", 10000.0)
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    kind = rp.get("rope_type", rp.get("type", "default"))
    if kind == "llama3":
        f, lo, hi, old = rp["factor"], rp["low_freq_factor"], rp["high_freq_factor"], rp["original_max_position_embeddings"]
        wl = 2 * math.pi / inv
        sm = (old / wl - lo) / (hi - lo)
        out = torch.where(wl > old / lo, inv / f, inv)
        mid = (wl >= old / hi) & (wl <= old / lo)
        return torch.where(mid, (1 - sm) * inv / f + sm * inv, out), 1.0
    if kind == "yarn":  # DeepSeek model.py precompute_freqs_cis
        f, orig = rp["factor"], rp["original_max_position_embeddings"]
        corr = lambda r: dim * math.log(orig / (r * 2 * math.pi)) / (2 * math.log(theta))
        low, high = max(math.floor(corr(rp.get("beta_fast", 32))), 0), min(math.ceil(corr(rp.get("beta_slow", 1))), dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
        inv = inv / f * ramp + inv * (1 - ramp)
        ms = lambda m: 0.1 * m * math.log(f) + 1.0 if f > 1 else 1.0
        return inv, ms(rp.get("mscale_all_dim", 0) or 0) ** 2 if rp.get("mscale_all_dim") else 1.0
    return inv, 1.0


def _rope_half(x, ang):  # x [..., T, heads, d], ang [T, d/2]
    c, s = torch.cos(ang)[:, None], torch.sin(ang)[:, None]
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], -1)


def _rope_pairs(x, ang):  # interleaved pairs (x0,x1),(x2,x3)... rotated in place
    c, s = torch.cos(ang)[:, None], torch.sin(ang)[:, None]
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2], out[..., 1::2] = a * c - b * s, b * c + a * s
    return out


def _attend(q, k, v, scale):  # q [T,h,d] k [T,h,d] v [T,h,dv]
    sc = torch.einsum("thd,shd->hts", q, k) * scale
    t = q.shape[0]
    sc = sc + torch.full((t, t), float("-inf"), dtype=sc.dtype).triu(1)
    return torch.einsum("hts,shd->thd", sc.softmax(-1), v).reshape(t, -1)


def _swiglu(W, p, x):
    return _lin(W[p + "down_proj.weight"], torch.nn.functional.silu(_lin(W[p + "gate_proj.weight"], x)) * _lin(W[p + "up_proj.weight"], x))


def _moe(W, p, x, c):
    E, G, TG, K = c["n_routed_experts"], c.get("n_group") or 1, c.get("topk_group") or 1, c["num_experts_per_tok"]
    logits = _lin(W[p + "gate.weight"], x)
    if c["model_type"] == "deepseek_v3":
        s = logits.sigmoid()
        sel = s + W[p + "gate.e_score_correction_bias"]
        gs = sel.view(-1, G, E // G).topk(2, -1).values.sum(-1)
    else:
        s = logits.softmax(-1)
        sel = s.clone()
        gs = sel.view(-1, G, E // G).max(-1).values
    if c["model_type"] == "deepseek_v3" or c.get("topk_method") == "group_limited_greedy":
        keep = torch.zeros_like(gs).scatter_(1, gs.topk(TG, -1).indices, 1.0).bool()
        sel = sel.masked_fill(~keep.repeat_interleave(E // G, 1), float("-inf"))
    idx = sel.topk(K, -1).indices
    w = s.gather(1, idx)
    if c["model_type"] == "deepseek_v3" and c.get("norm_topk_prob"):
        w = w / w.sum(-1, keepdim=True)
    w = w * c["routed_scaling_factor"]
    out = _swiglu(W, p + "shared_experts.", x)
    for t in range(x.shape[0]):
        for j in range(K):
            out[t] += w[t, j] * _swiglu(W, f"{p}experts.{int(idx[t, j])}.", x[t:t + 1])[0]
    return out


def _layer(W, p, x, c, ang, mscale_sq):
    T = x.shape[0]
    eps = c["rms_norm_eps"]
    nh = c["num_attention_heads"]
    h = _rms(x, W[p + "input_layernorm.weight"], eps)
    a = p + "self_attn."
    if "kv_lora_rank" in c:  # MLA
        nope, rope, vd, kvr = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"], c["kv_lora_rank"]
        if c.get("q_lora_rank"):
            q = _lin(W[a + "q_b_proj.weight"], _rms(_lin(W[a + "q_a_proj.weight"], h), W[a + "q_a_layernorm.weight"], 1e-6))
        else:
            q = _lin(W[a + "q_proj.weight"], h)
        q = q.view(T, nh, nope + rope)
        kv = _lin(W[a + "kv_a_proj_with_mqa.weight"], h)
        lat, kpe = _rms(kv[:, :kvr], W[a + "kv_a_layernorm.weight"], 1e-6), kv[:, kvr:]
        kvb = _lin(W[a + "kv_b_proj.weight"], lat).view(T, nh, nope + vd)
        qq = torch.cat([q[..., :nope], _rope_pairs(q[..., nope:], ang)], -1)
        kk = torch.cat([kvb[..., :nope], _rope_pairs(kpe[:, None, :], ang).expand(T, nh, rope)], -1)
        o = _attend(qq, kk, kvb[..., nope:], (nope + rope) ** -0.5 * mscale_sq)
    else:
        nkv = c["num_key_value_heads"]
        hd = c.get("head_dim") or c["hidden_size"] // nh
        bias = lambda n: W.get(a + n + ".bias")
        q = _lin(W[a + "q_proj.weight"], h, bias("q_proj")).view(T, nh, hd)
        k = _lin(W[a + "k_proj.weight"], h, bias("k_proj")).view(T, nkv, hd)
        v = _lin(W[a + "v_proj.weight"], h, bias("v_proj")).view(T, nkv, hd)
        rep = nh // nkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        o = _attend(_rope_half(q, ang), _rope_half(k, ang), v, hd ** -0.5)
    x = x + _lin(W[a + "o_proj.weight"], o)
    h = _rms(x, W[p + "post_attention_layernorm.weight"], eps)
    li = int(p.split(".")[2])
    if "n_routed_experts" in c and li >= c.get("first_k_dense_replace", 0):
        return x + _moe(W, p + "mlp.", h, c)
    return x + _swiglu(W, p + "mlp.", h)


@torch.no_grad()
def independent_check(fdir):
    c = json.load(open(os.path.join(fdir, "config.json")))
    _, W = load_released_dequantized(os.path.join(fdir, "model.safetensors"))
    W = {k: v.double() for k, v in W.items()}
    exp = load_file(os.path.join(fdir, "expected.safetensors"))
    mla = "kv_lora_rank" in c
    rdim = c["qk_rope_head_dim"] if mla else (c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"])
    inv, mscale_sq = _inv_freq(c.get("rope_parameters") or {}, rdim)
    head = W["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else W["lm_head.weight"]
    L, eps = c["num_hidden_layers"], c["rms_norm_eps"]
    worst = {}
    for b, ids in enumerate(exp["input_ids"]):
        T = ids.shape[0]
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None]
        x = W["model.embed_tokens.weight"][ids]
        for i in range(L):
            x = _layer(W, f"model.layers.{i}.", x, c, ang, mscale_sq)
        hid = _rms(x, W["model.norm.weight"], eps)
        got = {"hidden_states": hid, "logits": hid @ head.t()}
        if c.get("num_nextn_predict_layers"):
            p = f"model.layers.{L}."
            e = W[p + "embed_tokens.weight"][ids[1:]]
            xm = _lin(W[p + "eh_proj.weight"], torch.cat([_rms(e, W[p + "enorm.weight"], eps),
                                                          _rms(hid[:-1], W[p + "hnorm.weight"], eps)], -1))
            y = _layer(W, p, xm, c, ang[:-1], mscale_sq)
            ml = _rms(y, W[p + "shared_head.norm.weight"], eps) @ W[p + "shared_head.head.weight"].t()
            got["mtp_logits"] = torch.cat([ml, torch.zeros(1, ml.shape[1], dtype=ml.dtype)])
        for k, v in got.items():
            ref = exp[k][b].double()
            err = float((v - ref).abs().max() / ref.abs().max())
            worst[k] = max(worst.get(k, 0.0), err)
    log("  independent float64 re-implementation, max|diff|/max|ref|: "
        + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    assert all(v < 1e-5 for v in worst.values()), worst


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/fixtures/backbones")
    ap.add_argument("--only", default="", help="comma-separated subset of " + ",".join(FIXTURES))
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(FIXTURES)
    os.makedirs(args.out, exist_ok=True)
    log(f"torch {torch.__version__}, transformers {transformers.__version__}")
    for n in names:
        fdir = build(n, FIXTURES[n], args.out)
        independent_check(fdir)
        for fn in sorted(os.listdir(fdir)):
            p = os.path.join(fdir, fn)
            log(f"  {fn:22s} {os.path.getsize(p):>9d} B  sha256 {sha256(p)[:16]}")


if __name__ == "__main__":
    main()
