#!/usr/bin/env bash
# Builds flowlab with clang, AddressSanitizer and UndefinedBehaviorSanitizer into build-sanitize/
# and runs the whole test suite there. Any sanitizer report fails the run.
# Usage: scripts/checks/sanitize.sh [ctest arguments, e.g. -R Inpainting]
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/checks/sanitizer_build.sh
configure_sanitizer_build
cmake --build "$SANITIZE_DIR" -j "${FLOWLAB_JOBS:-$(nproc)}"  # the tests run the app binaries too
cd "$SANITIZE_DIR"
# halt_on_error: the first report ends the test with a failure; leaks are checked too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
ctest --output-on-failure -j "${FLOWLAB_JOBS:-$(nproc)}" "$@"
