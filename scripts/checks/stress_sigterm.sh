#!/usr/bin/env bash
# Preemption as cluster schedulers do it: SIGTERM at a random moment, SIGKILL a grace period later.
# Each run must
#   - stop within the grace period (exit 130), or have finished (exit 0), or have been stopped before
#     its first step (its data loading: no checkpoint is owed then);
#   - leave a readable last.pt and no temporary file;
#   - resume (--resume) to exactly the weights of an uninterrupted run.
# The recipe draws a sample grid every 5 steps (40 sampling steps), so SIGTERM lands in grids,
# steps, checkpoint writes, the final export and the final grid alike.
# Usage: scripts/checks/stress_sigterm.sh [runs, default 30] [grace seconds, default 15] [first run, default 1]
#   (runs FIRST..RUNS, each with its own random moment: two machines or cores can share the 30)
# Needs a build (scripts/build.sh) and python3 (the weight comparison).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-30}
GRACE=${2:-15}
FIRST=${3:-1}
TRAIN=${FLOWLAB_BUILD_DIR:-build}/apps/train_cfm
WORK=$(mktemp -d /tmp/flowlab_sigterm_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
FLAGS=(--config configs/quickstart.yaml --steps 40 --batch_size 8 --threads 1
       --set model.base_channels=8 --set data.num_images=64 --set training.log_every=1
       --set training.sample_every=5 --set training.checkpoint_every=10 --set sampling.steps=40)

# The tensors of a safetensors file, without its metadata (which names the output folder).
tensor_bytes() {
  python3 - "$1" <<'EOF'
import hashlib, json, struct, sys
data = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
header.pop("__metadata__", None)
print(hashlib.sha256(json.dumps(header, sort_keys=True).encode() + data[8 + n:]).hexdigest())
EOF
}

echo "reference: one uninterrupted run"
start=$(date +%s.%N)
"$TRAIN" "${FLAGS[@]}" --output_dir "$WORK/reference" >"$WORK/reference.log" 2>&1
duration=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
expected=$(tensor_bytes "$WORK/reference/weights_ema.safetensors")
echo "reference: ${duration} s, EMA weights $expected"

failures=0
fail() { echo "  FAIL: $*"; failures=$((failures + 1)); }
for ((i = FIRST; i <= RUNS; i++)); do
  dir="$WORK/run$i"
  # A moment anywhere in the run, from its start to a little past its end.
  at=$(python3 -c "import random; random.seed($i); print(round(random.uniform(0.05, 1.05) * $duration, 2))")
  set +e
  timeout --preserve-status -k "$GRACE" -s TERM "$at" "$TRAIN" "${FLAGS[@]}" --output_dir "$dir" >"$dir.log" 2>&1
  code=$?
  set -e
  steps=$( [[ -f "$dir/metrics.jsonl" ]] && grep -c '"step"' "$dir/metrics.jsonl" || echo 0)
  abandoned=$(grep -o 'stop requested during [a-z ]*' "$dir.log" | head -1 || true)
  echo "run $i: SIGTERM at ${at} s, exit $code, ${steps} steps logged${abandoned:+, $abandoned}"
  case $code in
    0 | 130) ;;
    143) [[ $steps -eq 0 ]] || fail "killed by SIGTERM after step 1 (handlers not installed?)" ;;
    137) fail "still running ${GRACE} s after SIGTERM: SIGKILL" ;;
    *) fail "exit $code"; tail -3 "$dir.log" ;;
  esac
  if [[ -n $(find "$dir" -name '*.tmp' 2>/dev/null) ]]; then fail "temporary files left: $(find "$dir" -name '*.tmp')"; fi
  if [[ $steps -gt 0 && ! -f "$dir/last.pt" ]]; then fail "no last.pt after ${steps} steps"; continue; fi
  resume=()
  [[ -f "$dir/last.pt" ]] && resume=(--resume)
  if ! "$TRAIN" "${FLAGS[@]}" --output_dir "$dir" "${resume[@]}" >>"$dir.log" 2>&1; then
    fail "the resumed run failed"; tail -3 "$dir.log"; continue
  fi
  got=$(tensor_bytes "$dir/weights_ema.safetensors")
  [[ "$got" == "$expected" ]] || fail "resumed to other weights ($got)"
  rm -rf "$dir"
done
echo "$((RUNS - FIRST + 1 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
