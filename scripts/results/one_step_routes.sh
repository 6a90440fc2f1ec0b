#!/usr/bin/env bash
# The one-step comparison of docs/results.md ("One step against fifty"), on CPU MNIST with the
# shared recipes: every route trained for the recipes' 3,000 steps (a stopped run resumes), then
# sampled at one network evaluation per image from the same noise (--seed 0) as class grids and
# scored by FID and KID on 1,000 samples against the MNIST test set, beside CFM at 50 steps:
#   cfm          configs/cfm_mnist_cpu.yaml                  (also the 50-step reference)
#   meanflow     configs/meanflow_mnist_cpu.yaml: u-loss, guidance trained in at w = 2
#   imf          configs/imf_mnist_cpu.yaml: v-loss, guidance as an input, sampled at omega 1, 1.5, 2, 3
#   mf_from_cfm  the MeanFlow recipe started from cfm's checkpoint (--init_from)
#   reflow       CFM on COUPLINGS pairs of cfm's noise and its 20-step Euler images (CFG 2),
#                started from cfm's checkpoint: one reflow round
# Inception: $FLOWLAB_INCEPTION_WEIGHTS when set, else the hashed test weights (--random_weights),
# whose numbers compare these routes with each other only. Results: OUT/scores.jsonl and
# OUT/<route>/grid_*/class_grid.png. Takes hours on 2 cores; every route saves last.pt each 100 steps.
# STAGES picks and orders the stages (cfm, meanflow, imf, mf_from_cfm, reflow, then score, or
# score_ROUTE for one route's), so that two chains can run side by side with a core each, e.g.
#   OMP_NUM_THREADS=1 STAGES="cfm reflow mf_from_cfm" scripts/results/one_step_routes.sh &
#   OMP_NUM_THREADS=1 STAGES="meanflow imf" scripts/results/one_step_routes.sh
# Usage: [OUT=outputs/one_step] [DATA=../shared/data/mnist] [COUPLINGS=6400] [STAGES=...]
#        scripts/results/one_step_routes.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
B=build/apps
OUT=${OUT:-outputs/one_step}
DATA=${DATA:-../shared/data/mnist}
COUPLINGS=${COUPLINGS:-6400}
STAGES=${STAGES:-cfm meanflow imf mf_from_cfm reflow score}
INCEPTION=(--random_weights)
[[ -n ${FLOWLAB_INCEPTION_WEIGHTS:-} ]] && INCEPTION=(--inception_weights "$FLOWLAB_INCEPTION_WEIGHTS")
mkdir -p "$OUT"

# train NAME PROGRAM ARGS...: trains into OUT/NAME, resuming from its last.pt when there is one.
train() {
  local name=$1 program=$2
  shift 2
  local resume=()
  [[ -f $OUT/$name/last.pt ]] && resume=(--resume)
  echo "== train $name"
  "$B/$program" "$@" --data_dir "${TRAIN_DATA:-$DATA}" --output_dir "$OUT/$name" \
    --set training.checkpoint_every=100 "${resume[@]}"
}

# score NAME LABEL SAMPLING_FLAGS...: a class grid from seed 0 and FID/KID of 1,000 samples, into
# OUT/NAME/grid_LABEL and OUT/NAME/fid_LABEL.json; a label already scored is kept. The first score
# computes the reference features of the 10,000 test digits (1.1 images/s on one thread beside two
# training runs here) into OUT/reference_features.npz, which every later score reads.
score() {
  local name=$1 label=$2
  shift 2
  if [[ -f $OUT/$name/fid_$label.json ]]; then
    echo "== score $label: scored"
    return
  fi
  echo "== score $label"
  "$B/generate_samples" --checkpoint "$OUT/$name/last.pt" --class_grid --samples_per_class 10 --seed 0 \
    --output_dir "$OUT/$name/grid_$label" "$@"
  "$B/evaluate_fid" --checkpoint "$OUT/$name/last.pt" --num_samples 1000 --reference mnist-test \
    --data_dir "$DATA" --reference_cache "$OUT/reference_features.npz" --kid "${INCEPTION[@]}" \
    --output "$OUT/$name/fid_$label.json" "$@"
}

stage_cfm() { train cfm train_cfm --config configs/cfm_mnist_cpu.yaml; }
stage_meanflow() { train meanflow train_meanflow --config configs/meanflow_mnist_cpu.yaml; }
stage_imf() { train imf train_meanflow --config configs/imf_mnist_cpu.yaml; }
stage_mf_from_cfm() {
  train mf_from_cfm train_meanflow --config configs/meanflow_mnist_cpu.yaml --init_from "$OUT/cfm/last.pt"
}
stage_reflow() {
  echo "== couplings"
  "$B/generate_samples" --checkpoint "$OUT/cfm/last.pt" --couplings "$OUT/couplings" --num_samples "$COUPLINGS" \
    --sampler euler --steps 20 --cfg_scale 2 --batch_size 320
  TRAIN_DATA=$OUT/couplings train reflow train_cfm --config configs/cfm_mnist_cpu.yaml --dataset couplings \
    --init_from "$OUT/cfm/last.pt"
}
stage_score_cfm() { score cfm cfm_50_steps --steps 50 --cfg_scale 2; }
stage_score_meanflow() { score meanflow meanflow_1_step --steps 1 --cfg_scale 1; }
stage_score_imf() {
  for omega in 1 1.5 2 3; do score imf "imf_1_step_omega_$omega" --steps 1 --cfg_scale "$omega"; done
}
stage_score_mf_from_cfm() { score mf_from_cfm mf_from_cfm_1_step --steps 1 --cfg_scale 1; }
stage_score_reflow() { score reflow reflow_1_step --steps 1 --sampler euler --cfg_scale 1; }
# score: every route's score, then all of them as OUT/scores.jsonl, one line per label.
stage_score() {
  local route
  for route in cfm meanflow imf mf_from_cfm reflow; do "stage_score_$route"; done
  /usr/bin/python3 - "$OUT" >"$OUT/scores.jsonl" <<'PY'
import glob, json, os, sys
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*", "fid_*.json"))):
    record = json.load(open(path))
    record["route"] = os.path.basename(path)[len("fid_"):-len(".json")]
    print(json.dumps(record))
PY
  echo "scores: $OUT/scores.jsonl"
}

for stage in $STAGES; do "stage_$stage"; done
