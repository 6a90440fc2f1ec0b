#!/usr/bin/env bash
# MeanFlow's training step against CFM's on the same backbone and batch (goal: at most 2x CFM's
# step time), with each meanflow.jvp_pass: separate (default) and shared. Each variant runs in its
# own `benchmark` process, so the peak RSS column is that variant's own (host memory; on CUDA it
# does not count GPU memory). Variants alternate, ROUNDS times (default 3); writes the table into
# BENCHMARKS.md (between the "bench_meanflow.sh" markers) and bench/meanflow.md.
# Run scripts/test.sh first (it builds the app).
# Usage: [ROUNDS=N] scripts/bench_meanflow.sh [--device cuda] [--batch_size N] ...   (any benchmark
#   flag; defaults: configs/quickstart.yaml, batch 128, 8 timed steps after 2 warm-up steps)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FLOWLAB_BUILD_DIR:-build}
BENCH=$BUILD_DIR/apps/benchmark
ROUNDS=${ROUNDS:-3}
[[ -x $BENCH ]] || { echo "error: $BENCH not built; run scripts/test.sh first" >&2; exit 1; }
ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 8 --warmup 2 --suite train "$@")
OUT=bench/meanflow
rm -rf "$OUT" && mkdir -p "$OUT"
declare -A OPTION=([cfm]="--methods cfm" [separate]="--methods meanflow"
                   [shared]="--methods meanflow --set meanflow.jvp_pass=shared")
for run in $(seq "$ROUNDS"); do
  for variant in cfm separate shared; do
    echo "== $variant, round $run"
    # shellcheck disable=SC2086
    "$BENCH" "${ARGS[@]}" ${OPTION[$variant]} --output "$OUT/${variant}_$run.json" > "$OUT/${variant}_$run.log"
  done
done

/usr/bin/env python3 - "$OUT" "$ROUNDS" "scripts/bench_meanflow.sh${*:+ $*}" <<'PY' > "$OUT/../meanflow.md"
import json, sys
out, rounds, command = sys.argv[1], int(sys.argv[2]), sys.argv[3]
variants = ["cfm", "separate", "shared"]
runs = {v: [json.load(open(f"{out}/{v}_{i}.json")) for i in range(1, rounds + 1)] for v in variants}
first = runs["cfm"][0]
print(f"`{command}`: device {first['device']}, {first['threads']} threads, batch {first['batch_size']}, "
      f"{first['image_size']}x{first['image_size']} images, {rounds} alternating rounds. Training images/s; "
      "the ratio is MeanFlow's step time over CFM's in the same round.\n")
print("| round | CFM | MeanFlow, jvp_pass separate | MeanFlow, jvp_pass shared | ratio separate | ratio shared |")
print("|---|---:|---:|---:|---:|---:|")
rate = {v: [r["results"][0]["images_per_sec"] for r in runs[v]] for v in variants}
for i in range(rounds):
    c, s, h = (rate[v][i] for v in variants)
    print(f"| {i + 1} | {c:.1f} | {s:.1f} | {h:.1f} | {c / s:.2f} | {c / h:.2f} |")
mean = {v: sum(rate[v]) / rounds for v in variants}
print(f"| mean | {mean['cfm']:.1f} | {mean['separate']:.1f} | {mean['shared']:.1f} | "
      f"{mean['cfm'] / mean['separate']:.2f} | {mean['cfm'] / mean['shared']:.2f} |")
rss = {v: max(r["peak_rss_after_training_bytes"] for r in runs[v]) / 2**20 for v in variants}
print(f"| peak RSS (MiB, largest round) | {rss['cfm']:.0f} | {rss['separate']:.0f} | {rss['shared']:.0f} | | |")
PY
cat bench/meanflow.md
python3 scripts/bench_block.py bench_meanflow.sh "scripts/bench_meanflow.sh: MeanFlow step against CFM" bench/meanflow.md
echo "wrote BENCHMARKS.md and bench/meanflow.md"
