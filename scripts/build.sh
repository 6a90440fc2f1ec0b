#!/usr/bin/env bash
# Configures (once) and builds flowlab in Release mode into build/.
# Usage: scripts/build.sh [target ...]   (default: everything, tests included)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${FLOWLAB_BUILD_DIR:-build}
JOBS=${FLOWLAB_JOBS:-$(nproc)}
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
if [[ $# -gt 0 ]]; then
  cmake --build "$BUILD_DIR" -j "$JOBS" --target "$@"
else
  cmake --build "$BUILD_DIR" -j "$JOBS"
fi
