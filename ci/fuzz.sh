#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang + ASan +
# UBSan and runs each from its checked-in corpus, with its dictionary
# (tests/fuzz/dict/<name>.dict) when there is one, nproc harnesses at a time.
#   ci/fuzz.sh [SECONDS]     each harness for SECONDS (default 30; CI's stage)
#   ci/fuzz.sh --long [SECS] each harness for SECS (default 3600: hours in all)
#   --merge                  also add the new inputs that raise coverage to
#                            tests/fuzz/corpus/<name>/ (review and commit them)
#   --only NAME              one harness (e.g. fuzz_http)
# A crashing, leaking or timing-out input is left in build-fuzz/crashes/ and
# fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=30 merge=0 only=""
while [ $# -gt 0 ]; do
    case "$1" in
    --long) secs=3600; if [[ "${2:-}" =~ ^[0-9]+$ ]]; then secs=$2; shift; fi ;;
    --merge) merge=1 ;;
    --only) only=$2; shift ;;
    [0-9]*) secs=$1 ;;
    *) echo "usage: $0 [SECONDS | --long [SECONDS]] [--merge] [--only NAME]" >&2; exit 2 ;;
    esac
    shift
done
jobs=$(nproc)
start=$(date +%s)
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBOOTGATE_FUZZ=ON \
    -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$jobs" >/dev/null
echo "fuzz: build took $(($(date +%s) - start))s"
mkdir -p build-fuzz/crashes build-fuzz/logs

# one harness: its corpus copied to a work dir (the checked-in corpus stays
# as it is unless --merge), its dictionary, 10 s per input at most
run_one() {
    local name=$1 work dict=() rc=0
    work=$(mktemp -d)
    cp -r "tests/fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    [ -f "tests/fuzz/dict/$name.dict" ] && dict=(-dict="tests/fuzz/dict/$name.dict")
    ./build-fuzz/tests/"$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix=build-fuzz/crashes/"$name"- "$work" >build-fuzz/logs/"$name".log 2>&1 || rc=$?
    if [ $rc -eq 0 ] && [ $merge = 1 ]; then
        ./build-fuzz/tests/"$name" -merge=1 "tests/fuzz/corpus/$name" "$work" \
            >>build-fuzz/logs/"$name".log 2>&1 || rc=$?
    fi
    rm -rf "$work"
    echo $rc >build-fuzz/logs/"$name".rc
}

names=()
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    [ -z "$only" ] || [ "$name" = "$only" ] || continue
    names+=("$name")
done
rc=0
for name in "${names[@]}"; do
    # at most $jobs at once
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    echo "fuzz: $name for ${secs}s"
    rm -f build-fuzz/logs/"$name".rc
    run_one "$name" &
done
wait
for name in "${names[@]}"; do
    if [ "$(cat build-fuzz/logs/"$name".rc 2>/dev/null)" = 0 ]; then
        printf 'fuzz: %-22s %s\n' "$name" \
            "$(grep -E '^stat::number_of_executed_units' build-fuzz/logs/"$name".log |
                awk '{print $2 " runs"}') $(grep -E '^#[0-9]+[[:space:]]+DONE' build-fuzz/logs/"$name".log |
                grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' | tail -1)"
    else
        echo "fuzz: $name FAILED (input in build-fuzz/crashes/)"
        grep -v '^INFO' build-fuzz/logs/"$name".log | tail -40
        rc=1
    fi
done
echo "fuzz: ${#names[@]} harnesses, $(($(date +%s) - start))s in all"
exit $rc
