#!/usr/bin/env bash
# flowlab as another project sees it (a ctest; docs/library.md): installs BUILD_DIR into a
# temporary prefix, trains a tiny checkpoint with the installed train_cfm, builds examples/ as
# its own CMake project against that prefix alone, runs generate twice with one seed (the PNGs
# must be byte-identical and of the model's size) and inpaint once, then packs the .deb and
# checks its file list.
# Usage: scripts/checks/check_install.sh BUILD_DIR [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=$(realpath "${1:?usage: check_install.sh BUILD_DIR [WORK_DIR]}")
WORK=${2:-$(mktemp -d)}
mkdir -p "$WORK"
WORK=$(realpath "$WORK")
PREFIX=$WORK/prefix

step() { echo "== $*"; }
fail() { echo "check_install: $*" >&2; exit 1; }

step "install into $PREFIX"
cmake --install "$BUILD_DIR" --prefix "$PREFIX" >/dev/null
for f in bin/train_cfm bin/generate_samples include/flowlab/flowlab.h lib/libflowlab.a \
         lib/cmake/flowlab/flowlabConfig.cmake lib/cmake/flowlab/flowlabTargets.cmake; do
  [[ -e $PREFIX/$f ]] || fail "the install lacks $f"
done

step "a tiny checkpoint from the installed train_cfm"
"$PREFIX/bin/train_cfm" --config configs/quickstart.yaml --steps 2 --output_dir "$WORK/run" \
  --set training.sample_every=0 --set data.num_images=200 --set model.base_channels=8 --set model.channel_mults=[1,2] \
  --set model.attention_resolutions=[] --set model.num_heads=1 >"$WORK/train.log" 2>&1 ||
  { cat "$WORK/train.log"; fail "train_cfm failed"; }

step "examples/ against the prefix alone"
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
cmake -S examples -B "$WORK/examples" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/configure.log" 2>&1 || { cat "$WORK/configure.log"; fail "configure failed"; }
cmake --build "$WORK/examples" -j 2 >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "build failed"; }

step "generate, twice with one seed"
"$WORK/examples/generate" "$WORK/run/last.pt" "$WORK/a.png" 3 7
"$WORK/examples/generate" "$WORK/run/last.pt" "$WORK/b.png" 3 7
cmp "$WORK/a.png" "$WORK/b.png" || fail "two runs with seed 7 wrote different PNGs"
"$WORK/examples/generate" "$WORK/run/last.pt" "$WORK/c.png" 3 8
cmp -s "$WORK/a.png" "$WORK/c.png" && fail "seeds 7 and 8 wrote the same PNG"
# The quickstart data: 10 classes of 16x16 images, in one row with 2-pixel padding: 182 x 20.
size=$(python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(24); print(*struct.unpack('>II', d[16:24]))" "$WORK/a.png")
[[ $size == "182 20" ]] || fail "generate wrote a $size PNG, expected 182 20"

step "inpaint"
cp "$WORK/a.png" "$WORK/photo.png"
"$WORK/examples/inpaint" "$WORK/run/last.pt" "$WORK/photo.png" "$WORK/inpainted.png" 1
[[ -s $WORK/inpainted.png ]] || fail "inpaint wrote nothing"
"$WORK/examples/generate" "$WORK/missing.pt" "$WORK/x.png" 2>"$WORK/error.txt" && fail "a missing checkpoint did not fail"
[[ $(wc -l <"$WORK/error.txt") -eq 1 ]] || { cat "$WORK/error.txt"; fail "a missing checkpoint gave more than one line"; }

step "the Debian package"
(cd "$BUILD_DIR" && cpack -G DEB -B "$WORK/deb" >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack failed"; }
deb=$(ls "$WORK"/deb/flowlab_*_amd64.deb 2>/dev/null | head -1)
[[ -n $deb ]] || fail "cpack wrote no flowlab_VERSION_amd64.deb"
listing=$(dpkg-deb -c "$deb")
for f in ./opt/flowlab/bin/train_cfm ./opt/flowlab/bin/generate_samples ./opt/flowlab/include/flowlab/flowlab.h \
         ./opt/flowlab/lib/cmake/flowlab/flowlabConfig.cmake ./opt/flowlab/lib/libflowlab.a; do
  grep -q " $f\$" <<<"$listing" || fail "$(basename "$deb") lacks $f"
done
dpkg-deb -f "$deb" Depends | grep -q libtorch-dev || fail "the package does not depend on libtorch-dev"
echo "check_install: passed ($(basename "$deb"))"
