#!/usr/bin/python3
"""transmission-daemon 3.00 (libutp inside) as the peer of an interop test.

    tr_peer.py --role seed     --torrent T --dir D --work W
    tr_peer.py --role download --torrent T --dir D --work W

Runs a private transmission-daemon (configuration in W, RPC on a free loopback port, µTP
on, DHT/LPD/PEX/port forwarding off, encryption tolerated so plaintext is accepted) and
adds the torrent with data directory D. Transmission cannot switch TCP off, so this script
holds its peer port's TCP side (bound, not listening, on 127.0.0.1 and ::): Transmission's
own TCP bind fails and only µTP reaches it. It has no RPC to add a peer, so the test's
side always dials it.

Protocol on stdout, one line per event (as lt_peer.py):
    listening <port>                  ready: seeding (data verified) or downloading
    progress <bytes_done> <bytes_total>
    peer <ip> <port> utp|tcp <client>
    done <bytes> <seconds>            download complete (Transmission verified every piece)
    error <text>
It runs until stdin closes, then stops the daemon.
"""
import argparse
import base64
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def say(*words):
    print(*words, flush=True)


def free_port(kind):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hold_tcp(port):
    """Bind TCP `port` on 127.0.0.1 and [::] without SO_REUSEADDR and without listening."""
    held = []
    for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            s.bind((addr, port))
        except OSError:
            s.close()
            continue
        held.append(s)
    return held


class rpc:
    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/transmission/rpc"
        self.session = ""

    def __call__(self, method, **arguments):
        body = json.dumps({"method": method, "arguments": arguments}).encode()
        for _ in range(3):
            req = urllib.request.Request(self.url, data=body, method="POST", headers={
                "X-Transmission-Session-Id": self.session, "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    reply = json.loads(r.read())
                    if reply.get("result") != "success":
                        raise RuntimeError(f"{method}: {reply.get('result')}")
                    return reply.get("arguments", {})
            except urllib.error.HTTPError as e:
                if e.code != 409:
                    raise
                self.session = e.headers["X-Transmission-Session-Id"]
        raise RuntimeError(f"{method}: no session id")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["seed", "download"], required=True)
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--timeout", type=float, default=180.0)
    args = ap.parse_args()

    peer_port = free_port(socket.SOCK_DGRAM)
    held = hold_tcp(peer_port)
    rpc_port = free_port(socket.SOCK_STREAM)
    conf = os.path.join(args.work, "transmission")
    os.makedirs(conf, exist_ok=True)
    settings = {
        "download-dir": args.dir,
        "incomplete-dir-enabled": False,
        "watch-dir-enabled": False,
        "peer-port": peer_port,
        "peer-port-random-on-start": False,
        "port-forwarding-enabled": False,
        "bind-address-ipv4": "127.0.0.1",
        "dht-enabled": False,
        "lpd-enabled": False,
        "pex-enabled": False,
        "utp-enabled": True,
        "encryption": 0,  # tolerated: plaintext accepted
        "rpc-enabled": True,
        "rpc-bind-address": "127.0.0.1",
        "rpc-port": rpc_port,
        "rpc-authentication-required": False,
        "rpc-whitelist-enabled": False,
        "rpc-host-whitelist-enabled": False,
        "speed-limit-down-enabled": False,
        "speed-limit-up-enabled": False,
        "alt-speed-enabled": False,
        "ratio-limit-enabled": False,
        "idle-seeding-limit-enabled": False,
        "download-queue-enabled": False,
        "seed-queue-enabled": False,
        "queue-stalled-enabled": False,
        "start-added-torrents": True,
        "blocklist-enabled": False,
        "cache-size-mb": 32,
        "message-level": 2,
    }
    with open(os.path.join(conf, "settings.json"), "w") as f:
        json.dump(settings, f)
    log = open(os.path.join(args.work, "transmission.log"), "w")
    daemon = subprocess.Popen(["transmission-daemon", "-f", "-g", conf, "--logfile",
                               os.path.join(args.work, "transmission-daemon.log")],
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    call = rpc(rpc_port)
    deadline = time.monotonic() + args.timeout
    try:
        while True:
            try:
                call("session-get")
                break
            except (urllib.error.URLError, ConnectionError, RuntimeError):
                if daemon.poll() is not None or time.monotonic() > deadline:
                    say("error", "transmission-daemon did not start; see", log.name)
                    return 1
                time.sleep(0.05)
        with open(args.torrent, "rb") as f:
            added = call("torrent-add", metainfo=base64.b64encode(f.read()).decode(),
                         **{"download-dir": args.dir, "paused": False})
        tid = (added.get("torrent-added") or added.get("torrent-duplicate"))["id"]
        if args.role == "seed":
            call("torrent-verify", ids=[tid])
        announced = False
        started = None
        last = 0.0
        fields = ["status", "percentDone", "haveValid", "totalSize", "error", "errorString",
                  "peers", "peersConnected"]
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sys.stdin], [], [], 0.1)
            if readable and not sys.stdin.readline():
                return 0
            t = call("torrent-get", ids=[tid], fields=fields)["torrents"][0]
            if t["error"]:
                say("error", t["errorString"])
            if not announced:
                ready = (t["status"] == 6 and t["percentDone"] == 1.0) if args.role == "seed" \
                    else t["status"] == 4
                if ready:
                    say("listening", peer_port)
                    announced = True
                    started = time.monotonic()
                continue
            now = time.monotonic()
            if now - last >= 1.0:
                say("progress", t["haveValid"], t["totalSize"])
                for p in t["peers"]:
                    say("peer", p["address"], p["port"], "utp" if p["isUTP"] else "tcp",
                        p["clientName"].replace(" ", "_"))
                last = now
            if args.role == "download" and t["percentDone"] == 1.0 and \
                    t["haveValid"] == t["totalSize"]:
                say("done", t["totalSize"], f"{now - started:.3f}")
                args.role = "seeded"
        say("error", "timeout")
        return 1
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        for s in held:
            s.close()


if __name__ == "__main__":
    sys.exit(main())
