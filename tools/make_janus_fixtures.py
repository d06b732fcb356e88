#!/usr/bin/env python3
r"""Tiny random Janus (transformers ``janus`` layout) and vision-module references.

Run (deterministic: a second run writes byte-identical files):

    tools/.venv/bin/python tools/make_janus_fixtures.py --out tests/fixtures/janus

Writes
------
``hf/config.json`` + ``hf/model.safetensors``
    ``JanusForConditionalGeneration(JanusConfig)`` saved with ``save_pretrained`` (float32).
    vision: SigLIP-style ViT, image 32 px, patch 8 (4x4 = 16 tokens), hidden 32, 2 layers,
            4 heads, mlp_ratio 4, exact GELU, LN eps 1e-6; aligner depth 2 (32 -> 64 -> 64).
    vq:     LlamaGen VQ, base_channels 32, channel_multiplier (2, 1, 1) (3 levels: 64, 32, 32
            channels, so ResnetBlocks with a 1x1 nin_shortcut occur in both directions),
            num_res_blocks 1, latent 16, codebook 64 x 8, attention at the lowest resolution;
            the decode grid is num_patches^2 = 4x4 codes -> 16x16 px images.
            generation aligner depth 2 (8 -> 64 -> 64), generation head 64 -> 64 -> 64 codes.
    text:   tiny Llama (hidden 64, 2 layers, 4 heads / 2 kv heads, vocab 320, untied lm_head),
            image_token_id 300 (the janusmodel fixtures choose the tokenizer).
``ref_vision.safetensors`` (float32 / int64, computed by transformers, eager attention, CPU):
    pixel_values   f32 [2, 3, 32, 32]  -> image_embeds f32 [2, 16, 64]
                   (model.model.get_image_features(...).pooler_output: ViT incl. post_layernorm,
                   then the aligner)
    image_tokens   i64 [2, 16]         -> decoded_images f32 [2, 3, 16, 16]
                   (model.model.vqmodel.decode: L2-normalised codebook rows, post_quant_conv,
                   decoder; before any postprocessing)
                                       -> gen_embeds f32 [2, 16, 64]
                   (model.prepare_embeddings_for_image_generation: generation_embeddings then
                   generation_aligner)
    vq_pixels      f32 [2, 3, 16, 16]  -> vq_codes i64 [2, 16]     (original LlamaGen rule, see below)
                                       -> vq_codes_hf i64 [2, 16]  (transformers' encode as is)
                   vq_latents f32 [2, 8, 4, 4] = quant_conv(encoder(vq_pixels)) (for diagnosis)
    hidden_states  f32 [2, 5, 64]      -> gen_logits f32 [2, 5, 64] (model.model.generation_head)

Encoder quantisation: transformers vs the original
--------------------------------------------------
The original LlamaGen ``VectorQuantizer`` (``codebook_l2_norm=True``, used by Janus) L2-normalises
both the latent vectors z and the codebook rows before the nearest-neighbour search:
``idx = argmin_j ||z/|z| - e_j/|e_j| ||^2``. transformers' ``JanusVQVAEVectorQuantizer.forward``
(inherited from Chameleon) searches with the raw z and the raw codebook. The decode path
(``get_codebook_entry``) normalises in both. We follow the original (``vq_codes``, computed here
from transformers' own ``quant_conv(encoder(x))`` with the original rule, torch.argmin = first
minimum); the C++ VQ model also has the transformers rule as an option, checked against
``vq_codes_hf``. With random weights the two rules differ on some of the 32 latents (asserted, so
the fixture discriminates them).

Init: every parameter is re-drawn from a seeded generator so that no bias is zero and no norm is
the identity: matrices / conv kernels ~ N(0, 1/fan_in), biases ~ N(0, 0.1^2), norm weights
~ N(1, 0.1^2), norm biases ~ N(0, 0.1^2), embeddings (incl. codebook, positions) ~ N(0, 1).

Checks done on every run (the script fails if one does not hold): the saved folder re-loads with
from_pretrained and reproduces every output bit-exactly; both code rules have a top-1/top-2
distance gap > 2e-4 on every latent (so float32 rounding in another implementation cannot flip a
code); the two rules disagree on at least one latent.
"""

import argparse
import os
import tempfile

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

torch.set_num_threads(1)

import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
from transformers import JanusConfig, JanusForConditionalGeneration  # noqa: E402

SEED = 20261130
B = 2
T_HIDDEN = 5
GAP_MIN = 2e-4  # distances are O(1); float32 latents differ from torch by ~1e-6


def make_config():
    vision = dict(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_channels=3, image_size=32,
        patch_size=8, hidden_act="gelu", layer_norm_eps=1e-6, mlp_ratio=4.0, attention_bias=True,
        projection_dim=64, depth=2, use_qk_norm=False, num_image_tokens=16,
    )
    vq = dict(
        embed_dim=8, num_embeddings=64, double_latent=False, latent_channels=16, in_channels=3,
        base_channels=32, channel_multiplier=[2, 1, 1], num_res_blocks=1, dropout=0.0, out_channels=3,
        projection_dim=64, num_hidden_layers=2, hidden_act="gelu", image_token_embed_dim=64,
    )
    text = dict(
        model_type="llama", vocab_size=320, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, pad_token_id=2,
    )
    return JanusConfig(
        text_config=text, vision_config=vision, vq_config=vq, image_token_id=300, tie_word_embeddings=False
    )


def reinit(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            leaf = name.rsplit(".", 1)[-1]
            is_norm = any(s in name for s in ("norm", "layernorm")) and p.dim() == 1
            if p.dim() == 1 and is_norm and leaf == "weight":
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embedding" in name or "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)


def l2_codes(z_nchw, codebook):
    """Original LlamaGen VectorQuantizer (l2_norm=True): normalise z and the codebook, argmin."""
    z = z_nchw.permute(0, 2, 3, 1).reshape(-1, z_nchw.shape[1])
    z = F.normalize(z, p=2, dim=-1)
    e = F.normalize(codebook, p=2, dim=-1)
    d = (z**2).sum(1, keepdim=True) + (e**2).sum(1) - 2 * z @ e.t()
    return d, torch.argmin(d, dim=1)


def raw_distances(z_nchw, codebook):
    z = z_nchw.permute(0, 2, 3, 1).reshape(-1, z_nchw.shape[1])
    return (z**2).sum(1, keepdim=True) + (codebook**2).sum(1) - 2 * z @ codebook.t()


@torch.no_grad()
def min_gap(d):
    top2 = torch.topk(d, 2, dim=1, largest=False).values
    return float((top2[:, 1] - top2[:, 0]).min())


@torch.no_grad()
def compute(model, inputs):
    m = model.model
    out = {}
    out["image_embeds"] = m.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
    out["decoded_images"] = m.vqmodel.decode(inputs["image_tokens"])
    out["gen_embeds"] = model.prepare_embeddings_for_image_generation(inputs["image_tokens"])
    enc = m.vqmodel.encode(inputs["vq_pixels"])
    latents = m.vqmodel.quant_conv(m.vqmodel.encoder(inputs["vq_pixels"]))
    out["vq_latents"] = latents
    out["vq_codes_hf"] = enc.image_tokens.view(B, -1).to(torch.int64)
    _, codes = l2_codes(latents, m.vqmodel.quantize.embedding.weight)
    out["vq_codes"] = codes.view(B, -1).to(torch.int64)
    out["gen_logits"] = m.generation_head(inputs["hidden_states"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/fixtures/janus")
    args = ap.parse_args()

    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cfg = make_config()
    model = JanusForConditionalGeneration(cfg).eval()
    model.config._attn_implementation = "eager"
    model.model.vision_model.config._attn_implementation = "eager"
    reinit(model, gen)

    vq_size = cfg.vq_config.num_patches * 2 ** (len(cfg.vq_config.channel_multiplier) - 1)
    inputs = {
        "pixel_values": torch.rand((B, 3, 32, 32), generator=gen) * 2 - 1,
        "image_tokens": torch.randint(0, cfg.vq_config.num_embeddings, (B, 16), generator=gen),
        "vq_pixels": torch.rand((B, 3, vq_size, vq_size), generator=gen) * 2 - 1,
        "hidden_states": torch.randn((B, T_HIDDEN, cfg.text_config.hidden_size), generator=gen),
    }
    out = compute(model, inputs)

    cb = model.model.vqmodel.quantize.embedding.weight
    with torch.no_grad():
        d_l2, _ = l2_codes(out["vq_latents"], cb)
        d_raw = raw_distances(out["vq_latents"], cb)
    g_l2, g_raw = min_gap(d_l2), min_gap(d_raw)
    n_diff = int((out["vq_codes"] != out["vq_codes_hf"]).sum())
    print(f"code gaps: l2 {g_l2:.4g}, raw {g_raw:.4g}; rules differ on {n_diff}/{out['vq_codes'].numel()} latents")
    assert g_l2 > GAP_MIN and g_raw > GAP_MIN, "pick another seed: a code is nearly tied"
    assert n_diff > 0, "the fixture must distinguish the two quantisation rules"

    hf_dir = os.path.join(args.out, "hf")
    os.makedirs(hf_dir, exist_ok=True)
    model.save_pretrained(hf_dir, safe_serialization=True)

    # Re-load the folder and reproduce every output bit-exactly.
    m2 = JanusForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="eager")
    out2 = compute(m2.eval(), inputs)
    for k, v in out.items():
        assert torch.equal(v, out2[k]), f"reload changed {k}"

    ref = {k: v.contiguous() for k, v in inputs.items()}
    ref.update({k: v.contiguous() for k, v in out.items()})
    save_file(ref, os.path.join(args.out, "ref_vision.safetensors"), metadata={"format": "pt"})
    for k, v in sorted(ref.items()):
        print(f"{k:16s} {str(v.dtype):14s} {list(v.shape)}")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"parameters: {n_params} ({n_params * 4 / 1e6:.2f} MB f32)")


if __name__ == "__main__":
    main()
