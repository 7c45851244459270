#!/usr/bin/env bash
# .ci/deps.sh — install what the build needs (Debian 12), only if something is missing.
set -euo pipefail

# libclang-rt-14-dev holds libFuzzer and the sanitizer runtimes for clang; Debian 12 only
# recommends it with clang, so name it.
# python3-libtorrent and transmission-daemon are the peers of the interop tests
# (test/interop: libtorrent-rasterbar 2.0.8 and Transmission 3.00 with libutp).
packages=(build-essential cmake libboost1.81-dev libboost-test1.81-dev libssl-dev clang
          libclang-rt-14-dev python3-libtorrent transmission-daemon)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: all present (${packages[*]})"
    exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "deps: not root and no sudo; install these first: ${missing[*]}" >&2
        exit 1
    fi
fi
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
