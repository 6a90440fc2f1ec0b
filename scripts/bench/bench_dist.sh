#!/usr/bin/env bash
# Training throughput of one process against N processes on this machine (c10d Gloo on loopback),
# the same global batch and model, alternating twice; writes the table into BENCHMARKS.md (between
# the "bench_dist.sh" markers) and bench/dist.md. One process gets every core; each of the N gets
# cores / N threads. Run scripts/test.sh first (it builds train_cfm).
# Usage: scripts/bench/bench_dist.sh [PROCESSES] [STEPS]   (defaults: 2 processes, 40 steps)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${FLOWLAB_BUILD_DIR:-build}
TRAIN=$BUILD_DIR/apps/train_cfm
[[ -x $TRAIN ]] || { echo "error: $TRAIN not built; run scripts/test.sh first" >&2; exit 1; }
PROCS=${1:-2}
STEPS=${2:-40}
CORES=$(nproc)
OUT=bench/dist
rm -rf "$OUT" && mkdir -p "$OUT"
ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps "$STEPS" --set training.log_every=10
      --set training.sample_every=0 --set training.checkpoint_every=100000)

one_process() {  # $1: output dir
  "$TRAIN" "${ARGS[@]}" --threads "$CORES" --output_dir "$1" > "$1.log" 2>&1
}
many_processes() {  # $1: output dir
  local pids=()
  local port=$((29700 + RANDOM % 1000))
  for ((r = 0; r < PROCS; r++)); do
    RANK=$r WORLD_SIZE=$PROCS LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$TRAIN" "${ARGS[@]}" --threads $((CORES / PROCS > 0 ? CORES / PROCS : 1)) --output_dir "$1" \
      > "$1.rank$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
}

for run in 1 2; do
  echo "== 1 process, run $run"; one_process "$OUT/one_$run"
  echo "== $PROCS processes, run $run"; many_processes "$OUT/many_$run"
done

/usr/bin/env python3 - "$OUT" "$PROCS" "$CORES" "$STEPS" <<'PY' > "$OUT/../dist.md"
import json, sys
out, procs, cores, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def rate(run):  # images/s over the logged intervals after the first (warm-up)
    records = [json.loads(l) for l in open(f"{out}/{run}/metrics.jsonl")]
    rates = [r["images_per_sec"] for r in records[1:]]
    return sum(rates) / len(rates)
one = [rate(f"one_{i}") for i in (1, 2)]
many = [rate(f"many_{i}") for i in (1, 2)]
print(f"Machine: {cores} cores; `scripts/bench/bench_dist.sh {procs} {steps}`: configs/quickstart.yaml "
      f"(TinyUNet, 16x16), global batch 128, {steps} steps, images/s after the first 10 steps.\n")
print(f"| run | 1 process x {cores} threads | {procs} processes x {max(1, cores // procs)} threads | ratio |")
print("|---|---:|---:|---:|")
for i in range(2):
    print(f"| {i + 1} | {one[i]:.1f} | {many[i]:.1f} | {many[i] / one[i]:.2f} |")
print(f"| mean | {sum(one) / 2:.1f} | {sum(many) / 2:.1f} | {sum(many) / sum(one):.2f} |")
PY
cat bench/dist.md
python3 scripts/bench/bench_block.py bench_dist.sh "scripts/bench/bench_dist.sh: data-parallel training, CPU" bench/dist.md
echo "wrote BENCHMARKS.md and bench/dist.md"
