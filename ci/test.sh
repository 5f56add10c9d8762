#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The project's test command: installs what is missing, checks formatting,
# builds with warnings as errors, runs ctest (unit, integration, boot), then
# repeats unit + integration under ASan + UBSan and builds the fuzzers.
set -uo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
JOBS=$(nproc)
failed=()

step() { printf '\n=== %s ===\n' "$*"; }

step "dependencies"
bash ci/deps.sh || { echo "ci/deps.sh failed"; exit 1; }

step "format"
bash ci/format-check.sh || failed+=("format")

step "build (RelWithDebInfo, -Werror)"
cmake -S "$SRC" -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOOTGATE_WERROR=ON &&
    cmake --build build -j"$JOBS" || { echo "build failed"; exit 1; }

step "ctest: unit, integration, boot"
(cd build && ctest --output-on-failure -j"$JOBS" -L 'unit|integration|boot') || failed+=("ctest")

step "build (ASan + UBSan)"
if cmake -S "$SRC" -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBOOTGATE_SANITIZE=ON &&
    cmake --build build-asan -j"$JOBS"; then
    step "ctest under ASan + UBSan: unit, integration"
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure -j"$JOBS" -L 'unit|integration') || failed+=("ctest-asan")
else
    failed+=("build-asan")
fi

step "fuzz harnesses (clang, libFuzzer, short runs)"
bash ci/fuzz.sh 30 || failed+=("fuzz")

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all test stages passed"
