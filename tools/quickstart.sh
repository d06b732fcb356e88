#!/usr/bin/env bash
# Fresh machine -> the main job: install dependencies, build, run a model.
# Until the embedded shapes model lands (models/janus-shapes), this runs the tiny DeepSeek-V3
# checkpoint used by the parity tests (MLA + MoE + MTP, random weights): greedy decoding with
# MTP speculative decoding, then the same through plain decoding, and a speed measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"${JOBS:-2}" --target janus
model=tests/fixtures/backbones/deepseek_v3
echo "== janus run (MTP speculative decoding) on $model"
./build/apps/janus run --model "$model" --tokens 5,17,42,7,99 -n 24 --speculative
echo "== janus run (plain greedy) — same tokens"
./build/apps/janus run --model "$model" --tokens 5,17,42,7,99 -n 24
echo "== janus bench"
./build/apps/janus bench --model "$model" --prompt 64 --gen 32
