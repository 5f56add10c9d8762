#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Line coverage of each libFuzzer harness over its checked-in corpus,
# restricted to the files the harness is there to test (a fuzzer that never
# reaches its parser proves nothing). Builds the corpus-replay drivers with
# clang source-based coverage in build-cov/ and prints a Markdown table, the
# one in tests/fuzz/README.md.
#   ci/fuzz-coverage.sh [--only NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
only=${2:-}
[ "${1:-}" = --only ] || only=""

# harness -> its target files
declare -A targets=(
    [fuzz_attest]="src/lib/quote.c"
    [fuzz_authenticode]="src/lib/authenticode.c"
    [fuzz_client_answer]="src/client/http.c src/lib/proto.c"
    [fuzz_client_token]="src/client/token.c"
    [fuzz_conf]="src/lib/conf.c"
    [fuzz_config_files]="src/server/config.c src/client/config.c"
    [fuzz_eventlog]="src/lib/eventlog.c src/lib/eventlog_replay.c src/lib/eventlog_describe.c src/lib/eventlog_devpath.c"
    [fuzz_http]="src/server/routes.c src/server/challenge.c src/server/unlock.c src/server/enroll.c src/server/admin.c src/server/breakglass.c src/server/denial.c src/server/evidence.c src/server/nonce.c"
    [fuzz_ima]="src/lib/ima.c"
    [fuzz_policy]="src/lib/policy.c src/lib/policy_canonical.c src/lib/policy_eval.c"
    [fuzz_proto]="src/lib/proto.c"
    [fuzz_tpmpub]="src/lib/tpmpub.c"
)

flags="-fprofile-instr-generate -fcoverage-mapping"
CC=clang cmake -S . -B build-cov -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
names=()
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    [ -z "$only" ] || [ "$name" = "$only" ] || continue
    names+=("$name")
done
cmake --build build-cov -j"$(nproc)" --target "${names[@]/%/_replay}" >/dev/null
mkdir -p build-cov/prof

echo "| harness | corpus | target files | lines | covered |"
echo "|---|---:|---|---:|---:|"
for name in "${names[@]}"; do
    bin=build-cov/tests/${name}_replay
    rm -f build-cov/prof/"$name".profraw
    LLVM_PROFILE_FILE=build-cov/prof/$name.profraw "$bin" "tests/fuzz/corpus/$name" >/dev/null 2>&1 ||
        { echo "| $name | replay failed | | | |"; continue; }
    llvm-profdata merge -sparse build-cov/prof/"$name".profraw -o build-cov/prof/"$name".profdata
    files=${targets[$name]:-}
    if [ -z "$files" ]; then
        echo "| $name | $(ls "tests/fuzz/corpus/$name" | wc -l) | (no target files listed in $0) | | |"
        continue
    fi
    # TOTAL line: Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover ...
    # shellcheck disable=SC2086
    read -r lines missed < <(llvm-cov report "$bin" -instr-profile=build-cov/prof/"$name".profdata \
        $files | awk '/^TOTAL/ {print $8, $9}')
    pct=$(awk -v l="$lines" -v m="$missed" 'BEGIN { printf "%.1f%%", l ? 100 * (l - m) / l : 0 }')
    echo "| $name | $(ls "tests/fuzz/corpus/$name" | wc -l) | $(sed 's/src\///g; s/ /, /g' <<<"$files") | $lines | $pct |"
done
