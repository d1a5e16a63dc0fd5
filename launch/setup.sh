#!/usr/bin/env bash
# Installs what swift-ddp needs on a fresh Debian machine and builds it.
# Idempotent: packages already present are not touched.
#   launch/setup.sh            install + debug build
#   launch/setup.sh release    install + release build
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libopenmpi-dev openmpi-bin libopenblas-dev libdnnl-dev pkg-config zlib1g-dev libturbojpeg0-dev libsentencepiece-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
    echo "setup: no Swift toolchain on PATH; install Swift 6 (https://www.swift.org/install/linux/) and retry" >&2
    exit 1
fi

configuration="${1:-debug}"
swift build -c "$configuration" --product ddp
