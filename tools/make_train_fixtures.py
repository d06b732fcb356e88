#!/usr/bin/env python3
r"""Generate one-training-step parity fixtures with PyTorch + Hugging Face transformers.

Run (deterministic: a second run writes byte-identical files):

    tools/.venv/bin/python tools/make_train_fixtures.py --out tests/fixtures/train

Every fixture folder is a loadable HF model folder (config.json, model.safetensors in the
released per-expert naming, float32) plus reference.safetensors:

  input_ids        i64 [2, 16]
  targets          i64 [2, 16]  next-token targets, already shifted: targets[b, t] = ids[b, t+1],
                                -100 (ignore_index) at t = T-1 and at masked "prompt" positions
  mtp_targets      i64 [2, 15]  (MTP models) mtp_targets[b, t] = targets[b, t+1]  (token t+2)
  loss             f32 [1]      total = main + lambda * mtp   (what backward() is called on)
  main_loss        f32 [1]      mean CE over the rows whose target != -100
  mtp_loss         f32 [1]      (MTP models) mean CE of the MTP head over its valid rows
  mtp_lambda       f32 [1]      0.3 (DeepSeek-V3 paper, first 10T tokens)
  grad.<name>      f32          d loss / d parameter, for EVERY parameter, released names
  adamw_losses     f32 [10]     total loss before each of 10 torch.optim.AdamW steps
                                (lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight_decay 0.1, every
                                parameter incl. norms, no clipping; the correction bias fixed)
  seq_aux_loss     f32 [1]      (MoE) sequence-wise balance loss with alpha = 1 (see below)
  aux_grad.<gate>  f32 [E, H]   (MoE) d seq_aux_loss / d router weight of every MoE layer

Models
------
llama        LlamaForCausalLM: vocab 64, hidden 32, 2 layers, 4 q / 2 kv heads (head_dim 8),
             intermediate 64, llama3 rope scaling (factor 4, original max 8), rms eps 1e-5.
qwen2        Qwen2ForCausalLM: vocab 64, hidden 32, 2 layers, 4 q / 2 kv heads, q/k/v bias,
             tied embeddings (no lm_head.weight; the embedding's gradient has both uses),
             rope theta 1e6; embeddings N(0, 0.3) (they are also the head).
deepseek_v2  DeepseekV2ForCausalLM: MLA WITHOUT q compression (q_proj; kv_lora 16, nope 8,
             rope 8, v 8, 2 heads), YaRN (factor 4, original max 8, mscale = mscale_all_dim =
             0.707), 3 layers = 1 dense + 2 MoE (16 experts of width 8, softmax router,
             group_limited_greedy: 4 groups by max score, topk_group 2, top-3, no renormalisation,
             routed scale 2.0, 2 shared experts), no MTP. The router gradient flows through the
             top-k softmax values (transformers' DeepseekV2TopkRouter).
deepseek_v3  DeepseekV3ForCausalLM: vocab 64, hidden 32, MLA (q_lora 24, kv_lora 16, nope 8,
             rope 8, v 8, 2 heads), YaRN (factor 4, original max 8, mscale 1/1), 3 layers =
             1 dense + 2 MoE (16 experts of width 8, 4 groups, topk_group 2, top-4, sigmoid, noaux_tc,
             norm_topk_prob, routed scale 2.5, 1 shared expert of width 8, random correction bias
             U(-0.1, 0.1)), + 1 MTP layer (model.layers.3.*, an MoE decoder layer).
             The MTP copies of embed_tokens / shared_head.head are NOT stored: the MTP module
             shares the main embedding and lm_head (paper section 2.2), so their gradients
             include the MTP path.

Exact definitions
-----------------
* Main loss: CE(logits[b, t], targets[b, t]) averaged over valid rows (F.cross_entropy,
  ignore_index -100, reduction mean).
* MTP (depth 1), as llm/model.h and the inference fixtures: h_t = main hidden state AFTER the
  final norm; x_t = eh_proj(cat[enorm(embed(tok_{t+1})), hnorm(h_t)]) for t = 0..T-2; one
  transformers DeepseekV3DecoderLayer(layer_idx = 3) over x (causal, positions 0..T-2, same
  rotary); mtp_logits = lm_head(shared_head.norm(y)); target of row t = token t+2 =
  targets[b, t+1]. mtp_loss = mean CE over valid rows; loss = main + 0.3 * mtp_loss.
* MoE gradient: transformers' DeepseekV3TopkRouter: the top-k SELECTION (sigmoid + bias, group
  limit, top-k) is non-differentiable; combine weights = sigmoid scores gathered at the
  selected experts, / (sum + 1e-20), * 2.5 -- the router gradient flows only through them.
* Sequence-wise balance loss (DeepSeek-V3 paper eq. 17-20), per MoE layer l (main layers then
  the MTP layer) and per sequence b (one batch row, T tokens):
      f_i = N_r / (K_r T) * #{t : expert i among the token's ACTUALLY routed top-K (biased
            selection, group limit)};   s'_{i,t} = s_{i,t} / sum_j s_{j,t} (un-biased scores:
            sigmoid for V3, softmax for V2 where s' = s);
      P_i = mean_t s'_{i,t};   L = alpha * sum_l mean_b sum_i f_i P_i,   alpha = 1 here.
  f is a constant (no gradient); the gradient flows through P into the router (and below).
* Routing margins: for every MoE layer, token and AdamW step the script checks that the
  selection is not a near-tie (k-th vs (k+1)-th allowed biased score, and topk_group-th vs next
  group score, both > 1e-4), so float32 rounding differences cannot flip an expert choice.
* Init: seeded torch.Generator; norms N(1, 0.1); embeddings N(0, 1); lm_head N(0, 2/sqrt(H));
  other matrices N(0, 1/sqrt(fan_in)); router N(0, 1.5/sqrt(H)); correction bias U(-0.1, 0.1).
* float32, CPU, 1 thread, torch.use_deterministic_algorithms(True), eager attention.
"""

import argparse
import json
import math
import os
import shutil

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
from transformers import (  # noqa: E402
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

from make_backbone_fixtures import from_released, named_tensors, to_released  # noqa: E402

B, T = 2, 16
MTP_LAMBDA = 0.3
ADAMW = dict(lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
STEPS = 10
MARGIN = 1e-4


def log(*a):
    print(*a, flush=True)


def cfg_llama():
    c = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, hidden_act="silu",
        max_position_embeddings=128, rms_norm_eps=1e-5, tie_word_embeddings=False,
        attention_bias=False, mlp_bias=False, bos_token_id=0, eos_token_id=1,
        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0,
                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8},
    )
    c.architectures = ["LlamaForCausalLM"]
    c.dtype = torch.float32
    return c


def cfg_deepseek_v3():
    c = DeepseekV3Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, moe_intermediate_size=8,
        num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=2,
        n_shared_experts=1, n_routed_experts=16, routed_scaling_factor=2.5,
        kv_lora_rank=16, q_lora_rank=24, qk_rope_head_dim=8, v_head_dim=8, qk_nope_head_dim=8,
        n_group=4, topk_group=2, num_experts_per_tok=4, first_k_dense_replace=1,
        norm_topk_prob=True, hidden_act="silu", max_position_embeddings=128,
        rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=0, eos_token_id=1,
        rope_parameters={"type": "yarn", "rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                         "original_max_position_embeddings": 8, "beta_fast": 32, "beta_slow": 1,
                         "mscale": 1.0, "mscale_all_dim": 1.0},
        num_nextn_predict_layers=1, topk_method="noaux_tc", scoring_func="sigmoid",
    )
    c.architectures = ["DeepseekV3ForCausalLM"]
    c.dtype = torch.float32
    return c


def cfg_qwen2():
    c = Qwen2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu",
        max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=True,
        use_sliding_window=False, bos_token_id=0, eos_token_id=1,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
    )
    c.architectures = ["Qwen2ForCausalLM"]
    c.dtype = torch.float32
    return c


def cfg_deepseek_v2():
    c = DeepseekV2Config(
        vocab_size=64, hidden_size=32, intermediate_size=64, moe_intermediate_size=8,
        num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=2,
        n_shared_experts=2, n_routed_experts=16, routed_scaling_factor=2.0,
        kv_lora_rank=16, q_lora_rank=None, qk_rope_head_dim=8, v_head_dim=8, qk_nope_head_dim=8,
        n_group=4, topk_group=2, num_experts_per_tok=3, first_k_dense_replace=1,
        topk_method="group_limited_greedy", norm_topk_prob=False, hidden_act="silu",
        max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=1,
        rope_parameters={"type": "yarn", "rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0,
                         "original_max_position_embeddings": 8, "beta_fast": 32, "beta_slow": 1,
                         "mscale": 0.707, "mscale_all_dim": 0.707},
    )
    c.scoring_func = "softmax"
    c.architectures = ["DeepseekV2ForCausalLM"]
    c.dtype = torch.float32
    return c


FIXTURES = {
    "llama": dict(cfg=cfg_llama, cls=LlamaForCausalLM, seed=7001),
    "qwen2": dict(cfg=cfg_qwen2, cls=Qwen2ForCausalLM, seed=7201, emb_std=0.3),
    "deepseek_v3": dict(cfg=cfg_deepseek_v3, cls=DeepseekV3ForCausalLM, seed=7133),
    "deepseek_v2": dict(cfg=cfg_deepseek_v2, cls=DeepseekV2ForCausalLM, seed=7314),
}


class Mtp(torch.nn.Module):
    """DeepSeek-V3 MTP depth 1; embedding and head are the main model's (shared)."""

    def __init__(self, config):
        super().__init__()
        H = config.hidden_size
        self.L = config.num_hidden_layers
        self.enorm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)
        self.hnorm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)
        self.eh_proj = torch.nn.Linear(2 * H, H, bias=False)
        self.layer = DeepseekV3DecoderLayer(config, layer_idx=self.L)
        self.shared_head_norm = DeepseekV3RMSNorm(H, eps=config.rms_norm_eps)

    def released(self):
        """in-memory name -> (released name, tensor)"""
        p = f"model.layers.{self.L}"
        out = {}
        for n, t in named_tensors(self):
            if n.startswith("layer."):
                out[n] = (f"{p}.{n[len('layer.'):]}", t)
            elif n.startswith("shared_head_norm."):
                out[n] = (f"{p}.shared_head.norm.weight", t)
            else:
                out[n] = (f"{p}.{n}", t)
        return out

    def forward(self, model, input_ids, hidden):
        t = input_ids.shape[1]
        emb = model.model.embed_tokens(input_ids[:, 1:])
        x = self.eh_proj(torch.cat([self.enorm(emb), self.hnorm(hidden[:, :-1])], dim=-1))
        pos = torch.arange(t - 1)[None]
        pe = model.model.rotary_emb(x, pos)
        mask = torch.full((t - 1, t - 1), float("-inf")).triu(1)[None, None]
        y = self.layer(x, attention_mask=mask, position_ids=pos, position_embeddings=pe)
        return model.lm_head(self.shared_head_norm(y))


@torch.no_grad()
def init(named, g, H, emb_std=1.0):
    for name, p in named:
        if name.endswith("e_score_correction_bias"):
            p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) * 0.1)
        elif name.endswith("norm.weight"):
            p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
        elif name.endswith(".bias"):
            p.copy_(0.1 * torch.randn(p.shape, generator=g))
        elif "embed_tokens" in name:
            p.copy_(emb_std * torch.randn(p.shape, generator=g))
        elif name == "lm_head.weight":
            p.copy_(2.0 / math.sqrt(H) * torch.randn(p.shape, generator=g))
        elif name.endswith("mlp.gate.weight"):
            p.copy_(1.5 / math.sqrt(H) * torch.randn(p.shape, generator=g))
        else:
            p.copy_(1.0 / math.sqrt(p.shape[-1]) * torch.randn(p.shape, generator=g))


# ----------------------------------------------------------------------------------------
# routing capture (margins, loads, seq-aux loss)
# ----------------------------------------------------------------------------------------

class RouterTap:
    """Records, for every router call, its input rows and outputs (gradient kept)."""

    def __init__(self, gates):
        self.calls = []
        self.hooks = [g.register_forward_hook(self._hook) for g in gates]

    def _hook(self, m, inp, out):
        self.calls.append((m, inp[0].reshape(-1, m.hidden_dim), out))

    def clear(self):
        self.calls = []


def router_scores(m, x):
    """The router's un-biased scores: sigmoid (V3) or softmax (V2)."""
    logits = F.linear(x.float(), m.weight.float())
    return logits.sigmoid() if hasattr(m, "e_score_correction_bias") else logits.softmax(-1)


def margins(m, x):
    with torch.no_grad():
        s = router_scores(m, x)
        v3 = hasattr(m, "e_score_correction_bias")
        sel = s + m.e_score_correction_bias if v3 else s
        G, E = m.num_group, m.num_experts
        if v3:
            gs = sel.view(-1, G, E // G).topk(2, dim=-1)[0].sum(-1)
        else:
            gs = sel.view(-1, G, E // G).max(dim=-1).values
        gsorted = gs.sort(dim=-1, descending=True)[0]
        gmargin = float((gsorted[:, m.topk_group - 1] - gsorted[:, m.topk_group]).min())
        gi = gs.topk(m.topk_group, dim=-1)[1]
        gm = torch.zeros_like(gs).scatter_(1, gi, 1.0)
        mask = gm.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E).bool()
        ssorted = sel.masked_fill(~mask, float("-inf")).sort(dim=-1, descending=True)[0]
        emargin = float((ssorted[:, m.top_k - 1] - ssorted[:, m.top_k]).min())
    return gmargin, emargin


def seq_aux_loss(tap, alpha=1.0):
    total = 0.0
    loads = []
    for m, x, out in tap.calls:
        _, _, idx = out
        s = router_scores(m, x)                                      # [B*T', E]
        n = s.shape[0]
        tl = n // B
        sp = (s / s.sum(-1, keepdim=True)).view(B, tl, -1)
        cnt = torch.zeros(B, m.num_experts)
        cnt.scatter_add_(1, idx.view(B, -1), torch.ones(B, tl * m.top_k))
        loads.append(cnt.sum(0))
        f = cnt * (m.num_experts / (m.top_k * tl))
        P = sp.mean(1)
        total = total + alpha * (f * P).sum(-1).mean()
    return total, loads


# ----------------------------------------------------------------------------------------
# one fixture
# ----------------------------------------------------------------------------------------

def make_targets(ids, g, V):
    tg = torch.full_like(ids, -100)
    tg[:, :-1] = ids[:, 1:]
    tg[0, :4] = -100                                   # a "prompt" not trained on
    drop = torch.randperm(T - 1, generator=g)[:3]  # three random masked rows in row 1
    tg[1, drop] = -100
    return tg


def losses(model, mtp, ids, tg):
    out = model.model(input_ids=ids, use_cache=False)
    hidden = out.last_hidden_state
    logits = model.lm_head(hidden)
    V = logits.shape[-1]
    main = F.cross_entropy(logits.reshape(-1, V), tg.reshape(-1), ignore_index=-100)
    if mtp is None:
        return main, main, None
    ml = mtp(model, ids, hidden)
    mtg = tg[:, 1:]
    mloss = F.cross_entropy(ml.reshape(-1, V), mtg.reshape(-1), ignore_index=-100)
    return main + MTP_LAMBDA * mloss, main, mloss


def build(name, spec, outdir):
    log(f"== {name}")
    cfg = spec["cfg"]()
    cfg._attn_implementation = "eager"
    torch.manual_seed(spec["seed"])
    g = torch.Generator().manual_seed(spec["seed"])
    model = spec["cls"](cfg)
    model.train()
    H = cfg.hidden_size
    init(named_tensors(model), g, H, spec.get("emb_std", 1.0))
    is_v3 = isinstance(model, DeepseekV3ForCausalLM)
    is_moe = is_v3 or isinstance(model, DeepseekV2ForCausalLM)
    mtp = None
    if is_v3:
        mtp = Mtp(cfg)
        init(named_tensors(mtp), g, H)
    ids = torch.randint(2, cfg.vocab_size, (B, T), generator=g)
    tg = make_targets(ids, g, cfg.vocab_size)

    # released-form weights (f32) before any step
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    if cfg.tie_word_embeddings:
        sd.pop("lm_head.weight")
    sd = to_released(sd)
    mtp_names = {}
    if mtp is not None:
        for n, (rn, t) in mtp.released().items():
            mtp_names[n] = rn
        sd.update(to_released({rn: t.detach().clone() for rn, t in mtp.released().values()}))
    file_sd = {k: sd[k].float().contiguous() for k in sorted(sd)}

    # trainable parameters: (released name(s), parameter) -- fused experts map to several names
    params = [(n, p) for n, p in model.named_parameters()]
    if mtp is not None:
        params += [(mtp_names[n], p) for n, p in mtp.named_parameters()]

    gates = []
    if is_moe:
        gates = [l.mlp.gate for l in model.model.layers if hasattr(l.mlp, "gate")]
        if mtp is not None:
            gates.append(mtp.layer.mlp.gate)
    tap = RouterTap(gates)

    opt = torch.optim.AdamW([p for _, p in params], **ADAMW)
    ref = {}
    step_losses = []
    min_g, min_e = float("inf"), float("inf")
    for step in range(STEPS):
        tap.clear()
        opt.zero_grad(set_to_none=True)
        loss, main, mloss = losses(model, mtp, ids, tg)
        for m, x, _ in tap.calls:
            gm, em = margins(m, x)
            min_g, min_e = min(min_g, gm), min(min_e, em)
        loss.backward()
        step_losses.append(float(loss.detach()))
        if step == 0:
            ref["loss"] = loss.detach().reshape(1)
            ref["main_loss"] = main.detach().reshape(1)
            if mloss is not None:
                ref["mtp_loss"] = mloss.detach().reshape(1)
                ref["mtp_lambda"] = torch.tensor([MTP_LAMBDA])
            grads = {}
            for n, p in params:
                grads[n] = p.grad.detach().clone()
            grads = to_released(grads)
            for n, gv in grads.items():
                ref[f"grad.{n}"] = gv.float().contiguous()
            missing = set(file_sd) - set(grads) - {k for k in file_sd if k.endswith("e_score_correction_bias")}
            assert not missing, missing
            log(f"  loss {float(loss.detach()):.6f} main {float(main.detach()):.6f}" +
                (f" mtp {float(mloss.detach()):.6f}" if mloss is not None else ""))
            if is_moe:
                # sequence-wise balance loss and its router gradient, on the step-0 weights
                tap.clear()
                losses(model, mtp, ids, tg)
                aux, loads = seq_aux_loss(tap)
                rg = torch.autograd.grad(aux, [m.weight for m, _, _ in tap.calls])
                ref["seq_aux_loss"] = aux.detach().reshape(1)
                names = [n for n, p in params if n.endswith("mlp.gate.weight")]
                assert len(names) == len(rg)
                for n, gr in zip(names, rg):
                    ref[f"aux_grad.{n}"] = gr.contiguous()
                log(f"  seq_aux_loss (alpha 1) {float(aux.detach()):.6f}; loads " +
                    "; ".join(str([int(v) for v in l]) for l in loads))
        opt.step()
    if is_moe:
        log(f"  routing margins over {STEPS} steps: group {min_g:.3g}, expert {min_e:.3g}")
        assert min_g > MARGIN and min_e > MARGIN, "near-tie routing; change the seed"
    log(f"  adamw losses: {[round(v, 6) for v in step_losses]}")
    assert step_losses[-1] < step_losses[0]

    ref["input_ids"] = ids.to(torch.int64).contiguous()
    ref["targets"] = tg.to(torch.int64).contiguous()
    if is_v3:
        ref["mtp_targets"] = tg[:, 1:].to(torch.int64).contiguous()
    ref["adamw_losses"] = torch.tensor(step_losses, dtype=torch.float32)

    fdir = os.path.join(outdir, name)
    if os.path.isdir(fdir):
        shutil.rmtree(fdir)
    os.makedirs(fdir)
    cfg.save_pretrained(fdir)
    cj = json.load(open(os.path.join(fdir, "config.json")))
    cj.pop("_attn_implementation", None)
    with open(os.path.join(fdir, "config.json"), "w") as f:
        json.dump(cj, f, indent=2, sort_keys=True)
        f.write("\n")
    save_file(file_sd, os.path.join(fdir, "model.safetensors"), metadata={"format": "pt"})
    save_file({k: v.detach().clone().contiguous() for k, v in sorted(ref.items())},
              os.path.join(fdir, "reference.safetensors"), metadata={"format": "pt"})
    for fn in os.listdir(fdir):
        os.chmod(os.path.join(fdir, fn), 0o644)
    size = sum(os.path.getsize(os.path.join(fdir, fn)) for fn in os.listdir(fdir))
    log(f"  wrote {fdir} ({size / 1e6:.2f} MB, {len(file_sd)} tensors)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    only = [s for s in a.only.split(",") if s]
    for name, spec in FIXTURES.items():
        if not only or name in only:
            build(name, spec, a.out)


if __name__ == "__main__":
    main()
