#!/usr/bin/env python3
"""Plot µTP connection traces (utp::trace / proto::trace_options) as a PNG.

Usage: plot_trace.py [-o out.png] [--title TEXT] [--target-ms 100] TRACE [TRACE ...]

Each TRACE is a text file of lines as proto::to_string(trace_record) writes them (lines
starting with '#' are skipped); a file may hold several connections (the `conn` column).
Time is shown from the earliest record of all files, so flows traced on one clock line up.
Panels: goodput (from acknowledged bytes, 0.5 s bins), congestion window and bytes in
flight, queueing-delay estimate and smoothed RTT; loss episodes and timeouts are marked.
Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import collections
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

COLUMNS = ["time_us", "event", "conn", "cwnd_B", "in_flight_B", "peer_wnd_B", "srtt_us",
           "min_rtt_us", "qdelay_us", "pacing_Bps", "acked_B", "retransmits", "slow_start"]


def read_flows(paths):
    """{label: [record dict, ...]} per (file, connection)."""
    flows = collections.OrderedDict()
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        per_conn = collections.OrderedDict()
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip() or line.startswith("#"):
                    continue
                parts = line.split()
                if len(parts) != len(COLUMNS):
                    sys.exit(f"{path}:{n}: {len(parts)} columns, expected {len(COLUMNS)}")
                r = dict(zip(COLUMNS, parts))
                for k in COLUMNS:
                    if k != "event":
                        r[k] = float(r[k])
                per_conn.setdefault(int(r["conn"]), []).append(r)
        for conn, records in per_conn.items():
            flows[name if len(per_conn) == 1 else f"{name} #{conn}"] = records
    return flows


def goodput(records, t0, bin_s=0.5):
    """(bin centres s, Mbit/s) from the cumulative acknowledged bytes."""
    xs, ys = [], []
    if not records:
        return xs, ys
    start = (records[0]["time_us"] - t0) / 1e6
    edge, acked_at_edge, i = start + bin_s, records[0]["acked_B"], 0
    last = records[-1]
    while edge <= (last["time_us"] - t0) / 1e6 + bin_s:
        while i < len(records) and (records[i]["time_us"] - t0) / 1e6 <= edge:
            i += 1
        acked = records[i - 1]["acked_B"]
        xs.append(edge - bin_s / 2)
        ys.append((acked - acked_at_edge) * 8 / bin_s / 1e6)
        acked_at_edge, edge = acked, edge + bin_s
    return xs, ys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("traces", nargs="+")
    ap.add_argument("-o", "--output", default="trace.png")
    ap.add_argument("--title", default="")
    ap.add_argument("--target-ms", type=float, default=100.0,
                    help="the target delay, drawn as a line (0: none)")
    args = ap.parse_args()

    flows = read_flows(args.traces)
    if not flows:
        sys.exit("no records")
    t0 = min(r[0]["time_us"] for r in flows.values())

    fig, (ax_rate, ax_cwnd, ax_delay) = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    for label, records in flows.items():
        t = [(r["time_us"] - t0) / 1e6 for r in records]
        line, = ax_rate.plot(*goodput(records, t0), label=label, linewidth=1)
        colour = line.get_color()
        ax_cwnd.plot(t, [r["cwnd_B"] / 1e3 for r in records], color=colour, linewidth=1)
        ax_cwnd.plot(t, [r["in_flight_B"] / 1e3 for r in records], color=colour, linewidth=0.5,
                     linestyle=":")
        ax_delay.plot(t, [r["qdelay_us"] / 1e3 for r in records], color=colour, linewidth=1)
        ax_delay.plot(t, [r["srtt_us"] / 1e3 for r in records], color=colour, linewidth=0.5,
                      linestyle=":")
        for event, marker in (("loss", "x"), ("timeout", "v")):
            at = [(r["time_us"] - t0) / 1e6 for r in records if r["event"] == event]
            ax_cwnd.plot(at, [0] * len(at), marker, color=colour, markersize=5)
    if args.target_ms > 0:
        ax_delay.axhline(args.target_ms, color="grey", linewidth=0.8, linestyle="--")
    ax_rate.set_ylabel("goodput, Mbit/s")
    ax_rate.legend(loc="upper right", fontsize="small")
    ax_cwnd.set_ylabel("cwnd (in flight dotted), kB")
    ax_delay.set_ylabel("queueing delay (srtt dotted), ms")
    ax_delay.set_xlabel("time, s  (x loss, v timeout)")
    for ax in (ax_rate, ax_cwnd, ax_delay):
        ax.grid(True, linewidth=0.3)
        ax.set_ylim(bottom=0)
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.output, dpi=90)
    print(f"{args.output}: {len(flows)} flow(s), {sum(map(len, flows.values()))} records")


if __name__ == "__main__":
    main()
