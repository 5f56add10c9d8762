#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# LeakSanitizer really runs in bootgated (ASan + UBSan build, ci/test.sh's
# sanitizer stage): bootgated with a 4242-byte leak preloaded reports it at
# exit, although it is non-dumpable and threaded (LSan stops the threads with
# ptrace), also run unprivileged without CAP_SYS_PTRACE as a CI runner may
# be; bootgated without it, after
# serving requests, exits 0 with no report: its exit frees what it holds.
# Skips in builds without ASan.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

grep -qa __asan_init "$BOOTGATED" || skip "bootgated is not built with ASan (-DBOOTGATE_SANITIZE=ON)"
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1"
cc=$(command -v cc || command -v gcc) || skip "no C compiler for the canary"
cat >"$WORK/leak.c" <<'EOF2'
#include <stdlib.h>
void *volatile bootgate_canary;
__attribute__((constructor)) static void leak(void)
{
    bootgate_canary = malloc(4242);
    bootgate_canary = NULL;
}
EOF2
"$cc" -shared -fPIC -o "$WORK/leak.so" "$WORK/leak.c" || die "cannot build the canary"
# the ASan runtime must come first in the library list
asan_rt=$(ldd "$BOOTGATED" | awk '/libasan/ {print $3}')
[ -n "$asan_rt" ] || skip "bootgated links ASan statically: no preload canary"

bootgated_init
# run_once LOG [PRELOAD [WRAPPER...]]: bootgated serves a few requests, then
# SIGTERM; prints its exit status
run_once() {
    local log=$1 pre=${2:-} pid rc=0
    shift 2 || shift
    if [ -n "$pre" ]; then
        LD_PRELOAD="$asan_rt $pre" "$@" "$BOOTGATED" -c "$SRV/bootgated.conf" --log-stderr >"$log" 2>&1 &
    else
        "$@" "$BOOTGATED" -c "$SRV/bootgated.conf" --log-stderr >"$log" 2>&1 &
    fi
    pid=$!
    for _ in $(seq 100); do
        curl -sf --cacert "$SRV/ca.crt" "$URL/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    api GET /metrics >/dev/null
    api GET /v1/admin/audit "" auditor >/dev/null
    kill -TERM $pid
    wait $pid || rc=$?
    echo $rc
}

rc=$(run_once "$WORK/canary.log" "$WORK/leak.so")
check "with the canary: bootgated's exit fails" 1 "$([ "$rc" -ne 0 ] && echo 1)"
check "LeakSanitizer reports the leak" 1 "$(grep -c 'ERROR: LeakSanitizer: detected memory leaks' "$WORK/canary.log")"
check "... of 4242 bytes from the canary" 1 \
    "$(grep -c 'Direct leak of 4242 byte(s) in 1 object(s)' "$WORK/canary.log")"
check "LeakSanitizer did not fail to run (ptrace)" 0 \
    "$(grep -c 'LeakSanitizer has encountered a fatal error\|does not work under ptrace' "$WORK/canary.log")"

# without CAP_SYS_PTRACE (an unprivileged CI runner): LSan stops the threads
# of a non-dumpable process all the same
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    chown -R 64999:64999 "$SRV"
    chmod o+x "$WORK"
    rc=$(run_once "$WORK/noptrace.log" "$WORK/leak.so" setpriv --reuid=64999 --regid=64999 \
        --clear-groups --inh-caps=-all --bounding-set=-all)
    check "unprivileged, no CAP_SYS_PTRACE: LeakSanitizer reports the canary" 1 \
        "$(grep -c 'Direct leak of 4242 byte(s) in 1 object(s)' "$WORK/noptrace.log")"
    chown -R 0:0 "$SRV"
fi

rc=$(run_once "$WORK/clean.log")
check "without it: bootgated exits 0 after SIGTERM" 0 "$rc"
check "... with no sanitizer report (nothing leaked at exit)" 0 \
    "$(grep -c 'Sanitizer\|runtime error' "$WORK/clean.log")"

finish
