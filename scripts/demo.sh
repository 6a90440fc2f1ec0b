#!/usr/bin/env bash
# The quickstart: trains a class-conditional flow-matching model on the built-in `shapes` dataset
# (no download), then samples one row per class with classifier-free guidance.
# Extra arguments go to train_cfm, e.g. scripts/demo.sh --steps 200.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh train_cfm generate_samples
OUT=outputs/quickstart
build/apps/train_cfm --config configs/quickstart.yaml --output_dir "$OUT" "$@"
build/apps/generate_samples --checkpoint "$OUT/last.pt" --class_grid --samples_per_class 10 \
  --sampler heun --steps 12 --cfg_scale 2.0 --trajectory 6 --output_dir "$OUT/demo"
echo "class grid:  $OUT/demo/class_grid.png"
echo "trajectory:  $OUT/demo/trajectory.png"
echo "training:    $OUT/metrics.jsonl, samples in $OUT/samples/"
