#!/usr/bin/python3
"""libtorrent (python3-libtorrent, libtorrent-rasterbar 2.0) as the peer of an interop test.

Restricted to µTP: TCP in and out off, DHT/LSD/UPnP/NAT-PMP off, encryption disabled (so
plaintext BitTorrent works), bound to one loopback address on a free port.

    lt_peer.py --role seed     --torrent T --dir D --bind 127.0.0.1
    lt_peer.py --role download --torrent T --dir D --bind 127.0.0.1 --connect 127.0.0.1:PORT

Talks to the test harness over stdout, one line per event:
    listening <port>                       the µTP port, once the torrent is ready
    progress <bytes_done> <bytes_total>    about every second
    done <bytes> <seconds>                 download complete and hash-checked by libtorrent
    error <text>
    peer - - utp|tcp <alert text>          each peer connection libtorrent reports
It runs until the harness closes its stdin or kills it, or --timeout passes.
"""
import argparse
import os
import select
import sys
import time

import libtorrent as lt


def say(*words):
    print(*words, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", choices=["seed", "download"], required=True)
    ap.add_argument("--torrent", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--connect", help="host:port of a peer to dial (download role)")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args()

    bind = f"[{args.bind}]:0" if ":" in args.bind else f"{args.bind}:0"
    ses = lt.session({
        "listen_interfaces": bind,
        "enable_outgoing_tcp": False,
        "enable_incoming_tcp": False,
        "enable_outgoing_utp": True,
        "enable_incoming_utp": True,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "in_enc_policy": int(lt.enc_policy.disabled),
        "out_enc_policy": int(lt.enc_policy.disabled),
        "allow_multiple_connections_per_ip": True,
        "alert_mask": int(lt.alert.category_t.error_notification
                          | lt.alert.category_t.status_notification
                          | lt.alert.category_t.connect_notification
                          | lt.alert.category_t.peer_notification),
    })
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(args.torrent)
    atp.save_path = args.dir
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(atp)

    deadline = time.monotonic() + args.timeout
    total = atp.ti.total_size()
    announced = False
    dialed = False
    started = None
    last_progress = 0.0
    while time.monotonic() < deadline:
        # The harness ends the peer by closing stdin (or by killing it).
        readable, _, _ = select.select([sys.stdin], [], [], 0.05)
        if readable and not sys.stdin.readline():
            return 0
        for a in ses.pop_alerts():
            if isinstance(a, (lt.peer_connect_alert, lt.incoming_connection_alert)):
                # libtorrent names the socket type in these alerts: "(uTP)" or "(TCP)".
                text = a.message().replace("\n", " ")
                say("peer", "-", "-", "utp" if "uTP" in text else "tcp", text)
            elif isinstance(a, (lt.peer_disconnected_alert, lt.peer_error_alert)):
                say("peer-event", type(a).__name__, a.message().replace("\n", " "))
            elif a.category() & lt.alert.category_t.error_notification:
                say("error", type(a).__name__, a.message().replace("\n", " "))
        st = h.status()
        if st.state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data):
            continue
        if not announced:
            if args.role == "seed" and not st.is_seeding:
                say("error", "seed data does not match the torrent:", st.state)
                return 1
            say("listening", ses.listen_port())
            announced = True
        if args.role == "download":
            if not dialed and args.connect:
                host, port = args.connect.rsplit(":", 1)
                h.connect_peer((host.strip("[]"), int(port)))
                dialed = True
                started = time.monotonic()
            now = time.monotonic()
            if now - last_progress >= 1.0:
                say("progress", st.total_wanted_done, total)
                last_progress = now
            if st.is_seeding:
                # Every piece passed libtorrent's own SHA-1 check to get here.
                say("done", total, f"{time.monotonic() - started:.3f}")
                dialed = True
                args.role = "seeded"
    say("error", "timeout")
    return 1


if __name__ == "__main__":
    sys.exit(main())
