#!/usr/bin/env python3
"""Compare `janus dump` outputs with a fixture's expected.safetensors.

Usage: tools/compare_dump.py BUILD/apps/janus FIXTURE_DIR
Runs janus dump on the fixture's input_ids and prints max|Δ|/max|ref| for every output.
"""
import subprocess, sys, tempfile, os
import numpy as np
from safetensors.numpy import load_file, save_file

janus, fx = sys.argv[1], sys.argv[2]
exp = load_file(os.path.join(fx, "expected.safetensors"))
with tempfile.TemporaryDirectory() as d:
    inp, out = os.path.join(d, "in.safetensors"), os.path.join(d, "out.safetensors")
    save_file({"input_ids": exp["input_ids"]}, inp)
    r = subprocess.run([janus, "dump", "--model", fx, "--inputs", inp, "--out", out], capture_output=True, text=True)
    if r.returncode:
        print("dump failed:", r.stderr.strip()); sys.exit(1)
    got = load_file(out)
for k in ("logits", "hidden_states", "mtp_logits"):
    if k in exp:
        ref, ours = exp[k], got[k]
        if k == "mtp_logits":
            ref, ours = ref[:, :-1], ours[:, :-1]
        rel = np.abs(ref - ours).max() / np.abs(ref).max()
        print(f"{os.path.basename(fx):18s} {k:14s} rel {rel:.3e}  argmax-agree {np.mean(ref.argmax(-1)==ours.argmax(-1)) if k!='hidden_states' else float('nan'):.3f}")
