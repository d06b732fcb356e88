#!/usr/bin/env python3
r"""Training references for the tiny Janus model in PyTorch: one step's loss and every parameter
gradient, and the losses of 10 AdamW steps, for both image paths and the VQ tokenizer.

Run (deterministic: a second run writes identical files):

    tools/.venv/bin/python tools/make_train_janus_fixtures.py --out tests/fixtures/train_janus

The model is tests/fixtures/janus/hf (tools/make_janus_fixtures.py: transformers'
JanusForConditionalGeneration, float32, eager attention), loaded with from_pretrained. Each case
runs one forward + backward in float32 on CPU and writes ``<case>.safetensors`` with its inputs,
the loss (f64 scalar as f32 [1] ``loss``) and ``grad.<checkpoint name>`` (f32) for every parameter
that receives a gradient (parameters the case does not use get none and are absent).
Each file also holds ``adamw_losses`` f32 [10]: the loss before each of 10 torch.optim.AdamW steps
over all parameters (lr 1e-3, betas (0.9, 0.95), eps 1e-8, weight_decay 0.1, as
tools/make_train_fixtures.py) starting from the same checkpoint weights.

understanding.safetensors  (Janus understanding path, text CE on answer positions)
    input_ids i64 [B, T] with image_token_id placeholders (16 per row), pixel_values f32
    [B, 3, 32, 32]; embeddings = embed_tokens(input_ids) with the placeholder rows replaced
    (masked_scatter) by aligner(vision_model(pixel_values)); logits = lm_head(language_model(.)).
    targets i64 [B*T]: targets[b*T+t] = input_ids[b, t+1] where t+1 is an answer position, else
    -100; loss = mean CE over the non-ignored rows.
generation.safetensors  (Janus generation path, CE of the generation head on the codes)
    prompt_ids i64 [B, P], image_tokens i64 [B, K]; embeddings = [embed_tokens(prompt);
    generation_aligner(generation_embeddings(codes))] (T = P + K); hidden = language_model(.)
    (after the final norm); gen_logits = generation_head(hidden); loss = mean CE of gen_logits at
    positions P-1 .. P+K-2 against codes 0 .. K-1.
understanding_r1.safetensors, generation_r1.safetensors
    The same two cases on tests/fixtures/janus/r1 (our janus_r1 layout: Janus pathways on a tiny
    DeepSeek-V3 backbone with MLA, MoE and YaRN), one step only (no adamw_losses: over AdamW
    steps a routing margin falls to ~3e-5). Fused MoE expert gradients are written per expert
    (experts.<e>.{gate,up,down}_proj.weight, zero for experts no token reached). Every router call
    is checked to have group- and expert-selection margins > 1e-4.
vq.safetensors  (VQ tokenizer losses, LlamaGen-style with the L2-normalised codebook)
    vq_pixels f32 [B, 3, 16, 16] in [-1, 1]; on transformers' JanusVQVAE modules:
      z = quant_conv(encoder(x)) as rows [B*h*w, E]; zh = F.normalize(z); eh = F.normalize(codebook)
      codes = argmin ||zh - eh_j||^2; q = eh[codes]; z_st = zh + (q - zh).detach()
      x_rec = decoder(post_quant_conv(z_st as NCHW))
      rec = mean((x_rec - x)^2); codebook = mean((q - zh.detach())^2);
      commit = 0.25 * mean((q.detach() - zh)^2); loss = rec + codebook + commit
    Also written: codes i64 [B*h*w], loss_rec, loss_codebook, loss_commit, x_rec, min_code_gap.
    The script asserts a top-1/top-2 distance gap > 2e-4 on every latent, at the first step and
    at each AdamW step, so float32 rounding elsewhere cannot flip a code.
"""

import argparse
import os

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_num_threads(1)

import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
from transformers import JanusForConditionalGeneration  # noqa: E402

SEED = 20261201
B = 2
GAP_MIN = 2e-4
BETA = 0.25
ADAMW = dict(lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)  # as tools/make_train_fixtures.py
ADAMW_STEPS = 10
MARGIN_MIN = 1e-4  # routing scores are O(1); float32 differences between implementations ~1e-6


def grads(model, out):
    """grad.<name> of every parameter with a gradient; transformers-5 fused MoE experts
    (experts.gate_up_proj [E, 2I, H], experts.down_proj [E, H, I]) are written per expert under the
    checkpoint's names (experts.<e>.{gate,up,down}_proj.weight)."""
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        g = p.grad.detach()
        if name.endswith("experts.gate_up_proj"):
            base, inter = name[: -len("gate_up_proj")], g.shape[1] // 2
            for e in range(g.shape[0]):
                out[f"grad.{base}{e}.gate_proj.weight"] = g[e, :inter].clone().contiguous()
                out[f"grad.{base}{e}.up_proj.weight"] = g[e, inter:].clone().contiguous()
        elif name.endswith("experts.down_proj"):
            base = name[: -len("down_proj")]
            for e in range(g.shape[0]):
                out[f"grad.{base}{e}.down_proj.weight"] = g[e].clone().contiguous()
        else:
            out["grad." + name] = g.clone().contiguous()
    return out


class RoutingMargins:
    """Smallest group-selection and expert-selection margins of every DeepSeek-V3 router call
    (selection scores = sigmoid(logits) + e_score_correction_bias), so that float32 rounding in
    another implementation cannot change which experts a token uses."""

    def __init__(self, model):
        self.min_group = self.min_expert = float("inf")
        self.hooks = [m.register_forward_hook(self._hook) for m in model.modules()
                      if type(m).__name__ == "DeepseekV3TopkRouter"]

    def _hook(self, m, inp, out):
        with torch.no_grad():
            x = inp[0].reshape(-1, m.hidden_dim).float()
            sel = F.linear(x, m.weight.float()).sigmoid() + m.e_score_correction_bias
            G, E = m.num_group, m.num_experts
            gs = sel.view(-1, G, E // G).topk(2, dim=-1)[0].sum(-1)
            gsorted = gs.sort(dim=-1, descending=True)[0]
            if m.topk_group < G:
                self.min_group = min(self.min_group, float((gsorted[:, m.topk_group - 1] - gsorted[:, m.topk_group]).min()))
            gi = gs.topk(m.topk_group, dim=-1)[1]
            mask = torch.zeros_like(gs).scatter_(1, gi, 1.0).unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E).bool()
            ssorted = sel.masked_fill(~mask, float("-inf")).sort(dim=-1, descending=True)[0]
            self.min_expert = min(self.min_expert, float((ssorted[:, m.top_k - 1] - ssorted[:, m.top_k]).min()))

    def check(self, what):
        if self.hooks and min(self.min_group, self.min_expert) < MARGIN_MIN:
            raise AssertionError(f"{what}: routing margin {min(self.min_group, self.min_expert):.3g} < {MARGIN_MIN}")


def understanding(model, gen):
    """Inputs and a loss closure (model -> (loss, extra outputs))."""
    cfg = model.config
    img = cfg.image_token_id
    n_img = cfg.vision_config.num_image_tokens
    V = cfg.text_config.vocab_size
    # [bos] prompt(3) [image x16] question(4) answer(6)
    rows, targets = [], []
    for _ in range(B):
        words = lambda n: torch.randint(3, 290, (n,), generator=gen)  # noqa: E731  (below image id)
        ids = torch.cat([torch.tensor([0]), words(3), torch.full((n_img,), img), words(4), words(6)])
        rows.append(ids)
    input_ids = torch.stack(rows)
    T = input_ids.shape[1]
    answer_start = T - 6
    tgt = torch.full((B, T), -100, dtype=torch.int64)
    tgt[:, answer_start - 1 : T - 1] = input_ids[:, answer_start:T]
    pixel_values = torch.rand((B, 3, 32, 32), generator=gen) * 2 - 1
    inputs = {"input_ids": input_ids, "pixel_values": pixel_values, "targets": tgt.reshape(-1)}

    def loss_fn(model):
        logits = model(input_ids=input_ids, pixel_values=pixel_values).logits
        loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=-100)
        return loss, {"logits": logits.detach().reshape(B * T, V)}

    return inputs, loss_fn


def generation(model, gen):
    cfg = model.config
    P, K = 6, cfg.vq_config.num_patches**2
    prompt = torch.randint(3, 290, (B, P), generator=gen)
    codes = torch.randint(0, cfg.vq_config.num_embeddings, (B, K), generator=gen)

    def loss_fn(model):
        emb = torch.cat([model.model.language_model.embed_tokens(prompt),
                         model.prepare_embeddings_for_image_generation(codes)], dim=1)
        hidden = model.model.language_model(inputs_embeds=emb).last_hidden_state
        gen_logits = model.model.generation_head(hidden)
        sel = gen_logits[:, P - 1 : P + K - 1]
        loss = F.cross_entropy(sel.reshape(B * K, -1), codes.reshape(-1))
        return loss, {"gen_logits": gen_logits.detach().reshape(B * (P + K), -1)}

    return {"prompt_ids": prompt, "image_tokens": codes}, loss_fn


def vq(model, gen):
    cfg = model.config.vq_config
    size = cfg.num_patches * 2 ** (len(cfg.channel_multiplier) - 1)
    x = torch.rand((B, 3, size, size), generator=gen) * 2 - 1

    def loss_fn(model):
        vqm = model.model.vqmodel
        z = vqm.quant_conv(vqm.encoder(x))
        b, e, h, w = z.shape
        zr = z.permute(0, 2, 3, 1).reshape(-1, e)
        zh = F.normalize(zr, p=2, dim=-1)
        eh = F.normalize(vqm.quantize.embedding.weight, p=2, dim=-1)
        with torch.no_grad():
            d = (zh**2).sum(1, keepdim=True) + (eh**2).sum(1) - 2 * zh @ eh.t()
            codes = torch.argmin(d, dim=1)
            top2 = torch.topk(d, 2, dim=1, largest=False).values
            gap = float((top2[:, 1] - top2[:, 0]).min())
        assert gap > GAP_MIN, f"pick another seed: a code is nearly tied (gap {gap:.3g})"
        q = eh[codes]
        z_st = zh + (q - zh).detach()
        x_rec = vqm.decoder(vqm.post_quant_conv(z_st.reshape(b, h, w, e).permute(0, 3, 1, 2)))
        rec = torch.mean((x_rec - x) ** 2)
        cb = torch.mean((q - zh.detach()) ** 2)
        commit = BETA * torch.mean((q.detach() - zh) ** 2)
        loss = rec + cb + commit
        return loss, {"codes": codes.to(torch.int64), "loss_rec": rec.detach().reshape(1),
                      "loss_codebook": cb.detach().reshape(1), "loss_commit": commit.detach().reshape(1),
                      "x_rec": x_rec.detach(), "min_code_gap": torch.tensor([gap])}

    return {"vq_pixels": x}, loss_fn


def load(path):
    model = JanusForConditionalGeneration.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    return model.eval()  # every dropout is 0; eval only fixes the mode


def run_case(path, make, gen, adamw=True):
    model = load(path)
    inputs, loss_fn = make(model, gen)
    margins = RoutingMargins(model)
    loss, extra = loss_fn(model)
    loss.backward()
    out = dict(inputs)
    out.update(extra)
    out["loss"] = loss.detach().reshape(1)
    grads(model, out)
    margins.check(f"{path} {make.__name__}")
    if margins.hooks:
        print(f"  routing margins (one step): group {margins.min_group:.3g}, expert {margins.min_expert:.3g}")
    if not adamw:
        return out
    # 10 AdamW steps from the same initial weights (a fresh copy): loss before each step.
    model = load(path)
    margins = RoutingMargins(model)
    opt = torch.optim.AdamW(model.parameters(), **ADAMW)
    losses = []
    for _ in range(ADAMW_STEPS):
        opt.zero_grad(set_to_none=True)
        loss, _ = loss_fn(model)
        losses.append(float(loss.detach()))
        loss.backward()
        opt.step()
    out["adamw_losses"] = torch.tensor(losses, dtype=torch.float32)
    margins.check(f"{path} {make.__name__} adamw")
    if margins.hooks:
        print(f"  routing margins: group {margins.min_group:.3g}, expert {margins.min_expert:.3g}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tests/fixtures/janus/hf")
    ap.add_argument("--model-r1", default="tests/fixtures/janus/r1")
    ap.add_argument("--out", default="tests/fixtures/train_janus")
    args = ap.parse_args()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    # The r1 cases (DeepSeek-V3 backbone) run one step only: over AdamW steps a routing margin
    # falls to ~3e-5, too close to float32 noise for a reliable reference.
    cases = (("understanding", args.model, understanding, True), ("generation", args.model, generation, True),
             ("vq", args.model, vq, True), ("understanding_r1", args.model_r1, understanding, False),
             ("generation_r1", args.model_r1, generation, False))
    for name, path, fn, adamw in cases:
        out = {k: v.contiguous() for k, v in run_case(path, fn, gen, adamw).items()}
        n_grad = sum(1 for k in out if k.startswith("grad."))
        save_file(out, os.path.join(args.out, name + ".safetensors"), metadata={"format": "pt"})
        losses = [round(float(v), 6) for v in out.get("adamw_losses", [])]
        print(f"{name:14s} loss {float(out['loss']):.7g}  {n_grad} parameter gradients; adamw losses {losses}")


if __name__ == "__main__":
    main()
