#!/usr/bin/env python3
r"""The tiny Janus of tools/make_janus_fixtures.py in the original `multi_modality` layout, a tiny
tokenizer for it, and multimodal / generation references computed by transformers.

Run after make_janus_fixtures.py (deterministic):

    tools/.venv/bin/python tools/make_janus_mm_fixtures.py --fixtures tests/fixtures/janus

Reads  hf/config.json + hf/model.safetensors (transformers `janus` layout).
Writes
  hf/tokenizer.json, hf/tokenizer_config.json and the same in mm/: a byte-level BPE without merges:
        0 <｜begin▁of▁sentence｜>  1 <｜end▁of▁sentence｜>  2 <｜▁pad▁｜>  3..258 the 256 byte symbols,
        259..299 fillers, 300 <image_placeholder>  301 <begin_of_image>  302 <end_of_image>
        303 <|User|>  304 <|Assistant|>  (ids fixed by hf/config.json: image_token_id 300, pad 2)
  mm/config.json           model_type multi_modality; the timm / LlamaGen preset fields that the
                           release hard-codes are given explicitly in the params (see
                           llm/janus_config.h) so the tiny shapes are expressible
  mm/pytorch_model.bin     torch.save of the renamed state dict (float32), with the release's
                           fused attn.qkv, pos_embed [1, N, D], and its dead weights
                           (vision_tower.attn_pool.*, quantize.codebook_used)
  ref_mm.safetensors       computed by transformers (eager attention, float32):
    mm_input_ids   i64 [1, T]       BOS, text, <begin_of_image>, 16 x <image_placeholder>, <end_of_image>,
                                    text, <begin_of_image>, 16 x placeholder, <end_of_image>, text
    mm_pixel_values f32 [2, 3, 32, 32]
    mm_logits      f32 [1, T, 320]  JanusForConditionalGeneration(input_ids, pixel_values).logits
    mm_hidden      f32 [1, T, 64]   the language model's last_hidden_state (after the final norm)
    mm_gen_logits  f32 [1, T, 64]   generation_head(mm_hidden)
    gen_prompt     i64 [T2]         BOS, text, <begin_of_image> (the t2i prompt)
    gen_uncond     i64 [T2]         BOS, pad..., <begin_of_image>
    gen_codes_cfg5 i64 [1, 16]      greedy (argmax) CFG loop, cfg 5, as janus.md §5 (u + 5 (c - u))
    gen_codes_cond i64 [1, 16]      greedy, conditional row only
    gen_images_cfg5 f32 [1, 3, 16, 16]  vqmodel.decode(gen_codes_cfg5)
    answer_greedy  i64 [8]          greedy text continuation of mm_input_ids + mm_pixel_values
                                    (full forward per step, argmax of the last logits)
  r1/                      our `janus_r1` shape: the same vision/VQ config with a tiny DeepSeek-V3 text_config
                           (MLA with q compression, YaRN, sigmoid-routed MoE + shared expert, group-limited
                           routing, first layer dense), saved by transformers (JanusForConditionalGeneration
                           builds the backbone with AutoModel), re-initialised as make_janus_fixtures.py does,
                           router correction bias ~ U(-0.25, 0.25); plus the tokenizer above
  ref_r1.safetensors       r1_logits / r1_hidden / r1_gen_logits for mm_input_ids + mm_pixel_values, and
                           r1_codes_cfg5 (greedy CFG 5 loop on gen_prompt)
The script asserts that every greedy step has a top-1/top-2 margin > 1e-3 (so float32 rounding in
another implementation cannot flip a code) and that the mm checkpoint reproduces the hf state dict.
"""

import argparse
import collections
import json
import os
import re

import torch
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)
import transformers  # noqa: E402

transformers.logging.set_verbosity_error()
from transformers import JanusForConditionalGeneration  # noqa: E402

MARGIN = 1e-3
SPECIALS = {0: "<｜begin▁of▁sentence｜>", 1: "<｜end▁of▁sentence｜>", 2: "<｜▁pad▁｜>", 300: "<image_placeholder>",
            301: "<begin_of_image>", 302: "<end_of_image>", 303: "<|User|>", 304: "<|Assistant|>"}


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def tokenizer_json():
    vocab = {tok: i for i, tok in SPECIALS.items()}
    for b, ch in sorted(bytes_to_unicode().items()):
        vocab[ch] = 3 + b
    for i in range(259, 300):
        vocab[f"<filler_{i}>"] = i
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in sorted(SPECIALS.items())]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])), "merges": []},
    }


TOKENIZER_CONFIG = {
    "bos_token": SPECIALS[0], "eos_token": SPECIALS[1], "pad_token": SPECIALS[2], "add_bos_token": True,
    "clean_up_tokenization_spaces": False, "model_max_length": 256, "tokenizer_class": "LlamaTokenizerFast",
}


def to_original(name, t):
    """transformers janus name -> [(release name, tensor)] (qkv fused by the caller)."""
    n = name
    if n.startswith("model.language_model."):
        return "language_model.model." + n[len("model.language_model."):], t
    if n == "lm_head.weight":
        return "language_model.lm_head.weight", t
    if n.startswith("model.vision_model."):
        r = n[len("model.vision_model."):]
        tower = "vision_model.vision_tower."
        if r.startswith("embeddings.patch_embedding."):
            return tower + "patch_embed.proj." + r[len("embeddings.patch_embedding."):], t
        if r == "embeddings.position_embedding.weight":
            return tower + "pos_embed", t.unsqueeze(0)
        if r.startswith("post_layernorm."):
            return tower + "norm." + r[len("post_layernorm."):], t
        m = re.match(r"encoder\.layers\.(\d+)\.(.*)", r)
        b, p = tower + f"blocks.{m.group(1)}.", m.group(2)
        p = p.replace("layer_norm1.", "norm1.").replace("layer_norm2.", "norm2.")
        p = p.replace("self_attn.projection_layer.", "attn.proj.")
        return b + p, t
    if n.startswith("model.vqmodel."):
        r = n[len("model.vqmodel."):]
        r = r.replace("encoder.down.", "encoder.conv_blocks.").replace("decoder.up.", "decoder.conv_blocks.")
        r = r.replace(".block.", ".res.").replace("mid.block_1.", "mid.0.").replace("mid.attn_1.", "mid.1.")
        r = r.replace("mid.block_2.", "mid.2.")
        return "gen_vision_model." + r, t
    for src, dst in (("model.aligner.", "aligner."), ("model.generation_aligner.", "gen_aligner.")):
        if n.startswith(src):
            r = n[len(src):]
            if r.startswith("fc1."):
                return dst + "layers.0." + r[4:], t
            m = re.match(r"hidden_layers\.(\d+)\.(.*)", r)
            return dst + f"layers.{2 * int(m.group(1)) + 2}." + m.group(2), t
    if n.startswith("model.generation_head.proj_out."):
        return "gen_head.output_mlp_projector." + n[len("model.generation_head.proj_out."):], t
    if n.startswith("model.generation_head.vision_head."):
        return "gen_head.vision_head." + n[len("model.generation_head.vision_head."):], t
    if n == "model.generation_embeddings.weight":
        return "gen_embed.weight", t
    raise ValueError(f"unmapped tensor {n}")


def original_state_dict(hf_sd, cfg, gen):
    out = collections.OrderedDict()
    qkv = {}
    for name in sorted(hf_sd):
        m = re.match(r"model\.vision_model\.encoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)", name)
        if m:
            qkv.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = hf_sd[name]
            continue
        k, v = to_original(name, hf_sd[name])
        out[k] = v.contiguous()
    for (layer, kind), parts in sorted(qkv.items()):
        out[f"vision_model.vision_tower.blocks.{layer}.attn.qkv.{kind}"] = torch.cat([parts["q"], parts["k"],
                                                                                      parts["v"]], 0)
    # Dead weights of the release: the timm MAP head and LlamaGen's usage buffer.
    D = cfg["vision_config"]["hidden_size"]
    I = int(D * cfg["vision_config"]["mlp_ratio"])
    dead = {"latent": [1, 1, D], "q.weight": [D, D], "q.bias": [D], "kv.weight": [2 * D, D], "kv.bias": [2 * D],
            "proj.weight": [D, D], "proj.bias": [D], "norm.weight": [D], "norm.bias": [D],
            "mlp.fc1.weight": [I, D], "mlp.fc1.bias": [I], "mlp.fc2.weight": [D, I], "mlp.fc2.bias": [D]}
    for k, shape in dead.items():
        out["vision_model.vision_tower.attn_pool." + k] = torch.randn(shape, generator=gen)
    out["gen_vision_model.quantize.codebook_used"] = torch.zeros(4 * cfg["vq_config"]["num_embeddings"])
    return out


def mm_config(cfg):
    v, q, t = cfg["vision_config"], cfg["vq_config"], cfg["text_config"]
    H = t["hidden_size"]
    lang = {k: t[k] for k in ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                              "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                              "rms_norm_eps", "bos_token_id", "eos_token_id", "pad_token_id", "head_dim")}
    lang["torch_dtype"] = "float32"
    return {
        "architectures": ["MultiModalityCausalLM"],
        "model_type": "multi_modality",
        "torch_dtype": "float32",
        "language_config": lang,
        "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision", "params": {
            "image_size": v["image_size"], "model_name": "siglip_large_patch16_384", "select_feature": "same",
            "select_layer": -1, "width": v["hidden_size"], "layers": v["num_hidden_layers"],
            "heads": v["num_attention_heads"], "mlp_ratio": v["mlp_ratio"], "patch_size": v["patch_size"]}},
        "aligner_config": {"cls": "MlpProjector", "model_type": "aligner", "params": {
            "depth": v["depth"], "input_dim": v["hidden_size"], "n_embed": H, "projector_type": "mlp_gelu"}},
        "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision", "params": {
            "image_token_size": q["num_embeddings"], "n_embed": q["embed_dim"], "codebook_size": q["num_embeddings"],
            "codebook_embed_dim": q["embed_dim"], "z_channels": q["latent_channels"], "ch": q["base_channels"],
            "encoder_ch_mult": q["channel_multiplier"], "decoder_ch_mult": q["channel_multiplier"],
            "num_res_blocks": q["num_res_blocks"]}},
        "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner", "params": {
            "depth": q["num_hidden_layers"], "input_dim": q["embed_dim"], "n_embed": H,
            "projector_type": "mlp_gelu"}},
        "gen_head_config": {"cls": "vision_head", "model_type": "gen_head", "params": {
            "image_token_embed": q["projection_dim"], "image_token_size": q["num_embeddings"], "n_embed": H}},
    }


def margin(logits):
    top2 = torch.topk(logits, 2).values
    return float(top2[0] - top2[1])


@torch.no_grad()
def greedy_codes(model, prompt, uncond, cfg_weight, n):
    lm, m = model.model.language_model, model.model
    rows = [prompt] if uncond is None else [prompt, uncond]
    out = lm(inputs_embeds=lm.embed_tokens(torch.tensor(rows)), use_cache=True)
    past, h = out.past_key_values, out.last_hidden_state[:, -1]
    codes, worst = [], float("inf")
    for _ in range(n):
        logits = m.generation_head(h)
        mixed = logits[0] if uncond is None else logits[1] + cfg_weight * (logits[0] - logits[1])
        worst = min(worst, margin(mixed))
        code = int(torch.argmax(mixed))
        codes.append(code)
        e = model.prepare_embeddings_for_image_generation(torch.tensor([code] * len(rows)))
        out = lm(inputs_embeds=e[:, None], past_key_values=past, use_cache=True)
        past, h = out.past_key_values, out.last_hidden_state[:, -1]
    return codes, worst


def r1_text_config():
    return dict(
        model_type="deepseek_v3", vocab_size=320, hidden_size=64, intermediate_size=128, moe_intermediate_size=32,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, n_shared_experts=1, n_routed_experts=8,
        routed_scaling_factor=2.5, kv_lora_rank=16, q_lora_rank=24, qk_rope_head_dim=8, v_head_dim=12,
        qk_nope_head_dim=12, n_group=2, topk_group=1, num_experts_per_tok=2, first_k_dense_replace=1,
        norm_topk_prob=True, max_position_embeddings=256, rms_norm_eps=1e-6, tie_word_embeddings=False,
        bos_token_id=0, eos_token_id=1, pad_token_id=2, rope_interleave=True,
        rope_scaling={"type": "yarn", "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64,
                      "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 1.0},
    )


def make_r1(args, cfg, ids, pixels, prompt, uncond):
    """The janus_r1 fixture: Janus pathways on a DeepSeek-V3 backbone, saved and referenced by transformers."""
    import importlib.util
    from transformers import JanusConfig

    spec = importlib.util.spec_from_file_location("mjf", os.path.join(os.path.dirname(__file__), "make_janus_fixtures.py"))
    mjf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mjf)
    vision = {k: v for k, v in cfg["vision_config"].items() if k != "model_type"}
    vq = {k: v for k, v in cfg["vq_config"].items() if k != "model_type"}
    jc = JanusConfig(text_config=r1_text_config(), vision_config=vision, vq_config=vq,
                     image_token_id=cfg["image_token_id"], tie_word_embeddings=False)
    torch.manual_seed(4242)
    gen = torch.Generator().manual_seed(4242)
    model = JanusForConditionalGeneration(jc).eval()
    model.config._attn_implementation = "eager"
    mjf.reinit(model, gen)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("e_score_correction_bias"):
                buf.copy_((torch.rand(buf.shape, generator=gen) - 0.5) * 0.5)
    r1_dir = os.path.join(args.fixtures, "r1")
    os.makedirs(r1_dir, exist_ok=True)
    model.save_pretrained(r1_dir, safe_serialization=True)
    with open(os.path.join(r1_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(), f, ensure_ascii=False, indent=1)
    with open(os.path.join(r1_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(TOKENIZER_CONFIG, f, ensure_ascii=False, indent=1)
    model = JanusForConditionalGeneration.from_pretrained(r1_dir, dtype=torch.float32,
                                                          attn_implementation="eager").eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), pixel_values=pixels, output_hidden_states=True)
        hidden = out.hidden_states[-1]
        gl = model.model.generation_head(hidden)
    n_gen = (cfg["vision_config"]["image_size"] // cfg["vision_config"]["patch_size"]) ** 2
    codes, m = greedy_codes(model, prompt, uncond, 5.0, n_gen)
    print(f"r1 greedy margin {m:.4g}; codes {codes}")
    assert m > MARGIN, "r1: a greedy step is nearly tied"
    save_file({"r1_logits": out.logits.contiguous(), "r1_hidden": hidden.contiguous(), "r1_gen_logits": gl.contiguous(),
               "r1_codes_cfg5": torch.tensor([codes])}, os.path.join(args.fixtures, "ref_r1.safetensors"),
              metadata={"format": "pt"})


def bench_manifest(out_dir):
    """A Janus-Pro-1B-shaped transformers config + the name/shape of every tensor (no weights) for
    bench/bench_janus.cpp, which fills them with random bf16 values. The tiny tokenizer is used
    (image_token_id 300, pad 2), so prompts stay in ids < 320."""
    from transformers import JanusConfig

    text = dict(model_type="llama", vocab_size=102400, hidden_size=2048, intermediate_size=5632, num_hidden_layers=24,
                num_attention_heads=16, num_key_value_heads=16, max_position_embeddings=16384, rms_norm_eps=1e-6,
                tie_word_embeddings=False, bos_token_id=0, eos_token_id=1, pad_token_id=2)
    vision = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, image_size=384, patch_size=16,
                  mlp_ratio=4.0, projection_dim=2048, depth=2, hidden_act="gelu", layer_norm_eps=1e-6)
    vq = dict(projection_dim=2048, image_token_embed_dim=2048)
    cfg = JanusConfig(text_config=text, vision_config=vision, vq_config=vq, image_token_id=300,
                      tie_word_embeddings=False)
    with torch.device("meta"):
        model = JanusForConditionalGeneration(cfg)
    os.makedirs(out_dir, exist_ok=True)
    cfg.save_pretrained(out_dir)
    manifest = {n: list(p.shape) for n, p in model.state_dict().items()}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(), f, ensure_ascii=False)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(TOKENIZER_CONFIG, f, ensure_ascii=False)
    print(f"{len(manifest)} tensors, {sum(torch.Size(s).numel() for s in manifest.values()):,} elements -> {out_dir}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", default="tests/fixtures/janus")
    ap.add_argument("--bench-manifest", help="only write a Janus-Pro-1B-shaped config + tensor manifest here")
    args = ap.parse_args()
    if args.bench_manifest:
        bench_manifest(args.bench_manifest)
        return
    hf_dir, mm_dir = os.path.join(args.fixtures, "hf"), os.path.join(args.fixtures, "mm")
    os.makedirs(mm_dir, exist_ok=True)
    cfg = json.load(open(os.path.join(hf_dir, "config.json")))
    gen = torch.Generator().manual_seed(77)

    for d in (hf_dir, mm_dir):
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(), f, ensure_ascii=False, indent=1)
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(TOKENIZER_CONFIG, f, ensure_ascii=False, indent=1)

    hf_sd = load_file(os.path.join(hf_dir, "model.safetensors"))
    sd = original_state_dict(hf_sd, cfg, gen)
    torch.save(sd, os.path.join(mm_dir, "pytorch_model.bin"))
    with open(os.path.join(mm_dir, "config.json"), "w") as f:
        json.dump(mm_config(cfg), f, indent=1)
    n_orig = len(sd)
    print(f"mm checkpoint: {n_orig} tensors ({len(hf_sd)} in hf)")

    model = JanusForConditionalGeneration.from_pretrained(hf_dir, dtype=torch.float32,
                                                          attn_implementation="eager").eval()
    n_img = cfg["vision_config"]["image_size"] // cfg["vision_config"]["patch_size"]
    n_img = n_img * n_img
    img = [301] + [300] * n_img + [302]
    ids = [0, 3 + 72, 3 + 105, 3 + 10] + img + [3 + 32, 3 + 97] + img + [3 + 63, 303, 304]
    pixels = torch.rand((2, 3, 32, 32), generator=gen) * 2 - 1
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), pixel_values=pixels, output_hidden_states=True)
        hidden = out.hidden_states[-1]
        # transformers' hidden_states[-1] is after the final norm for Llama (the norm is applied to
        # the last entry); check against the language model directly.
        embeds = model.get_input_embeddings()(torch.tensor([ids]))
        img_emb = model.model.get_image_features(pixel_values=pixels).pooler_output.reshape(-1, embeds.shape[-1])
        mask = torch.tensor([ids]) == 300
        embeds[mask] = img_emb
        lm_out = model.model.language_model(inputs_embeds=embeds)
        assert torch.allclose(lm_out.last_hidden_state, hidden, atol=1e-6), "hidden_states[-1] is not post-norm"
        gen_logits = model.model.generation_head(hidden)

    prompt = [0, 303, 3 + 58, 3 + 32, 3 + 99, 3 + 97, 3 + 116, 304, 301]
    uncond = [prompt[0]] + [2] * (len(prompt) - 2) + [prompt[-1]]
    n_gen = cfg["vq_config"]["num_patches"] ** 2 if "num_patches" in cfg["vq_config"] else 16
    n_gen = (cfg["vision_config"]["image_size"] // cfg["vision_config"]["patch_size"]) ** 2
    codes5, m5 = greedy_codes(model, prompt, uncond, 5.0, n_gen)
    codes_c, mc = greedy_codes(model, prompt, None, 1.0, n_gen)
    print(f"greedy margins: cfg5 {m5:.4g}, cond {mc:.4g}")
    assert m5 > MARGIN and mc > MARGIN, "a greedy step is nearly tied: change the prompt"
    with torch.no_grad():
        images = model.model.vqmodel.decode(torch.tensor([codes5]))

    answer, worst = [], float("inf")
    with torch.no_grad():
        cur = list(ids)
        for _ in range(8):
            last = model(input_ids=torch.tensor([cur]), pixel_values=pixels).logits[0, -1]
            worst = min(worst, margin(last))
            cur.append(int(torch.argmax(last)))
            answer.append(cur[-1])
    print(f"answer margin {worst:.4g}: {answer}")
    assert worst > MARGIN, "a greedy answer step is nearly tied"

    ref = {
        "answer_greedy": torch.tensor(answer),
        "mm_input_ids": torch.tensor([ids]), "mm_pixel_values": pixels, "mm_logits": out.logits,
        "mm_hidden": hidden, "mm_gen_logits": gen_logits,
        "gen_prompt": torch.tensor(prompt), "gen_uncond": torch.tensor(uncond),
        "gen_codes_cfg5": torch.tensor([codes5]), "gen_codes_cond": torch.tensor([codes_c]),
        "gen_images_cfg5": images,
    }
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(args.fixtures, "ref_mm.safetensors"),
              metadata={"format": "pt"})
    for k, v in ref.items():
        print(f"{k:16s} {str(v.dtype):12s} {list(v.shape)}")
    print("codes cfg5:", codes5)
    print("codes cond:", codes_c)
    make_r1(args, cfg, ids, pixels, prompt, uncond)


if __name__ == "__main__":
    main()
