#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer harnesses with clang and runs each for N seconds
# (default 60) starting from its checked-in corpus. New crashing inputs are
# left in build-fuzz/crashes/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOOTGATE_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
mkdir -p build-fuzz/crashes
rc=0
for src in tests/fuzz/fuzz_*.c; do
    [ -e "$src" ] || continue
    name=$(basename "$src" .c)
    work=$(mktemp -d)
    cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    echo "fuzz: $name for ${secs}s"
    if ! ./build-fuzz/tests/"$name" -max_total_time="$secs" -max_len=65536 \
        -artifact_prefix=build-fuzz/crashes/"$name"- "$work" 2>build-fuzz/"$name".log; then
        echo "fuzz: $name FAILED"; tail -40 build-fuzz/"$name".log; rc=1
    else
        grep -E '^(#[0-9]+ +DONE|Done)' build-fuzz/"$name".log | tail -1 || true
    fi
    rm -rf "$work"
done
exit $rc
