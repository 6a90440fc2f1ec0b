#!/usr/bin/env bash
# Each compute option on and off, side by side: the `benchmark` app's training and sampling rows
# with fp32 (the default), with compute.precision=bf16 and with compute.channels_last=true,
# alternating twice; writes the table into BENCHMARKS.md (between the "bench_compute.sh" markers)
# and bench/compute.md. Run scripts/test.sh first (it builds the app).
# Usage: scripts/bench_compute.sh [--device cuda] [--batch_size N] ...   (any benchmark flag;
#   defaults: configs/quickstart.yaml, batch 128, 5 timed steps, 64 samples)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FLOWLAB_BUILD_DIR:-build}
BENCH=$BUILD_DIR/apps/benchmark
[[ -x $BENCH ]] || { echo "error: $BENCH not built; run scripts/test.sh first" >&2; exit 1; }
ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 5 --num_samples 64 --sample_batch_size 64
      --suite train,sample --methods cfm,meanflow "$@")
OUT=bench/compute
rm -rf "$OUT" && mkdir -p "$OUT"
declare -A OPTION=([fp32]="" [bf16]="--precision bf16" [channels_last]="--channels_last true")
for run in 1 2; do
  for variant in fp32 bf16 channels_last; do
    echo "== $variant, run $run"
    # shellcheck disable=SC2086
    "$BENCH" "${ARGS[@]}" ${OPTION[$variant]} --output "$OUT/${variant}_$run.json" > "$OUT/${variant}_$run.log"
  done
done

/usr/bin/env python3 - "$OUT" "scripts/bench_compute.sh${*:+ $*}" <<'PY' > "$OUT/../compute.md"
import json, sys
out, command = sys.argv[1], sys.argv[2]
variants = ["fp32", "bf16", "channels_last"]
runs = {v: [json.load(open(f"{out}/{v}_{i}.json")) for i in (1, 2)] for v in variants}
first = runs["fp32"][0]
print(f"`{command}`: device {first['device']}, {first['threads']} threads, {first['model']}, "
      f"batch {first['batch_size']}, {first['image_size']}x{first['image_size']} images. "
      "Images/s, mean of two alternating runs (each run in brackets); ratios against fp32.\n")
print("| measure | fp32 | bf16 | channels-last | bf16 / fp32 | channels-last / fp32 |")
print("|---|---:|---:|---:|---:|---:|")
names = [r["kind"] + " " + r["name"] for r in first["results"]]
def rates(variant, name):
    return [next(r["images_per_sec"] for r in run["results"] if r["kind"] + " " + r["name"] == name)
            for run in runs[variant]]
for name in names:
    cells, means = [], {}
    for v in variants:
        a, b = rates(v, name)
        means[v] = (a + b) / 2
        cells.append(f"{means[v]:.1f} ({a:.1f} / {b:.1f})")
    print(f"| {name} | " + " | ".join(cells) +
          f" | {means['bf16'] / means['fp32']:.2f} | {means['channels_last'] / means['fp32']:.2f} |")
PY
cat bench/compute.md
python3 scripts/bench_block.py bench_compute.sh "scripts/bench_compute.sh: compute options on and off" bench/compute.md
echo "wrote BENCHMARKS.md and bench/compute.md"
