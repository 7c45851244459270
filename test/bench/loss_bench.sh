#!/usr/bin/env bash
# loss_bench.sh [MiB] — µTP goodput on a lossy path, beside TCP's, in one run.
#
# Creates a private network namespace (root only) whose loopback has a 1500-byte MTU, no
# segmentation offload (so TCP, like µTP, puts one ~1.4 kB packet per datagram and loses
# one packet per drop, not a 64 KiB super-segment) and an nft rule dropping a share of
# every UDP datagram and TCP segment leaving it, then for
# 0, 1, 5 and 10 % loss runs, in it:
#   - utp-bench --only a: this library's bulk goodput beside kernel TCP's (same process,
#     same path, same loss);
#   - utpcat → libutp (npm utp-native, default 208 KiB UDP receive buffer, driven by
#     test/interop/libutp_peer.js): our sender
#     against the reference receiver, as BitTorrent clients run it.
# Prints one table. Each run is bounded by `timeout`; the namespace is deleted on exit.
# UTP_CC=ledbat++ (or newreno) gives utpcat that congestion controller (--cc) for the
# libutp column; utp-bench's column stays on the library's default (LEDBAT).
# Needs: build/test/bench/utp-bench and build/example/utpcat (Release), nft, node with
# utp-native in .deps/npm, ethtool (bash .ci/deps.sh installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mib=${1:-64}
bench=$root/build/test/bench/utp-bench
utpcat=$root/build/example/utpcat
export NODE_PATH=$root/.deps/npm/node_modules
[ "$(id -u)" -eq 0 ] || { echo "loss_bench: needs root (network namespace, nft)" >&2; exit 2; }
command -v nft >/dev/null || { echo "loss_bench: install nftables" >&2; exit 2; }
command -v ethtool >/dev/null || { echo "loss_bench: install ethtool" >&2; exit 2; }
[ -x "$bench" ] && [ -x "$utpcat" ] || { echo "loss_bench: build first (cmake --build build)" >&2; exit 2; }
cc_args=()
[ -n "${UTP_CC:-}" ] && cc_args=(--cc "$UTP_CC")
have_libutp=1
node -e "require('utp-native')" 2>/dev/null || have_libutp=0

ns=utp-loss-bench-$$
ip netns add "$ns"
trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo mtu 1500 up
in_ns ethtool -K lo tso off gso off gro off >/dev/null
in_ns nft add table inet lossy
in_ns nft add chain inet lossy out '{ type filter hook output priority 0; }'

to_libutp() { # sets $lib to MB/s, or a reason
    local out fifo port t0 t1 rc pid
    out=$(mktemp)
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    # The peer script stops when its stdin closes: fd 9 holds the FIFO open for the run.
    in_ns timeout 200 node "$root/test/interop/libutp_peer.js" recv 127.0.0.1 \
        <"$fifo" >"$out" 2>/dev/null &
    pid=$!
    exec 9>"$fifo"
    for _ in $(seq 100); do grep -q '^listening' "$out" && break; sleep 0.05; done
    port=$(awk '/^listening/{print $2}' "$out")
    lib="no libutp"
    if [ -n "$port" ]; then
        t0=$(date +%s.%N)
        rc=0
        head -c $((mib << 20)) /dev/zero |
            in_ns timeout 180 "$utpcat" "${cc_args[@]}" 127.0.0.1 "$port" >/dev/null 2>&1 || rc=$?
        t1=$(date +%s.%N)
        for _ in $(seq 100); do grep -q '^done' "$out" && break; sleep 0.05; done
        if [ $rc -ne 0 ] || ! grep -q "^done $((mib << 20)) " "$out"; then
            lib="failed (rc $rc)"
        else
            lib=$(awk -v b=$((mib << 20)) -v t0="$t0" -v t1="$t1" \
                'BEGIN{printf "%.1f", b/(t1-t0)/1e6}')
        fi
    fi
    exec 9>&-
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$out" "$fifo"
}

echo "loss_bench: $mib MiB per run; loopback in a private namespace, MTU 1500, no TSO/GSO/GRO;"
echo "nft drops the given share of UDP datagrams and TCP segments. $(nproc) CPUs, $(uname -r)."
printf '%-6s %14s %14s %10s %22s  %s\n' loss "uTP MB/s" "TCP MB/s" "uTP/TCP" "uTP -> libutp MB/s" "uTP sender"
for pct in 0 1 5 10; do
    in_ns nft flush chain inet lossy out
    [ "$pct" -gt 0 ] && in_ns nft add rule inet lossy out meta l4proto '{ udp, tcp }' numgen random mod 100 '<' "$pct" drop
    res=$(in_ns timeout 600 "$bench" --size "$mib" --only a 2>&1 || true)
    read -r u t < <(echo "$res" | awk '/throughput \(MB\/s\)/{print $3, $4}')
    sender=$(echo "$res" | sed -n 's/^ *uTP sender: //p' | cut -c1-200)
    lib="skipped (no utp-native)"
    [ $have_libutp -eq 1 ] && to_libutp
    ratio=$(awk -v u="${u:-0}" -v t="${t:-0}" 'BEGIN{if (t > 0) printf "%.0f %%", 100*u/t; else print "-"}')
    printf '%-6s %14s %14s %10s %22s  %s\n' "$pct %" "${u:-failed}" "${t:-failed}" "$ratio" "$lib" "$sender"
done
