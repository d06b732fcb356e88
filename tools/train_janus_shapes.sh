#!/usr/bin/env bash
# Reproduces the embedded model models/janus-shapes from scratch with `janus train` recipes
# (DESIGN §5), then scores it on held-out scenes. Every step is resumable: re-running the script
# skips finished steps (their outputs exist) and resumes an interrupted training run.
#   1. shapes world data (12,000 scenes, 48 px, seed 1; 12,000 fresh ones each of seeds 2, 3 and 4,
#      for 4e, 4f and 4g)
#                                                              janus shapes gen
#   2. BPE tokenizer on its text                               train/recipes/janus_shapes_tokenizer.json
#   3. VQ image tokenizer (48 px, 8x downsampling: 6x6 codes, 2x2 per grid cell)
#                                                              train/recipes/janus_shapes_vq.json
#   4a. understanding warm-up (ViT + aligner + backbone on captions, VQA, reasoning)
#                                                              train/recipes/janus_shapes_und.json
#   4b. Janus on a DeepSeek-V3 backbone (MLA, MoE + shared expert, MTP), understanding and
#       text-to-image together, from 4a's weights and 3's VQ (frozen)
#                                                              train/recipes/janus_shapes.json
#   4c. the same mix re-weighted towards text-to-image (t2i at 40% of the rows), from 4b
#                                                              train/recipes/janus_shapes_t2i.json
#   4d. the same mix with the ViT fine-tuned (0.2x the learning rate), from 4c
#                                                              train/recipes/janus_shapes_vit.json
#   4e. the same on 12,000 fresh scenes (seed 2), from 4d     train/recipes/janus_shapes_fresh.json
#   4f. the same on 12,000 fresh scenes (seed 3), from 4e    train/recipes/janus_shapes_fresh3.json
#   4g. the same on 12,000 fresh scenes (seed 4), from 4f    train/recipes/janus_shapes_fresh4.json
#       + the image sampling defaults chosen on validation scenes (seed 2000003), not on the
#       held-out ones: train/recipes/janus_shapes_generation_config.json → generation_config.json
#   5. held-out evaluation (200 scenes, seed 1000003)          janus shapes eval --model
# Usage: tools/train_janus_shapes.sh [OUT_MODEL_DIR]   (default runs/janus-shapes-fresh4/final; the shipped
# copy is models/janus-shapes). Needs a built ./build/apps/janus. Times are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
janus=./build/apps/janus
out=${1:-runs/janus-shapes-fresh4/final}
t0=$(date +%s)
step() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }

step "1/5 shapes data"
[ -f runs/shapes-data48/t2i.jsonl ] || $janus shapes gen --n 12000 --seed 1 --size 48 --out runs/shapes-data48
for seed in 2 3 4; do
  [ -f runs/shapes-data48-$seed/t2i.jsonl ] || $janus shapes gen --n 12000 --seed $seed --size 48 --out runs/shapes-data48-$seed
done
step "2/5 tokenizer"
[ -f runs/janus-shapes-tokenizer/tokenizer.json ] || $janus train --recipe train/recipes/janus_shapes_tokenizer.json
step "3/5 VQ tokenizer"
[ -f runs/janus-shapes-vq/final/model.safetensors ] || $janus vq train --recipe train/recipes/janus_shapes_vq.json --resume
step "4a/5 Janus understanding warm-up"
[ -f runs/janus-shapes-und/final/model.safetensors ] || $janus train --recipe train/recipes/janus_shapes_und.json --resume
step "4b/5 Janus (V3 backbone), understanding + generation"
[ -f runs/janus-shapes/final/model.safetensors ] || $janus train --recipe train/recipes/janus_shapes.json --resume
step "4c/5 Janus, text-to-image-weighted finish"
[ -f runs/janus-shapes-t2i/final/model.safetensors ] || $janus train --recipe train/recipes/janus_shapes_t2i.json --resume
step "4d/5 Janus, ViT fine-tuned"
[ -f runs/janus-shapes-vit/final/model.safetensors ] || $janus train --recipe train/recipes/janus_shapes_vit.json --resume
step "4e/5 Janus, fresh scenes"
[ -f runs/janus-shapes-fresh/final/model.safetensors ] || $janus train --recipe train/recipes/janus_shapes_fresh.json --resume
step "4f/5 Janus, fresh scenes again"
[ -f runs/janus-shapes-fresh3/final/model.safetensors ] || $janus train --recipe train/recipes/janus_shapes_fresh3.json --resume
step "4g/5 Janus, fresh scenes a third time"
[ -f runs/janus-shapes-fresh4/final/model.safetensors ] || $janus train --recipe train/recipes/janus_shapes_fresh4.json --resume
cp train/recipes/janus_shapes_generation_config.json runs/janus-shapes-fresh4/final/generation_config.json
if [ "$out" != runs/janus-shapes-fresh4/final ]; then
  mkdir -p "$out"
  cp runs/janus-shapes-fresh4/final/* "$out"/
fi
step "5/5 held-out evaluation"
[ -f runs/shapes-eval48/t2i.jsonl ] || $janus shapes gen --n 200 --seed 1000003 --size 48 --out runs/shapes-eval48
$janus shapes eval --model "$out" --data runs/shapes-eval48 --out runs/shapes-eval48/eval-"$(basename "$out")" \
  --images-per-prompt 4 --seed 0
step "done"
