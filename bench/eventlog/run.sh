#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Event-log parse + replay benchmark: bootgate in process (bench_eventlog), and
# per process bootgatectl vs tpm2_eventlog (tpm2-tools) on the same, largest
# available log. Usage: bench/eventlog/run.sh [BUILD_DIR] [RUNS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build}
runs=${2:-50}
shared=${BOOTGATE_SHARED:-$src/../shared}

log=""
for dir in "$shared/eventlogs" "$src/tests/data" "$src/tests/data/eventlogs" \
    "$src/tests/fuzz/corpus/fuzz_eventlog"; do
    [ -d "$dir" ] || continue
    log=$(find "$dir" -maxdepth 1 -type f \( -name '*.bin' -o -name 'seed-*' -o -name 'real-*' \) \
        -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
    [ -n "$log" ] && break
done
[ -n "$log" ] || { echo "no event log found"; exit 1; }
[ -x "$build/bench/bench_eventlog" ] || { echo "build first: $build/bench/bench_eventlog"; exit 1; }

echo "log: $log ($(stat -c %s "$log") bytes)"
echo
echo "== in process (parse + replay sha256, median of 5 rounds)"
"$build/bench/bench_eventlog" "$log" 20000 sha256

# Per process, the same work as the peer: parse, replay every bank, print.
ctl="$build/bootgatectl"
per_run_ms() { # command... -> mean ms per run
    if command -v hyperfine >/dev/null; then
        local json
        json=$(mktemp)
        hyperfine -N --warmup 3 --runs "$runs" --export-json "$json" "$*" >/dev/null 2>&1
        python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("%.3f ms/run (stddev %.3f, min %.3f, %d runs)"
      % (r["mean"] * 1e3, r["stddev"] * 1e3, r["min"] * 1e3, len(r["times"])))
PY
        rm -f "$json"
    else
        local t0 t1
        t0=$(date +%s%N)
        for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1; done
        t1=$(date +%s%N)
        echo "$(( (t1 - t0) / runs / 1000 )) us/run ($runs runs, shell loop)"
    fi
}
echo
echo "== per process (startup + parse + replay every bank + print), $runs runs"
printf '%-40s %s\n' "bootgatectl eventlog replay" "$(per_run_ms "$ctl" eventlog replay "$log")"
printf '%-40s %s\n' "bootgatectl eventlog show --json" "$(per_run_ms "$ctl" eventlog show --json "$log")"
if command -v tpm2_eventlog >/dev/null; then
    printf '%-40s %s\n' "tpm2_eventlog ($(tpm2_eventlog --version | sed 's/.*version="\([^"]*\)".*/\1/'))" \
        "$(per_run_ms tpm2_eventlog "$log")"
else
    echo "tpm2_eventlog not installed: no peer numbers"
fi
