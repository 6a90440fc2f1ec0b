#!/usr/bin/env bash
# Installs everything flowlab needs to build, test and run its demo on Debian 12.
# Idempotent: packages already present are skipped. Uses sudo only when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache git pkg-config
  libtorch-dev libyaml-cpp-dev libcxxopts-dev libspdlog-dev libfmt-dev
  libstb-dev nlohmann-json3-dev libgtest-dev zlib1g-dev libopenblas0-pthread libgloo-dev
  libprotobuf-dev protobuf-compiler libgif-dev
  python3 python3-numpy python3-protobuf python3-crc32c
)
# Optional extras: golden-value generators, weight export check, plots.
if [[ "${FLOWLAB_SETUP_PYTHON:-0}" == "1" ]]; then
  PACKAGES+=(python3-torch python3-torchvision python3-yaml python3-scipy python3-skimage python3-matplotlib)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
