#!/usr/bin/env bash
# Fresh machine -> the main job on the embedded model (models/janus-shapes: Janus vision pathways
# on a tiny DeepSeek-V3 backbone, trained by tools/train_janus_shapes.sh): installs dependencies,
# builds, then on a new shapes-world scene
#   1. captions it, 2. answers a question about it, 3. answers a reasoning question (think trace),
#   4. generates 4 images for its caption and 5. prints the evaluator's verdict on them.
# Outputs go to ${QUICKSTART_OUT:-quickstart-out}. SEED picks the scene (default 20261130).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"${JOBS:-2}" --target janus
janus=./build/apps/janus
out=${QUICKSTART_OUT:-quickstart-out}
seed=${SEED:-20261130}
start=$(date +%s%N)
field() {  # field FILE KEY: the first record's string value of KEY
  sed -n "1s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1"
}
echo "== a new scene (janus shapes gen --seed $seed) and what is really in it"
rm -rf "$out/world" "$out/gen"  # this script's own outputs from an earlier run (maybe another seed or size)
$janus shapes gen --n 1 --seed "$seed" --size 48 --out "$out/world" 2>/dev/null
img="$out/world/images/000000.png"
echo "image: $img"
echo "truth: $(field "$out/world/captions.jsonl" answer)"
echo
echo "== 1. janus chat --image $img \"Describe the image.\""
$janus chat --image "$img" -n 64 "Describe the image." 2>/dev/null
q=$(field "$out/world/vqa.jsonl" prompt)
echo "== 2. janus chat --image $img \"$q\"   (truth: $(field "$out/world/vqa.jsonl" answer))"
$janus chat --image "$img" -n 16 "$q" 2>/dev/null
r=$(field "$out/world/reasoning.jsonl" prompt)
echo "== 3. janus chat --image $img \"$r\"   (truth: $(field "$out/world/reasoning.jsonl" answer))"
$janus chat --image "$img" -n 96 "$r" 2>/dev/null
prompt=$(field "$out/world/t2i.jsonl" prompt)
echo "== 4. janus generate -n 4 --prompt \"$prompt\"   (the model's sampling defaults)"
$janus generate --prompt "$prompt" -n 4 --seed 7 --out "$out/gen" --quiet
echo "== 5. janus shapes eval: the evaluator's verdict on the 4 images (pixel-level detector)"
$janus shapes eval --images "$out/gen" --prompt "$prompt" --json "$out/gen/scores.json"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
printf '== done in %d.%03d s (after the build)\n' $((ms / 1000)) $((ms % 1000))
