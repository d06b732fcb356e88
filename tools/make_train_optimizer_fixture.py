"""Fixture for tests/train/test_optimizer.cpp: torch.optim.AdamW (foreach=False, the CPU
default path) for 3 steps on two small tensors, one with weight decay and one without (a "norm"),
with a different lr each step, plus torch.nn.utils.clip_grad_norm_ on one set of grads.

Writes tests/fixtures/train/optimizer.safetensors (float32). Deterministic (seeded).
Usage: tools/.venv/bin/python tools/make_train_optimizer_fixture.py
"""
import os

import torch
from safetensors.torch import save_file

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "train", "optimizer.safetensors")

LRS = [1e-2, 5e-3, 2e-3]
BETAS = (0.9, 0.95)
EPS = 1e-8
WD = 0.1

w = torch.nn.Parameter(torch.randn(37))  # 37 = vector chunks + a scalar tail in torch's kernels
n = torch.nn.Parameter(1.0 + 0.1 * torch.randn(5))
t = {"init.w": w.detach().clone(), "init.norm.weight": n.detach().clone()}
opt = torch.optim.AdamW(
    [{"params": [w], "weight_decay": WD}, {"params": [n], "weight_decay": 0.0}],
    lr=LRS[0], betas=BETAS, eps=EPS, foreach=False,
)
for s, lr in enumerate(LRS):
    for g in opt.param_groups:
        g["lr"] = lr
    gw = torch.randn(37) * (0.5 if s != 1 else 1e-3)  # one tiny-gradient step exercises eps
    gn = torch.randn(5)
    w.grad, n.grad = gw.clone(), gn.clone()
    t[f"step{s}.grad.w"], t[f"step{s}.grad.norm.weight"] = gw, gn
    opt.step()
    t[f"step{s}.w"], t[f"step{s}.norm.weight"] = w.detach().clone(), n.detach().clone()
t["final.w.exp_avg"] = opt.state[w]["exp_avg"].clone()
t["final.w.exp_avg_sq"] = opt.state[w]["exp_avg_sq"].clone()

# Clipping: three grads, max_norm 1.0.
gs = [torch.randn(4, 3) * 2, torch.randn(7), torch.randn(2, 2)]
ps = [torch.nn.Parameter(torch.zeros_like(g)) for g in gs]
for p, g in zip(ps, gs):
    p.grad = g.clone()
total = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
for i, (p, g) in enumerate(zip(ps, gs)):
    t[f"clip.in{i}"] = g
    t[f"clip.out{i}"] = p.grad.detach().clone()
t["clip.total_norm"] = total.reshape(1).float()

os.makedirs(os.path.dirname(OUT), exist_ok=True)
save_file({k: v.contiguous().float() for k, v in t.items()}, OUT,
          metadata={"betas": f"{BETAS[0]},{BETAS[1]}", "eps": str(EPS), "weight_decay": str(WD),
                    "lrs": ",".join(str(x) for x in LRS), "torch": torch.__version__})
print("wrote", os.path.normpath(OUT), len(t), "tensors, torch", torch.__version__)
