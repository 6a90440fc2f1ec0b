#!/usr/bin/env bash
# Runs the `benchmark` app and the PyTorch reference (scripts/bench/bench_reference.py) alternately,
# ROUNDS times each (default 3), on the same model and sizes, and writes the comparison into BENCHMARKS.md (between
# the "bench.sh" markers) and bench/results.md. Run scripts/test.sh first (it builds the app).
# Usage: [ROUNDS=N] scripts/bench/bench.sh [--config FILE] [--batch_size N] [--steps N] [--threads N] ...
#   (any flag both programs take; defaults: configs/quickstart.yaml, batch 128, 5 timed steps)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${FLOWLAB_BUILD_DIR:-build}
BENCH=$BUILD_DIR/apps/benchmark
[[ -x $BENCH ]] || { echo "error: $BENCH not built; run scripts/test.sh first" >&2; exit 1; }
PYTHON=${FLOWLAB_PYTHON:-/usr/bin/python3}
"$PYTHON" -c "import torch, yaml" 2>/dev/null ||
  { echo "error: $PYTHON lacks torch or yaml (FLOWLAB_SETUP_PYTHON=1 scripts/setup.sh)" >&2; exit 1; }

ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 5 --num_samples 64 --sample_batch_size 64 "$@")
OUT=bench
ROUNDS=${ROUNDS:-3}
mkdir -p "$OUT"
for run in $(seq "$ROUNDS"); do
  echo "== flowlab, run $run"
  "$BENCH" "${ARGS[@]}" --output "$OUT/flowlab_$run.json"
  echo "== PyTorch reference, run $run"
  "$PYTHON" scripts/bench/bench_reference.py "${ARGS[@]}" --expect "$OUT/flowlab_$run.json" --output "$OUT/reference_$run.json"
done
"$PYTHON" scripts/bench/bench_table.py --command "scripts/bench/bench.sh${*:+ $*}" \
  $(for run in $(seq "$ROUNDS"); do echo "$OUT/flowlab_$run.json"; done) \
  $(for run in $(seq "$ROUNDS"); do echo "$OUT/reference_$run.json"; done) \
  > "$OUT/results.md"
cat "$OUT/results.md"
"$PYTHON" scripts/bench/bench_block.py bench.sh "scripts/bench/bench.sh: flowlab against PyTorch, CPU" "$OUT/results.md"
echo "wrote BENCHMARKS.md and $OUT/results.md"
