#!/usr/bin/env bash
# Installs what is missing, builds everything in Release mode, and runs the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${FLOWLAB_BUILD_DIR:-build}"
ctest --output-on-failure -j "${FLOWLAB_JOBS:-$(nproc)}"
