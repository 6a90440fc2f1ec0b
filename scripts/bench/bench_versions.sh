#!/usr/bin/env bash
# Two builds of `benchmark` side by side (a commit before a change and after it), alternating
# ROUNDS times (default 3), each run in its own process; prints the table of
# scripts/bench/bench_options_table.py (images/s per row, each round, and the time ratio new / old).
# Build the old one in a worktree first, e.g.
#   git worktree add /tmp/before COMMIT && cmake -S /tmp/before -B /tmp/before/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=Release -DFLOWLAB_BUILD_TESTS=OFF && cmake --build /tmp/before/build --target benchmark
# Usage: [ROUNDS=N] scripts/bench/bench_versions.sh OLD_BENCHMARK NEW_BENCHMARK [benchmark flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=${1:?old benchmark binary}
NEW=${2:?new benchmark binary}
shift 2
ROUNDS=${ROUNDS:-3}
OUT=$(mktemp -d)
for round in $(seq 1 "$ROUNDS"); do
  for variant in before after; do
    bin=$OLD; [[ $variant == after ]] && bin=$NEW
    echo "round $round: $variant" >&2
    "$bin" "$@" --output "$OUT/${variant}_${round}.json" >/dev/null
  done
done
python3 scripts/bench/bench_options_table.py "$OUT" "$ROUNDS" "scripts/bench/bench_versions.sh OLD NEW $*" before after
