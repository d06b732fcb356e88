#!/usr/bin/env bash
# Installs the Debian packages janus builds with (idempotent). Used by .ci/run and quickstart.
set -euo pipefail
pkgs=(cmake g++ make pkg-config libopenblas-dev nlohmann-json3-dev libcli11-dev libpcre2-dev
      libgtest-dev clang clang-format libclang-rt-14-dev libopencv-dev libstb-dev libjpeg-dev zlib1g-dev
      ccache)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
