#!/usr/bin/env bash
#
# example/run_pair.sh — runs each TLS / Beast example server with its client over loopback
# and fails on any error (the CTest test example_pairs):
#
#   https_server on port 0 with a throw-away certificate, then https_client trusting it
#   (GET / and /bytes/10000000 on one connection); websocket_echo server and client, plain
#   and over TLS.
#
#   bash example/run_pair.sh build/example/https_server build/example/https_client \
#       build/example/websocket_echo
#
# Every program runs under `timeout 60`; the servers are killed on exit, whatever happens.
#
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: run_pair.sh HTTPS_SERVER HTTPS_CLIENT WEBSOCKET_ECHO" >&2
    exit 2
fi
https_server=$1 https_client=$2 websocket_echo=$3

tmp=$(mktemp -d)
servers=()
cleanup() {
    local status=$?
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ $status -ne 0 ]]; then
        for log in "$tmp"/*.log; do
            [[ -e $log ]] && { echo "--- $log"; cat "$log"; }
        done
    fi
    rm -rf "$tmp"
    exit "$status"
}
trap cleanup EXIT

fail() {
    echo "run_pair.sh: $*" >&2
    exit 1
}

# start_server NAME COMMAND...: run a server on port 0 and set $port to the port it prints
# ("... listening on ADDRESS port N"); its output goes to $tmp/NAME.log.
start_server() {
    local name=$1 fd line
    shift
    exec {fd}< <(exec timeout 60 "$@" 2>&1)
    servers+=("$!")
    port=
    # Bounded: each read gives up after 10 s, and the port line comes first.
    for _ in 1 2 3 4 5; do
        IFS= read -r -t 10 -u "$fd" line || break
        echo "$line" >>"$tmp/$name.log"
        if [[ $line =~ listening\ on\ .*\ port\ ([0-9]+)$ ]]; then
            port=${BASH_REMATCH[1]}
            break
        fi
    done
    [[ -n $port ]] || fail "$name printed no port"
    # Keep draining its output, so that the server never blocks on a full pipe.
    cat <&"$fd" >>"$tmp/$name.log" &
    exec {fd}<&-
    echo "$name: port $port"
}

# --- HTTPS ---------------------------------------------------------------------------
start_server https_server "$https_server" --write-cert "$tmp/cert.pem" 127.0.0.1 0
[[ -s $tmp/cert.pem ]] || fail "https_server wrote no certificate"
timeout 60 "$https_client" --ca "$tmp/cert.pem" 127.0.0.1 "$port" / /bytes/10000000 \
    | tee "$tmp/https_client.out"
grep -q '^GET /: 200 OK' "$tmp/https_client.out" || fail "no 200 for /"
grep -q '^GET /bytes/10000000: 200 OK, 10000000 bytes' "$tmp/https_client.out" \
    || fail "no 10000000 bytes for /bytes/10000000"
# The client must refuse a server it has no reason to trust.
if timeout 60 "$https_client" 127.0.0.1 "$port" / >/dev/null 2>&1; then
    fail "https_client trusted an unknown certificate"
fi

# --- WebSocket, plain and over TLS -----------------------------------------------------
start_server ws_plain "$websocket_echo" server 127.0.0.1 0
timeout 60 "$websocket_echo" client 127.0.0.1 "$port" hello "µTP here"
timeout 60 "$websocket_echo" client --binary 127.0.0.1 "$port" binary

start_server ws_tls "$websocket_echo" server --tls --write-cert "$tmp/ws-cert.pem" 127.0.0.1 0
timeout 60 "$websocket_echo" client --tls --ca "$tmp/ws-cert.pem" 127.0.0.1 "$port" hello "µTP here"
timeout 60 "$websocket_echo" client --tls --ca "$tmp/ws-cert.pem" --binary 127.0.0.1 "$port" binary

echo "run_pair.sh: all pairs passed"
