#!/usr/bin/env bash
# Fresh machine -> the main job: install dependencies, build, run a model.
# Until the embedded shapes model lands (models/janus-shapes), this runs the tiny random-weight
# checkpoints of the parity tests: the DeepSeek-V3 backbone (MLA + MoE + MTP) with and without MTP
# speculative decoding, then the whole Janus pipeline on a shapes-world scene (detector, image
# chat, text-to-image, the evaluator's verdict on the generated images). Random weights: the
# answers and images are noise, the pipeline is real.
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

out=${QUICKSTART_OUT:-quickstart-out}
janus=tests/fixtures/janus/hf
echo "== janus shapes gen + detect (the shapes world and its pixel-level detector)"
./build/apps/janus shapes gen --n 2 --seed 42 --out "$out/world"
head -n 1 "$out/world/captions.jsonl"
./build/apps/janus shapes detect "$out/world/images/000000.png"
echo "== janus chat on that scene ($janus, random weights)"
./build/apps/janus chat --model "$janus" --image "$out/world/images/000000.png" -n 12 "Describe the image."
prompt=$(sed -n 's/.*"answer":"\([^"]*\)".*/\1/p' "$out/world/captions.jsonl" | head -n 1)
echo "== janus generate -n 4 --cfg 5 \"$prompt\""
./build/apps/janus generate --model "$janus" --prompt "$prompt" -n 4 --cfg 5 --seed 7 --out "$out/gen"
echo "== janus shapes eval: the evaluator's verdict (here on the rendered scenes vs their prompts;"
echo "   the tiny random model's 16 px images are below the detector's 48 px minimum)"
./build/apps/janus shapes eval --images "$out/world/images" --prompts "$out/world/t2i.jsonl"
