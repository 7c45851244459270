#!/usr/bin/env bash
# .ci/demo.sh — build (Release, build/) and copy 256 MiB of random data through a real µTP
# connection on loopback with utpcat, then check it arrived intact (sha256).
#
#   bash .ci/demo.sh                  the loopback transfer
#   bash .ci/demo.sh --sim [args]     then also the simulator demo, with args (try --help)
#
# UTP_DEMO_MIB sets the size (default 256); UTP_JOBS the build parallelism (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${UTP_JOBS:-2}"
mib="${UTP_DEMO_MIB:-256}"
sim=0
if [ "${1:-}" = "--sim" ]; then
    sim=1
    shift
elif [ $# -gt 0 ]; then
    echo "usage: bash .ci/demo.sh [--sim [simulator demo arguments]]" >&2
    exit 2
fi

bash .ci/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
# Build just the demo programs if the build has them, else everything.
# (Capture first: with pipefail, `grep -q` closing the pipe early would fail the test.)
targets="$(cmake --build build --target help 2>/dev/null || true)"
wanted=(utpcat)
[ "$sim" = 1 ] && wanted+=(utp_sim_demo)
if grep -q 'utpcat' <<<"$targets"; then
    cmake --build build -j"$jobs" --target "${wanted[@]}"
else
    cmake --build build -j"$jobs"
fi

utpcat=build/example/utpcat
if [ ! -x "$utpcat" ]; then
    echo "demo: $utpcat is not built" >&2
    exit 1
fi

tmp="$(mktemp -d)"
listener=""
client=""
cleanup() {
    # `timeout` passes the TERM on to its utpcat.
    for pid in $client $listener; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "demo: generating $mib MiB of random data"
head -c $((mib * 1024 * 1024)) /dev/urandom >"$tmp/in"

# The receiver: listens on a free port (port 0) and prints "listening on 127.0.0.1:PORT";
# its stdin is empty, so it half-closes at once and just receives.
: >"$tmp/listener.err" # exists before the background job opens it
timeout 300 "$utpcat" -l 127.0.0.1 0 </dev/null >"$tmp/out" 2>"$tmp/listener.err" &
listener=$!
port=""
for _ in $(seq 100); do
    port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/listener.err" || true)"
    [ -n "$port" ] && break
    kill -0 "$listener" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "demo: the listener did not start:" >&2
    cat "$tmp/listener.err" >&2
    exit 1
fi
echo "demo: utpcat -l 127.0.0.1 0 is listening on port $port"

echo "demo: utpcat --progress 127.0.0.1 $port < $mib MiB"
start=$(date +%s.%N)
status=0
# Its stderr (the progress bar) is shown and kept, for the rate; nothing comes back on
# stdout. In the background, so that an interrupt reaches the trap at once.
mkfifo "$tmp/client.fifo"
tee "$tmp/client.err" <"$tmp/client.fifo" >&2 &
tee=$!
timeout 300 "$utpcat" --progress 127.0.0.1 "$port" <"$tmp/in" >/dev/null 2>"$tmp/client.fifo" &
client=$!
wait "$client" || status=$?
client=""
wait "$tee"
lstatus=0
wait "$listener" || lstatus=$?
listener=""
end=$(date +%s.%N)
if [ "$status" -ne 0 ] || [ "$lstatus" -ne 0 ]; then
    echo "demo: FAILED: sender exit $status, receiver exit $lstatus" >&2
    cat "$tmp/listener.err" >&2
    exit 1
fi

hash_in="$(sha256sum <"$tmp/in" | cut -d' ' -f1)"
hash_out="$(sha256sum <"$tmp/out" | cut -d' ' -f1)"
rate="$(tr '\r' '\n' <"$tmp/client.err" | sed -n 's/.* \([0-9.]*\) MB\/s average$/\1/p' | tail -1)"
echo "demo: sha256 sent     $hash_in"
echo "demo: sha256 received $hash_out"
awk -v s="$start" -v e="$end" -v b=$((mib * 1024 * 1024)) -v r="${rate:-?}" 'BEGIN {
    printf "demo: %.0f MiB in %.2f s from connect to both ends exited = %.1f MB/s; ", b / 1048576, e - s, b / (e - s) / 1e6
    printf "utpcat transfer rate %s MB/s\n", r }'
if [ "$hash_in" != "$hash_out" ]; then
    echo "demo: FAILED: the data received differs from the data sent" >&2
    exit 1
fi
echo "demo: OK, identical"

if [ "$sim" = 1 ]; then
    echo
    demo=build/example/utp_sim_demo
    if [ ! -x "$demo" ]; then
        echo "demo: $demo is not built" >&2
        exit 1
    fi
    "$demo" "$@"
fi
