#!/usr/bin/env bash
# .ci/deps.sh — install what the build needs (Debian 12), only if something is missing.
set -euo pipefail

# libclang-rt-14-dev holds libFuzzer and the sanitizer runtimes for clang; Debian 12 only
# recommends it with clang, so name it.
# python3-libtorrent and transmission-daemon are the peers of the interop tests
# (test/interop: libtorrent-rasterbar 2.0.8 and Transmission 3.00 with libutp).
# nftables, ethtool and npm (utp-native, i.e. libutp) serve the loss benchmark
# (test/bench/loss_bench.sh); utp-native also the libutp interop tests.
# python3-matplotlib: tools/plot_trace.py (connection traces as plots) and its test.
# iproute2 (ip, tc) builds the network namespaces and the tbf bottleneck of the
# `bottleneck` label (test/bottleneck).
packages=(build-essential cmake libboost1.81-dev libboost-test1.81-dev libssl-dev clang
          libclang-rt-14-dev python3-libtorrent python3-matplotlib transmission-daemon
          nftables ethtool iproute2)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        missing+=("$p")
    fi
done

# libutp as a peer: npm's utp-native 2.5.3 (bundles libutp, prebuilt for linux-x64),
# installed into .deps/npm of the source tree (ignored by git).
npm_dir="$(cd "$(dirname "$0")/.." && pwd)/.deps/npm"
install_npm() {
    if [ ! -d "$npm_dir/node_modules/utp-native" ]; then
        echo "deps: npm install utp-native@2.5.3 into $npm_dir"
        mkdir -p "$npm_dir"
        npm install --prefix "$npm_dir" --no-audit --no-fund utp-native@2.5.3 >/dev/null ||
            echo "deps: utp-native not installed (no npm registry?); the libutp benchmark rows will be skipped" >&2
    fi
}

# npm comes with Debian's npm package or with a nodejs from elsewhere (NodeSource): ask for
# the package only if no npm is on the PATH.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "deps: all present (${packages[*]})"
    install_npm
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
install_npm
