#!/usr/bin/env bash
# .ci/test.sh — build and run every test: gcc Release build in build/ (all labels; the
# `bottleneck` label as a step of its own), then, if clang is there, the libFuzzer targets
# in build-fuzz/ (label fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${UTP_JOBS:-2}"

bash .ci/deps.sh

echo "== test: configure build/ (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DUTP_BUILD_TESTS=ON -DUTP_BUILD_FUZZERS=OFF
echo "== test: build"
cmake --build build -j"$jobs"
echo "== test: ctest build/ (all labels but bottleneck)"
ctest --test-dir build -j"$jobs" --output-on-failure -LE bottleneck
# The real-bottleneck scenarios (network namespaces, tbf) on their own: their figures are
# timings, which the CPU-heavy suites above would disturb. Skipped, not failed, without
# root or iproute2.
echo "== test: ctest build/ -L bottleneck"
ctest --test-dir build -L bottleneck -j"$jobs" --output-on-failure --no-tests=error
grep -h "^bottleneck: summary" build/Testing/Temporary/LastTest.log | sed 's/^/  /' || true

if command -v clang++ >/dev/null 2>&1; then
    echo "== test: configure build-fuzz/ (clang, fuzzers)"
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DUTP_BUILD_TESTS=ON -DUTP_BUILD_FUZZERS=ON \
        -DUTP_BUILD_EXAMPLES=OFF -DUTP_BUILD_BENCH=OFF
    echo "== test: build fuzzers"
    cmake --build build-fuzz -j"$jobs" --target utp_fuzz_codec utp_fuzz_connection utp_fuzz_demux
    echo "== test: ctest build-fuzz/ -L fuzz"
    if [ -f test/fuzz/CMakeLists.txt ]; then
        ctest --test-dir build-fuzz -L fuzz -j"$jobs" --output-on-failure --no-tests=error
        # How much fuzzing that was: libFuzzer's final stats, per target.
        grep -hE "^(Test command|stat::number_of_executed_units|stat::new_units_added)" \
            build-fuzz/Testing/Temporary/LastTest.log | sed 's/^/  /' || true
    else
        echo "test: no test/fuzz/ yet, no fuzz tests to run"
    fi
else
    echo "test: clang++ not found, fuzzers skipped"
fi

echo "test: all passed"
