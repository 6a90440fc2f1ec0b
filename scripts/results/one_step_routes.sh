#!/usr/bin/env bash
# The one-step comparison of docs/results.md ("One step against fifty"), on CPU MNIST with the
# shared recipes: every route trained for the recipes' 3,000 steps (a stopped run resumes), then
# sampled at one network evaluation per image from the same noise (--seed 0), 100 per class, and
# judged (see score below) beside CFM at 50 steps:
#   cfm          configs/cfm_mnist_cpu.yaml                  (also the 50-step reference)
#   meanflow     configs/meanflow_mnist_cpu.yaml: u-loss, guidance trained in at w = 2
#   imf          configs/imf_mnist_cpu.yaml: v-loss, guidance as an input, sampled at omega 1, 1.5, 2, 3
#   mf_from_cfm  the MeanFlow recipe started from cfm's checkpoint (--init_from)
#   reflow       CFM on COUPLINGS pairs of cfm's noise and its 20-step Euler images (CFG 2),
#                started from cfm's checkpoint: one reflow round
# Judges: an MNIST classifier (scripts/results/mnist_classifier.py: accuracy and Frechet distance in
# its features) and Inception ($FLOWLAB_INCEPTION_WEIGHTS when set, else the hashed test weights,
# --random_weights, whose numbers compare these routes with each other only). Results:
# OUT/scores.jsonl (scripts/results/one_step_table.py makes the table) and
# OUT/<route>/grid_*/class_grid.png. Takes hours on 2 cores; every route saves last.pt each 100 steps.
# STAGES picks and orders the stages (cfm, meanflow, imf, mf_from_cfm, reflow, then score, or
# score_ROUTE for one route's, score_real for the real digits' floor), so that two chains can run
# side by side with a core each, e.g.
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

# score NAME LABEL SAMPLING_FLAGS...: into OUT/NAME, from seed 0:
#   grid_LABEL/class_grid.png     10 samples per class, for the docs;
#   samples_LABEL/images          100 samples per class (class-major), judged three ways:
#   accuracy_LABEL.json           the MNIST classifier's accuracy on them (is each the digit asked for);
#   fd_cnn_LABEL.json             Frechet distance and KID in that classifier's features against the
#                                 10,000 MNIST test digits;
#   fid_LABEL.json                FID and KID with the Inception weights (hashed unless
#                                 FLOWLAB_INCEPTION_WEIGHTS is set) of every fifth sample (20 per
#                                 class) against the first 1,000 test digits: Inception costs about
#                                 0.5 core-seconds per image here, so the full sets would take hours.
# A file already written is kept, so a stopped score resumes.
score() {
  local name=$1 label=$2
  shift 2
  local dir=$OUT/$name
  echo "== score $label"
  prepare_judges
  [[ -f $dir/grid_$label/generation.json ]] ||
    "$B/generate_samples" --checkpoint "$dir/last.pt" --class_grid --samples_per_class 10 --seed 0 \
      --output_dir "$dir/grid_$label" "$@"
  [[ -f $dir/samples_$label/generation.json ]] ||
    "$B/generate_samples" --checkpoint "$dir/last.pt" --class_grid --samples_per_class 100 --seed 0 \
      --save_individual --output_dir "$dir/samples_$label" "$@"
  judge "$dir" "$label"
}

# judge DIR LABEL: the three judgements of DIR/samples_LABEL/images (100 per class, class-major).
judge() {
  local dir=$1 label=$2
  if [[ ! -f $dir/accuracy_$label.json ]]; then
    /usr/bin/python3 scripts/results/mnist_classifier.py accuracy "$OUT/mnist_cnn.pt" "$dir/samples_$label/images" 100 \
      >"$dir/accuracy_$label.json.part"
    mv "$dir/accuracy_$label.json.part" "$dir/accuracy_$label.json"
  fi
  [[ -f $dir/fd_cnn_$label.json ]] ||
    "$B/evaluate_fid" --images "$dir/samples_$label/images" --image_size 16 --reference mnist-test --data_dir "$DATA" \
      --feature_extractor "$OUT/mnist_cnn.pt" --reference_cache "$OUT/reference_mnist_cnn.npz" --kid \
      --output "$dir/fd_cnn_$label.json"
  if [[ ! -f $dir/fid_$label.json ]]; then
    rm -rf "$dir/fifth_$label" && mkdir -p "$dir/fifth_$label"
    local image
    for image in "$dir/samples_$label"/images/*[05].png; do ln -s "$(realpath "$image")" "$dir/fifth_$label/"; done
    "$B/evaluate_fid" --images "$dir/fifth_$label" --image_size 16 --reference mnist-test --data_dir "$OUT/mnist_test_1000" \
      --reference_cache "$OUT/reference_inception_1000.npz" --kid "${INCEPTION[@]}" --output "$dir/fid_$label.json"
  fi
}

# The judges: the MNIST classifier (trained once, a few minutes on a core), the first 1,000 test
# digits as an MNIST directory of their own, and 100 training digits per class as the floor.
prepare_judges() {
  [[ -f $OUT/mnist_cnn.pt ]] || /usr/bin/python3 scripts/results/mnist_classifier.py train "$OUT/mnist_cnn.pt" --data_dir "$DATA"
  local real=$OUT/real/samples_training_digits/images
  if [[ ! -d $real ]]; then
    rm -rf "$real.part"
    /usr/bin/python3 scripts/results/mnist_classifier.py real_digits "$real.part" 100 --data_dir "$DATA"
    mv "$real.part" "$real"
  fi
  [[ -f $OUT/mnist_test_1000/t10k-labels-idx1-ubyte.gz ]] ||
    /usr/bin/python3 scripts/results/mnist_classifier.py test_subset "$OUT/mnist_test_1000" 1000 --data_dir "$DATA"
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
stage_score_real() { prepare_judges; judge "$OUT/real" training_digits; }
stage_score_cfm() {
  score cfm cfm_50_steps --steps 50 --cfg_scale 2
  score cfm cfm_1_step --steps 1 --sampler euler --cfg_scale 1 # what one step of the flow itself gives
}
stage_score_meanflow() { score meanflow meanflow_1_step --steps 1 --cfg_scale 1; }
stage_score_imf() {
  for omega in 1 1.5 2 3; do score imf "imf_1_step_omega_$omega" --steps 1 --cfg_scale "$omega"; done
}
stage_score_mf_from_cfm() { score mf_from_cfm mf_from_cfm_1_step --steps 1 --cfg_scale 1; }
stage_score_reflow() { score reflow reflow_1_step --steps 1 --sampler euler --cfg_scale 1; }
# score: every route's score.
stage_score() {
  local route
  for route in real cfm meanflow imf mf_from_cfm reflow; do "stage_score_$route"; done
}
# OUT/scores.jsonl: per label, its generation.json with the judges' results beside it.
gather_scores() {
  /usr/bin/python3 - "$OUT" >"$OUT/scores.jsonl" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
for images in sorted(glob.glob(os.path.join(out, "*", "samples_*", "images"))):
    folder = os.path.dirname(images)
    route_dir, label = os.path.dirname(folder), os.path.basename(folder)[len("samples_"):]
    record = {"route": os.path.basename(route_dir), "label": label}
    if os.path.exists(os.path.join(folder, "generation.json")):
        record["generation"] = json.load(open(os.path.join(folder, "generation.json")))
    for key, name in (("accuracy", "accuracy"), ("fd_cnn", "fd_cnn"), ("inception", "fid")):
        path = os.path.join(route_dir, f"{name}_{label}.json")
        if os.path.exists(path):
            record[key] = json.load(open(path))
    print(json.dumps(record))
PY
  echo "scores: $OUT/scores.jsonl"
}

for stage in $STAGES; do "stage_$stage"; done
if [[ $STAGES == *score* ]]; then gather_scores; fi
