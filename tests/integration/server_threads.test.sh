#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgated's worker threads under concurrent load: 4 workers, 32 clients at
# once, each request on its own TLS connection, mixing the paths that share
# state across threads (challenge, forged unlocks that write denial audit
# rows through the rate limiters, /metrics counters, readiness, admin audit
# reads). Every request gets its expected answer, several workers serve, the
# audit chain still verifies. In a -DBOOTGATE_TSAN=ON build (ci/test.sh's
# TSan step) ThreadSanitizer must report nothing: finish() fails on any
# sanitizer report in bootgated's log.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

TSAN=$(grep -qa __tsan_init "$BOOTGATED" && echo 1 || echo 0)
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=0 second_deadlock_stack=1}"
SRV_EXTRA_CONF="workers = 4
denial_audit_burst = 20
denial_audit_per_minute = 60" start_bootgated
[ "$TSAN" = 1 ] && log "bootgated is built with ThreadSanitizer"

jq -n '{node_id:"0123456789abcdef0123456789abcdef"}' >"$WORK/chal.json"
forged_unlock_body "$WORK/forged.json"

# cpu time (ns) of each thread of bootgated
thread_times() {
    local t
    for t in /proc/"$SRV_PID"/task/*; do echo "${t##*/} $(cut -d' ' -f1 "$t/schedstat")"; done
}
thread_times >"$WORK/times.before"

# one request per line of the plan: "kind", run by 32 clients at once
request() {
    local kind=$1 code
    case $kind in
    challenge) code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" \
        -H 'Content-Type: application/json' --data-binary @"$WORK/chal.json" "$URL/v1/challenge") ;;
    unlock) code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" \
        -H 'Content-Type: application/json' --data-binary @"$WORK/forged.json" "$URL/v1/unlock") ;;
    metrics) code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" "$URL/metrics") ;;
    readyz) code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" "$URL/readyz") ;;
    audit) code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" \
        --cert "$SRV/auditor.crt" --key "$SRV/auditor.key" "$URL/v1/admin/audit?limit=50") ;;
    esac
    echo "$kind $code"
}
export -f request
export SRV URL WORK
for _ in $(seq 40); do printf '%s\n' challenge unlock metrics readyz audit; done >"$WORK/plan"
start=$(date +%s%N)
# shellcheck disable=SC2016 # $1 is bash -c's
xargs -P 32 -n 1 bash -c 'request "$1"' _ <"$WORK/plan" >"$WORK/results"
log "200 requests, 32 at once: $((($(date +%s%N) - start) / 1000000)) ms"

check "200 answers" 200 "$(wc -l <"$WORK/results")"
for want in "challenge 200" "unlock 403" "metrics 200" "readyz 200" "audit 200"; do
    check "40 x ${want% *} answered ${want#* }" 40 "$(grep -cx "$want" "$WORK/results")"
done
thread_times >"$WORK/times.after"
busy=$(join "$WORK/times.before" "$WORK/times.after" | awk '$3 - $2 > 1000000 {n++} END {print n + 0}')
check "several threads served ($busy busy, want >= 3 of 4 workers + main)" 1 "$([ "$busy" -ge 3 ] && echo 1)"
check "the audit chain verifies after the load" 0 \
    "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
check "metrics count the 40 forged unlocks" 1 \
    "$(api GET /metrics >/dev/null; grep -c '^bootgate_denials_total{group="",verdict="nonce_forged"} 40$' "$WORK/reply")"
if [ "$TSAN" = 1 ]; then
    check "ThreadSanitizer reported nothing" 0 "$(grep -c 'WARNING: ThreadSanitizer' "$WORK/bootgated.log")"
fi

finish
