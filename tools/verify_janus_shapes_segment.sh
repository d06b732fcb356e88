#!/usr/bin/env bash
# Reproduces one segment of the janus-shapes training chain (tools/train_janus_shapes.sh) and checks
# that it gives, byte for byte, the model.safetensors of the shipped version that segment made.
# The chain is longer than a working session on 2 cores (bench/RESULTS.md), and each shipped version
# of models/janus-shapes is in git history, so a segment starts from the version before it (taken
# from history into the runs/ folder its first recipe reads) and the segments can run apart — one
# clone each to run them at once. All segments equal => the recipes reproduce the shipped model.
#   segment  stages            starts from                         must equal
#   scratch  data tok vq und 4b  nothing                            v3 (d683852)
#   4c       4c                v3 (d683852) as runs/janus-shapes    v4 (b928abd)
#   4d-4e    4d 4e             v4 (b928abd) as runs/janus-shapes-t2i  v5 (9429308)
#   4f       4f                v5 (9429308) as runs/janus-shapes-fresh  v6 (3f3b2f2)
#   4g       4g + eval         v6 (3f3b2f2) as runs/janus-shapes-fresh3  v7 (2272623, the shipped one)
# The tokenizer is trained in every segment (about 3 min) and checked against the version's copy.
# Usage: tools/verify_janus_shapes_segment.sh SEGMENT   (run it with JANUS_THREADS=1 for the timing
# of one core; results do not depend on the thread count, but do on OpenBLAS's kernels: the
# training script sets OPENBLAS_CORETYPE=Haswell, the shipped runs' kernels, unless it is set).
# Prints PASS or FAIL per file; exit 1 on FAIL.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  scratch) from=vq to=4b prev="" prev_dir="" want=d683852 made=runs/janus-shapes/final ;;
  4c) from=4c to=4c prev=d683852 prev_dir=runs/janus-shapes want=b928abd made=runs/janus-shapes-t2i/final ;;
  4d-4e) from=4d to=4e prev=b928abd prev_dir=runs/janus-shapes-t2i want=9429308 made=runs/janus-shapes-fresh/final ;;
  4f) from=4f to=4f prev=9429308 prev_dir=runs/janus-shapes-fresh want=3f3b2f2 made=runs/janus-shapes-fresh3/final ;;
  4g) from=4g to=eval prev=3f3b2f2 prev_dir=runs/janus-shapes-fresh3 want=2272623 made=runs/janus-shapes-fresh4/final ;;
  *) echo "usage: $0 scratch|4c|4d-4e|4f|4g" >&2; exit 2 ;;
esac
git cat-file -e "$want" 2>/dev/null || { echo "$want is not in this clone's history (a shallow clone?)" >&2; exit 2; }
if [ -n "$prev" ]; then
  if [ -f "$prev_dir/final/model.safetensors" ] && ! cmp -s "$prev_dir/final/model.safetensors" \
      <(git show "$prev:models/janus-shapes/model.safetensors"); then
    echo "$prev_dir/final holds another model than $prev; move it away first" >&2
    exit 2
  fi
  mkdir -p "$prev_dir/final"
  for f in $(git ls-tree --name-only "$prev" models/janus-shapes/); do
    git show "$prev:$f" > "$prev_dir/final/$(basename "$f")"
  done
fi
t0=$(date +%s)
tools/train_janus_shapes.sh --from "$from" --to "$to"
echo "segment $1: $(( $(date +%s) - t0 )) s"
status=0
check() {  # check FILE COMMIT:PATH
  if cmp -s "$1" <(git show "$2"); then echo "PASS $1 == $2"; else echo "FAIL $1 != $2"; status=1; fi
}
check runs/janus-shapes-tokenizer/tokenizer.json "$want:models/janus-shapes/tokenizer.json"
check "$made/model.safetensors" "$want:models/janus-shapes/model.safetensors"
exit $status
