"""PyTorch reference for bench/bench_train: training tokens/s of the tiny DeepSeek-V3-shaped model
in bench/train_v3_tiny.json (transformers DeepseekV3ForCausalLM, float32, CPU), one step =
forward + next-token cross-entropy + backward + AdamW, batch x seq tokens.

Usage: tools/.venv/bin/python tools/bench_train_torch.py [--threads 2] [--batch 4] [--seq 256]
       [--steps 10] [--warmup 2]
Prints one JSON line: {"tokens_per_s": ..., "ms_per_step": ..., "cpu_ms_per_step": ..., ...}: wall
time (median and best step) and process CPU time (median; all threads), since the machine is shared."""
import argparse
import json
import os
import time

import torch
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--config", default=os.path.join(here, "..", "bench", "train_v3_tiny.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.config) as f:
        cfg = DeepseekV3Config(**json.load(f))
    model = DeepseekV3ForCausalLM(cfg).float().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq + 1), generator=g)
    x, y = ids[:, :-1].contiguous(), ids[:, 1:].contiguous()
    times, cpu, losses = [], [], []
    for step in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        logits = model(input_ids=x).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size), y.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        losses.append(loss.item())
        if step >= a.warmup:
            times.append(dt)
            cpu.append(dc)
    med = sorted(times)[len(times) // 2]
    print(json.dumps({"impl": "pytorch " + torch.__version__, "threads": a.threads, "batch": a.batch, "seq": a.seq,
                      "params": sum(p.numel() for p in model.parameters()), "ms_per_step": 1e3 * med,
                      "ms_best": 1e3 * min(times),
                      "cpu_ms_per_step": 1e3 * sorted(cpu)[len(cpu) // 2], "tokens_per_s": a.batch * a.seq / med,
                      "loss_first": losses[0], "loss_last": losses[-1]}))


if __name__ == "__main__":
    main()
