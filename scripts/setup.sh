#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what fhirgen needs on Debian/Ubuntu and build it into ./build.
# Safe to run again: it installs only what is missing and rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(gcc pkg-config meson ninja-build libjansson-dev libcurl4-openssl-dev uuid-dev
          libssl-dev libcmocka-dev openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -d build ]; then
  meson setup build >/dev/null
fi
ninja -C build >/dev/null
echo "setup: built build/cli/fhirgen"
