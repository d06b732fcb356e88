#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes each for a while.
#
# Usage: tests/fuzz/run_fuzzers.sh [SECONDS] [TARGET...]
#   SECONDS  fuzzing time per target (default 30)
#   TARGET   fuzz_* targets to run (default: every tests/fuzz/fuzz_*.cpp)
# Environment: JANUS_FUZZ_BUILD (build folder, default build-fuzz), JOBS (build jobs, default 2).
# Seeds come from tests/fuzz/corpus/<target without "fuzz_">/ (read-only); new inputs go to
# $JANUS_FUZZ_BUILD/corpus/<target>/ and crash reproducers to $JANUS_FUZZ_BUILD/artifacts/.
# Exit status: 0 when no target crashed, 1 otherwise (the reproducer paths are printed).
set -euo pipefail

secs=${1:-30}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${JANUS_FUZZ_BUILD:-$root/build-fuzz}

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in "$here"/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DJANUS_FUZZ=ON -DJANUS_CUDA=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]}"

failed=()
mkdir -p "$build/artifacts"
for t in "${targets[@]}"; do
  work="$build/corpus/$t"
  mkdir -p "$work"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$build/artifacts/$t-")
  [ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
  seeds="$here/corpus/${t#fuzz_}"
  dirs=("$work")
  [ -d "$seeds" ] && dirs+=("$seeds")
  echo "== $t: ${secs}s"
  if ! "$build/tests/fuzz/$t" "${args[@]}" "${dirs[@]}"; then
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (reproducers: $build/artifacts/)" >&2
  exit 1
fi
echo "OK: ${targets[*]} ran ${secs}s each without a crash"
