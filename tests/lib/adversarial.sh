# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Helpers of the adversarial suite (tests/integration/adversarial_*.test.sh),
# sourced after harness.sh. Every case is one named check (acase); the file
# ends with acase_finish, which prints the case count and then finish.
#
#   acase NAME EXPECTED ACTUAL  one case: check, counted
#   raw ARGS...                 tests/lib/rawhttp.py against the test's bootgated
#   rss_kb                      bootgated's resident memory (KiB)
#   cpu_ticks                   bootgated's user + system CPU time (clock ticks)
#   audit_rows [ACTION]         rows of the audit table (of ACTION)
#   last_denial                 "ACTION VERDICT" of the newest audit record
#   denial NAME STATUS VERDICT [JQ]
#                               a fresh challenge, quote and unlock (node.sh) edited
#                               by JQ must be refused with STATUS and VERDICT, carry
#                               no key, and leave an unlock_denied record naming
#                               that verdict
#   unlock_refused NAME STATUS VERDICT
#                               the same for the request already made: $WORK/reply
#                               and the STATUS it got in $GOT
#   metric SERIES               its value in /metrics (0 when absent), e.g.
#                               'bootgate_limit_hits_total{limit="header_timeout"}'
#   serving NAME                the server still answers /healthz and a challenge
#   rss_bounded NAME MAX_KB     resident memory below MAX_KB

# under AddressSanitizer freed memory waits in a quarantine (256 MiB by
# default) before it is reused: keep it small, so that memory bounds still mean
# something there
# (read whole, not through grep -q: with pipefail, grep leaving early makes nm
# die of SIGPIPE and the test took a sanitizer build for a plain one)
_asan_probe=$({ nm -D "$BOOTGATED"; ldd "$BOOTGATED"; } 2>/dev/null || true)
if [[ $_asan_probe == *__asan_init* || $_asan_probe == *libasan* ]]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
    RSS_SLACK_KB=131072
else
    RSS_SLACK_KB=0
fi

ACASES=0
acase() {
    ACASES=$((ACASES + 1))
    check "$@"
}
acase_finish() {
    echo "adversarial cases in $TEST_NAME: $ACASES"
    finish
}

raw() { python3 "$TESTLIB/rawhttp.py" --port "$PORT" --ca "$SRV/ca.crt" "$@"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SRV_PID/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SRV_PID/stat"; }
audit_rows() {
    if [ -n "${1:-}" ]; then
        sqlite3 "$SRV/bootgate.db" "SELECT count(*) FROM audit WHERE action = '$1'"
    else
        sqlite3 "$SRV/bootgate.db" "SELECT count(*) FROM audit"
    fi
}
last_denial() {
    sqlite3 "$SRV/bootgate.db" "SELECT action, json_extract(details, '\$.verdict') FROM audit
        WHERE action LIKE 'unlock_%' ORDER BY seq DESC LIMIT 1" | tr '|' ' '
}

_AUDIT_BEFORE=0
unlock_refused() {
    local name=$1 status=$2 verdict=$3 key audited
    key=$(jq -r 'if has("wrapped_key") or has("credential_blob") then "KEY RELEASED" else "no key" end' \
        "$WORK/reply" 2>/dev/null || echo "no key")
    if [ "$(audit_rows unlock_denied)" -gt "$_AUDIT_BEFORE" ] && [ "$(last_denial)" = "unlock_denied $verdict" ]; then
        audited=audited
    else
        audited="newest audit record: $(last_denial)"
    fi
    acase "$name" "$status $verdict, no key, audited" \
        "$GOT $(jq -r '.verdict // .error' "$WORK/reply" 2>/dev/null), $key, $audited"
}
denial() {
    local name=$1 status=$2 verdict=$3
    _AUDIT_BEFORE=$(audit_rows unlock_denied)
    GOT=$(try_unlock "${4:-.}")
    unlock_refused "$name" "$status" "$verdict"
}
# before a request made by hand, then unlock_refused
audit_mark() { _AUDIT_BEFORE=$(audit_rows unlock_denied); }

metric() {
    api GET /metrics >/dev/null
    awk -v m="$1" '$1 == m { v = $2 } END { print v + 0 }' "$WORK/reply"
}
hits() { metric "bootgate_limit_hits_total{limit=\"$1\"}"; }

serving() {
    jq -n '{node_id:"0123456789abcdef0123456789abcdef"}' >"$WORK/serving.json"
    acase "$1: the server still serves" "200 200" \
        "$(api GET /healthz) $(api POST /v1/challenge "$WORK/serving.json")"
}
rss_bounded() { # NAME MAX_KB (plus RSS_SLACK_KB under AddressSanitizer)
    local kb max=$(($2 + RSS_SLACK_KB))
    kb=$(rss_kb)
    acase "$1: resident memory ${kb} KiB < $max KiB" yes "$([ "$kb" -lt "$max" ] && echo yes || echo no)"
}
