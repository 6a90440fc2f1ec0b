#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes each reader for a bounded time.
# Crashing inputs land in fuzz/regressions/TARGET/, where the normal test suite replays them
# (FuzzRegression test); commit them with the fix.
# Usage: scripts/checks/fuzz.sh [seconds per target, default 60] [target ...]
#   targets: config cifar idx npz checkpoint image safetensors latents torch_file pickle (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/checks/sanitizer_build.sh
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(config cifar idx npz checkpoint image safetensors latents torch_file pickle couplings)

configure_sanitizer_build
cmake --build "$SANITIZE_DIR" -j "${FLOWLAB_JOBS:-$(nproc)}" --target "${TARGETS[@]/#/fuzz_}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
for target in "${TARGETS[@]}"; do
  work="$SANITIZE_DIR/fuzz/corpus_$target"  # grows between runs; the seeds stay in fuzz/corpus
  mkdir -p "$work" "fuzz/regressions/$target"
  echo "== fuzz_$target for ${SECONDS_PER_TARGET}s"
  if "$SANITIZE_DIR/fuzz/fuzz_$target" "$work" "fuzz/corpus/$target" \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="fuzz/regressions/$target/" 2>"$SANITIZE_DIR/fuzz/$target.log"; then
    grep -E "stat::number_of_executed_units|Done" "$SANITIZE_DIR/fuzz/$target.log" | tail -2 || true
  else
    failed+=("$target")
    tail -30 "$SANITIZE_DIR/fuzz/$target.log"
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "error: crashing inputs for: ${failed[*]} (kept in fuzz/regressions/)" >&2
  exit 1
fi
echo "no crashes in ${#TARGETS[@]} targets x ${SECONDS_PER_TARGET}s"
