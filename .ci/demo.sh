#!/usr/bin/env bash
# .ci/demo.sh — build (Release, build/) and run the simulator demo; arguments are passed
# to it (try --help).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${UTP_JOBS:-2}"

bash .ci/deps.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
# Build just the demo if the build has it, else everything.
# (Capture first: with pipefail, `grep -q` closing the pipe early would fail the test.)
targets="$(cmake --build build --target help 2>/dev/null || true)"
if grep -q 'utp_sim_demo' <<<"$targets"; then
    cmake --build build -j"$jobs" --target utp_sim_demo
else
    cmake --build build -j"$jobs"
fi

demo=build/example/utp_sim_demo
if [ -x "$demo" ]; then
    exec "$demo" "$@"
fi
echo "demo: $demo is not built (example/ has no utp_sim_demo yet)" >&2
exit 1
