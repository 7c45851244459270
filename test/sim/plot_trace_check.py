#!/usr/bin/env python3
"""CTest plot_trace.png: tools/plot_trace.py turns the traces the simulator wrote into a
PNG. Usage: plot_trace_check.py <plot_trace.py> <trace dir>. Exit 77 (skipped) without
matplotlib."""
import glob
import os
import subprocess
import sys

try:
    import matplotlib  # noqa: F401
except ImportError:
    print("matplotlib is not installed for", sys.executable, "(Debian: python3-matplotlib)")
    sys.exit(77)

script, folder = sys.argv[1], sys.argv[2]
traces = sorted(glob.glob(os.path.join(folder, "alone-*-flow1.trace")))
if len(traces) != 2:
    sys.exit(f"expected the LEDBAT and LEDBAT++ traces of fairness/alone in {folder}, found {traces}")
for t in traces:
    lines = [l for l in open(t) if not l.startswith("#")]
    # 30 s at one sample per 20 ms: about 1 500 records.
    if len(lines) < 1000:
        sys.exit(f"{t}: {len(lines)} records, expected about 1500")
out = os.path.join(folder, "alone.png")
if os.path.exists(out):
    os.remove(out)
subprocess.run([sys.executable, script, "-o", out, "--title", "check", *traces], check=True)
with open(out, "rb") as f:
    if f.read(8) != b"\x89PNG\r\n\x1a\n":
        sys.exit(f"{out} is not a PNG")
print(out, os.path.getsize(out), "bytes")
