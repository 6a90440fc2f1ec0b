# Sourced by scripts/checks/sanitize.sh and scripts/checks/fuzz.sh: one clang build with ASan + UBSan and
# libFuzzer's coverage instrumentation serves both the sanitized tests and the fuzz targets.
SANITIZE_DIR=${FLOWLAB_SANITIZE_DIR:-build-sanitize}
configure_sanitizer_build() {
  if ! command -v clang++ >/dev/null; then
    echo "error: clang++ is needed (sudo apt-get install clang)" >&2
    exit 1
  fi
  local flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
  flags+=" -fsanitize=fuzzer-no-link -fno-omit-frame-pointer"
  CC=clang CXX=clang++ cmake -S . -B "$SANITIZE_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DFLOWLAB_FUZZ=ON \
    -DFLOWLAB_TEST_TIMEOUT=1500 >/dev/null
}
