#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The project's test command: installs what is missing, checks formatting,
# builds with warnings as errors, runs ctest (unit, integration, boot), then
# repeats unit + integration under ASan + UBSan (with LeakSanitizer), runs
# server_threads (and test_notify's queue) under ThreadSanitizer, and fuzzes every
# harness for 30 s.
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
    # (not integration.packaging: the packages are built without sanitizers anyway)
    step "ctest under ASan + UBSan: unit, integration"
    # sanitizer_leaks proves LeakSanitizer runs inside bootgated (a preloaded
    # leak must be reported); client_valgrind skips here (memcheck and ASan
    # do not mix) and runs in the plain build above
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --output-on-failure -j"$JOBS" -L 'unit|integration' -E '^integration\.packaging$') ||
        failed+=("ctest-asan")
else
    failed+=("build-asan")
fi

step "build (TSan: bootgated, test_notify) + ctest: server_threads, test_notify under ThreadSanitizer"
if cmake -S "$SRC" -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOOTGATE_TSAN=ON &&
    cmake --build build-tsan -j"$JOBS" --target bootgated bootgatectl test_notify; then
    (cd build-tsan && TSAN_OPTIONS=halt_on_error=0:second_deadlock_stack=1 \
        ctest --output-on-failure -R '^integration\.server_threads$') || failed+=("ctest-tsan")
    (cd build-tsan && TSAN_OPTIONS=second_deadlock_stack=1 \
        ctest --output-on-failure -R '^unit\.test_notify$') || failed+=("ctest-tsan-notify")
else
    failed+=("build-tsan")
fi

step "fuzz harnesses (clang, libFuzzer, 30 s each)"
fuzz_start=$(date +%s)
bash ci/fuzz.sh 30 || failed+=("fuzz")
echo "fuzz stage: $(($(date +%s) - fuzz_start)) s"

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all test stages passed"
