#!/usr/bin/env bash
# Compile time of one unity batch (FLOWLAB_UNITY_BUILD, CMakeLists.txt): the batch's sources
# compiled one by one against the same sources compiled as the one batch file, alternating ROUNDS
# times (default 3), ccache off. Prints CPU seconds (user + system) per round and their ratio.
# Both build folders must have their precompiled header built (any build of the target does it):
#   cmake -S . -B build-unity -G Ninja -DFLOWLAB_UNITY_BUILD=ON  && cmake --build build-unity
#   cmake -S . -B build-plain -G Ninja -DFLOWLAB_UNITY_BUILD=OFF && cmake --build build-plain
# Usage: [ROUNDS=N] scripts/bench/bench_unity.sh UNITY_DIR PLAIN_DIR [TARGET] [BATCH]
#   TARGET: flowlab (default), flowlab_cli or flowlab_tests; BATCH: the batch's number (default 1)
set -euo pipefail
UNITY_DIR=$(realpath "$1")
PLAIN_DIR=$(realpath "$2")
TARGET=${3:-flowlab}
BATCH=${4:-1}
ROUNDS=${ROUNDS:-3}
batch_file=$UNITY_DIR/CMakeFiles/$TARGET.dir/Unity/unity_${BATCH}_cxx.cxx
[[ -f $batch_file ]] || { echo "bench_unity.sh: no $batch_file (configure $UNITY_DIR with FLOWLAB_UNITY_BUILD=ON)" >&2; exit 2; }
mapfile -t sources < <(sed -n 's/^#include "\(.*\)"$/\1/p' "$batch_file")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# compile_command DIR SOURCE: the compiler call ninja makes for SOURCE in DIR, writing into scratch.
compile_command() {
  (cd "$1" && ninja -t commands "$TARGET") | grep -F -- "-c $2" | tail -n 1 |
    sed -e 's/^.*ccache //' -e "s# -MD -MT [^ ]* -MF [^ ]* # #" -e "s# -o [^ ]* # -o $scratch/out.o #" |
    sed -e "s#^#cd $1 \&\& #"
}
compile_command "$UNITY_DIR" "$batch_file" >"$scratch/unity.sh"
for source in "${sources[@]}"; do compile_command "$PLAIN_DIR" "$source"; done >"$scratch/plain.sh"

# cpu_seconds SCRIPT: user + system seconds the script's compiles take.
cpu_seconds() {
  CCACHE_DISABLE=1 /usr/bin/time -f "%U %S" -o "$scratch/time" bash -e "$1" >/dev/null
  awk '{print $1 + $2}' "$scratch/time"
}

echo "$TARGET batch $BATCH: ${#sources[@]} sources"
for round in $(seq "$ROUNDS"); do
  plain=$(cpu_seconds "$scratch/plain.sh")
  unity=$(cpu_seconds "$scratch/unity.sh")
  echo "round $round: one by one ${plain} s, as one batch ${unity} s, ratio $(echo "scale=2; $plain / $unity" | bc)"
done
