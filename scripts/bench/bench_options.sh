#!/usr/bin/env bash
# One set of `benchmark` variants side by side, each variant in its own process (so the peak RSS
# column is its own; host memory only), alternating ROUNDS times (default 3). Writes the table into
# BENCHMARKS.md (between the "bench_options.sh SET" markers) and bench/SET.md.
#   meanflow: CFM's training step against MeanFlow's, with meanflow.jvp_pass separate and fused
#             (configs/quickstart.yaml, batch 128, 8 timed steps after 2 warm-up steps);
#   accumulate: CFM training at training.accumulate 1, 2 and 4, at the same global batch of 128
#             (configs/quickstart.yaml, 16 timed steps after 2 warm-up steps);
#   compute:  fp32 against compute.precision bf16 and compute.channels_last, training and sampling
#             rows for CFM and MeanFlow (batch 128, 5 timed steps, 64 samples).
#   optimizer: CFM training with AdamW and with Muon (configs/quickstart.yaml, batch 128, 30 timed steps);
#   checkpointing: CFM training without and with model.checkpointing, TinyUNet (configs/quickstart.yaml,
#             batch 128, 8 timed steps);
#   checkpointing_dit: the same for DiT-S/2 on 32x32 images (batch 32, 3 timed steps).
# Run scripts/test.sh first (it builds the app). ONLY="A B" runs just those of the set's variants
# (e.g. ONLY="fp32 channels_last" for compute on a CPU where bf16 takes many times as long).
# Usage: [ROUNDS=N] [ONLY=VARIANTS] scripts/bench/bench_options.sh SET [--device cuda] [any benchmark flag]
set -euo pipefail
cd "$(dirname "$0")/../.."
SET=${1:-}
shift || true
BUILD_DIR=${FLOWLAB_BUILD_DIR:-build}
BENCH=$BUILD_DIR/apps/benchmark
ROUNDS=${ROUNDS:-3}
[[ -x $BENCH ]] || { echo "error: $BENCH not built; run scripts/test.sh first" >&2; exit 1; }
declare -A OPTION
case "$SET" in
  meanflow)
    VARIANTS=(cfm separate fused)
    OPTION=([cfm]="--methods cfm" [separate]="--methods meanflow --set meanflow.jvp_pass=separate"
            [fused]="--methods meanflow --set meanflow.jvp_pass=fused")
    ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 8 --warmup 2 --suite train "$@");;
  accumulate)
    VARIANTS=(k1 k2 k4)
    OPTION=([k1]="--set training.accumulate=1" [k2]="--set training.accumulate=2" [k4]="--set training.accumulate=4")
    ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 16 --warmup 2 --suite train --methods cfm "$@");;
  compute)
    VARIANTS=(fp32 bf16 channels_last)
    OPTION=([fp32]="" [bf16]="--precision bf16" [channels_last]="--channels_last true")
    ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 5 --num_samples 64 --sample_batch_size 64
          --suite train,sample --methods cfm,meanflow "$@");;
  optimizer)
    VARIANTS=(adamw muon)
    OPTION=([adamw]="--set training.optimizer=adamw" [muon]="--set training.optimizer=muon")
    ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 30 --warmup 2 --suite train --methods cfm "$@");;
  checkpointing|checkpointing_dit)
    VARIANTS=(plain checkpointed)
    OPTION=([plain]="" [checkpointed]="--set model.checkpointing=true")
    if [[ $SET == checkpointing ]]; then
      ARGS=(--config configs/quickstart.yaml --batch_size 128 --steps 8 --warmup 2 --suite train --methods cfm "$@")
    else
      ARGS=(--config configs/quickstart.yaml --model dit --variant DiT-S/2 --image_size 32 --batch_size 32 --steps 3
            --warmup 1 --suite train --methods cfm "$@")
    fi;;
  *) echo "usage: [ROUNDS=N] scripts/bench/bench_options.sh meanflow|accumulate|compute|optimizer|checkpointing|" \
          "checkpointing_dit [benchmark flags]" >&2; exit 2;;
esac
[[ -n ${ONLY:-} ]] && read -ra VARIANTS <<<"$ONLY"
OUT=bench/$SET
rm -rf "$OUT" && mkdir -p "$OUT"
for run in $(seq "$ROUNDS"); do
  for variant in "${VARIANTS[@]}"; do
    echo "== $variant, round $run"
    # shellcheck disable=SC2086
    "$BENCH" "${ARGS[@]}" ${OPTION[$variant]} --output "$OUT/${variant}_$run.json" > "$OUT/${variant}_$run.log"
  done
done
python3 scripts/bench/bench_options_table.py "$OUT" "$ROUNDS" "${ONLY:+ONLY=\"$ONLY\" }scripts/bench/bench_options.sh $SET${*:+ $*}" "${VARIANTS[@]}" \
  > "bench/$SET.md"
cat "bench/$SET.md"
python3 scripts/bench/bench_block.py "bench_options.sh $SET" "scripts/bench/bench_options.sh $SET" "bench/$SET.md"
echo "wrote BENCHMARKS.md and bench/$SET.md"
