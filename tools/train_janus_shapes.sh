#!/usr/bin/env bash
# Reproduces the embedded model models/janus-shapes from scratch with `janus train` recipes
# (DESIGN §5), then scores it on held-out scenes. Every step is resumable: re-running the script
# skips finished steps (their outputs exist) and resumes an interrupted training run.
#   data   shapes world data (12,000 scenes, 48 px, seed 1; 12,000 fresh ones each of seeds 2, 3
#          and 4, for 4e, 4f and 4g)                     janus shapes gen
#   tok    BPE tokenizer on its text                      train/recipes/janus_shapes_tokenizer.json
#   vq     VQ image tokenizer (48 px, 8x downsampling: 6x6 codes, 2x2 per grid cell)
#                                                         train/recipes/janus_shapes_vq.json
#   und    (4a) understanding warm-up (ViT + aligner + backbone on captions, VQA, reasoning)
#                                                         train/recipes/janus_shapes_und.json
#   4b     Janus on a DeepSeek-V3 backbone (MLA, MoE + shared expert, MTP), understanding and
#          text-to-image together, from 4a's weights and the VQ (frozen)
#                                                         train/recipes/janus_shapes.json
#   4c     the same mix re-weighted towards text-to-image (t2i at 40% of the rows), from 4b
#                                                         train/recipes/janus_shapes_t2i.json
#   4d     the same mix with the ViT fine-tuned (0.2x the learning rate), from 4c
#                                                         train/recipes/janus_shapes_vit.json
#   4e     the same on 12,000 fresh scenes (seed 2), from 4d   train/recipes/janus_shapes_fresh.json
#   4f     the same on 12,000 fresh scenes (seed 3), from 4e   train/recipes/janus_shapes_fresh3.json
#   4g     the same on 12,000 fresh scenes (seed 4), from 4f   train/recipes/janus_shapes_fresh4.json
#          + the image sampling defaults chosen on validation scenes (seed 2000003), not on the
#          held-out ones: train/recipes/janus_shapes_generation_config.json → generation_config.json
#   eval   held-out evaluation (200 scenes, seed 1000003)      janus shapes eval --model
# Usage: tools/train_janus_shapes.sh [--from STAGE] [--to STAGE] [OUT_MODEL_DIR]
#   (default: vq to eval, into runs/janus-shapes-fresh4/final; the shipped copy is models/janus-shapes).
#   Data and tokenizer are always made first (skipped when present). --from X runs stages X.. only:
#   the stage before X must have left its output in runs/ (tools/verify_janus_shapes_segment.sh
#   puts a shipped version there). Needs a built ./build/apps/janus. Times are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
janus=./build/apps/janus
# OpenBLAS picks its GEMM kernels by CPU, and they round differently (AVX-512 kernels give other
# gradients from step 1). The shipped runs used its Haswell (AVX2) kernels, which any x86-64 CPU with
# AVX2 runs; the thread count does not change the numbers (JANUS_THREADS=1 gives the one-core time).
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
stages=(vq und 4b 4c 4d 4e 4f 4g eval)
from=vq to=eval out=runs/janus-shapes-fresh4/final
index() {
  local i
  for i in "${!stages[@]}"; do [ "${stages[$i]}" = "$1" ] && { echo "$i"; return; }; done
  echo "unknown stage '$1' (stages: ${stages[*]})" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from=$2; shift 2 ;;
    --to) to=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
lo=$(index "$from") || exit 2
hi=$(index "$to") || exit 2
[ "$lo" -le "$hi" ] || { echo "--from $from comes after --to $to" >&2; exit 2; }
t0=$(date +%s)
step() { echo "== [$(( $(date +%s) - t0 )) s] $*"; }
# wanted STAGE: STAGE lies in [from, to].
wanted() { local i; i=$(index "$1"); [ "$i" -ge "$lo" ] && [ "$i" -le "$hi" ]; }
# train STAGE NAME RECIPE OUTPUT_DIR: runs `janus train` unless OUTPUT_DIR/final holds a model.
train() {
  wanted "$1" || return 0
  step "$1 $2"
  [ -f "$4/final/model.safetensors" ] || $janus train --recipe "train/recipes/$3" --resume
}

step "data: shapes scenes"
[ -f runs/shapes-data48/t2i.jsonl ] || $janus shapes gen --n 12000 --seed 1 --size 48 --out runs/shapes-data48
for seed in 2 3 4; do
  [ -f runs/shapes-data48-$seed/t2i.jsonl ] || $janus shapes gen --n 12000 --seed $seed --size 48 --out runs/shapes-data48-$seed
done
step "tok: tokenizer"
[ -f runs/janus-shapes-tokenizer/tokenizer.json ] || $janus train --recipe train/recipes/janus_shapes_tokenizer.json
if wanted vq; then
  step "vq: VQ tokenizer"
  [ -f runs/janus-shapes-vq/final/model.safetensors ] || $janus vq train --recipe train/recipes/janus_shapes_vq.json --resume
fi
train und "Janus understanding warm-up" janus_shapes_und.json runs/janus-shapes-und
train 4b "Janus (V3 backbone), understanding + generation" janus_shapes.json runs/janus-shapes
train 4c "Janus, text-to-image-weighted finish" janus_shapes_t2i.json runs/janus-shapes-t2i
train 4d "Janus, ViT fine-tuned" janus_shapes_vit.json runs/janus-shapes-vit
train 4e "Janus, fresh scenes" janus_shapes_fresh.json runs/janus-shapes-fresh
train 4f "Janus, fresh scenes again" janus_shapes_fresh3.json runs/janus-shapes-fresh3
train 4g "Janus, fresh scenes a third time" janus_shapes_fresh4.json runs/janus-shapes-fresh4
if wanted 4g; then
  cp train/recipes/janus_shapes_generation_config.json runs/janus-shapes-fresh4/final/generation_config.json
  if [ "$out" != runs/janus-shapes-fresh4/final ]; then
    mkdir -p "$out"
    cp runs/janus-shapes-fresh4/final/* "$out"/
  fi
fi
if wanted eval; then
  step "eval: held-out evaluation"
  [ -f runs/shapes-eval48/t2i.jsonl ] || $janus shapes gen --n 200 --seed 1000003 --size 48 --out runs/shapes-eval48
  $janus shapes eval --model "$out" --data runs/shapes-eval48 --out runs/shapes-eval48/eval-"$(basename "$out")" \
    --images-per-prompt 4 --seed 0
fi
step "done"
