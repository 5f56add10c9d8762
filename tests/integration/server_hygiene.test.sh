#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Secrets and denial hygiene of bootgated without a TPM: all memory locked
# (lock_memory), a clear error when it cannot be, and the audit rows of
# unauthenticated denials bounded per source IP while /metrics counts all.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

# --- lock_memory: a bad value and a failing mlockall are errors ----------
"$BOOTGATECTL" init-server --port 0 "$WORK/chk" >/dev/null
cp "$WORK/chk/bootgated.conf" "$WORK/chk/bad.conf"
echo "lock_memory = maybe" >>"$WORK/chk/bad.conf"
check "lock_memory = maybe is a configuration error" 1 \
    "$("$BOOTGATED" -c "$WORK/chk/bad.conf" --check >/dev/null 2>&1; echo $?)"
# the sanitizers intercept mlockall as a no-op: nothing to check there
ASAN=$(grep -qa __asan_init "$BOOTGATED" && echo 1 || echo 0)
if [ "$ASAN" = 1 ]; then
    echo "skip - mlockall checks: sanitizer build (mlockall is a no-op under ASan)"
elif command -v setpriv >/dev/null && command -v prlimit >/dev/null &&
    setpriv --bounding-set=-ipc_lock true 2>/dev/null; then
    # without CAP_IPC_LOCK and with a 1 MiB RLIMIT_MEMLOCK, mlockall must fail
    rc=0
    prlimit --memlock=1048576:1048576 setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock \
        "$BOOTGATED" -c "$WORK/chk/bootgated.conf" --check >"$WORK/nolock.out" 2>&1 || rc=$?
    check "mlockall failing with lock_memory = yes: exit 1" 1 "$rc"
    check "... with a message that names the fix" 1 \
        "$(grep -c 'lock_memory = yes but mlockall failed.*RLIMIT_MEMLOCK' "$WORK/nolock.out")"
    cp "$WORK/chk/bootgated.conf" "$WORK/chk/nolock.conf"
    echo "lock_memory = no" >>"$WORK/chk/nolock.conf"
    check "lock_memory = no starts without the privilege" 0 \
        "$(prlimit --memlock=1048576:1048576 setpriv --bounding-set=-ipc_lock --inh-caps=-ipc_lock \
            "$BOOTGATED" -c "$WORK/chk/nolock.conf" --check >/dev/null 2>&1; echo $?)"
else
    echo "skip - setpriv/prlimit cannot drop CAP_IPC_LOCK here"
fi

SRV_EXTRA_CONF="denial_audit_burst = 3
denial_audit_per_minute = 1" start_bootgated

# --- memory locked: VmLck covers far more than the secmem pages ------------
vmlck=$(awk '/^VmLck:/ {print $2}' "/proc/$SRV_PID/status")
if [ "$ASAN" = 0 ]; then
    check "bootgated's memory is locked (VmLck ${vmlck} kB > 1024 kB)" 1 "$([ "${vmlck:-0}" -gt 1024 ] && echo 1 || echo 0)"
fi

# --- unauthenticated denials: audit rows bounded, metrics count all --------
forged_unlock_body "$WORK/forged.json"
statuses=""
for _ in $(seq 10); do statuses+="$(api POST /v1/unlock "$WORK/forged.json") $(jreply .verdict);"; done
check "10 forged nonces: each denied" 10 "$(tr ';' '\n' <<<"$statuses" | grep -c '^403 nonce_forged$')"
check "the last one has no audit row (audit_seq -1)" -1 "$(jreply .audit_seq)"
"$BOOTGATECTL" audit list --json >"$WORK/audit.json"
check "only the burst (3) became audit rows" 3 \
    "$(jq '[.[] | select(.action == "unlock_denied")] | length' "$WORK/audit.json")"
api GET /metrics >/dev/null
check "metrics count all 10 denials" 1 "$(grep -c '^bootgate_denials_total{group="",verdict="nonce_forged"} 10$' "$WORK/reply")"
check "metrics count the 7 without a row" 1 "$(grep -c '^bootgate_denials_unaudited_total 7$' "$WORK/reply")"
check "syslog names the denials without a row" 7 \
    "$(grep -c 'BOOTGATE_ACTION=unlock_denied .*BOOTGATE_UNAUDITED=1' "$WORK/bootgated.log")"
check "the audited ones are logged as audit records" 3 \
    "$(grep 'BOOTGATE_ACTION=unlock_denied' "$WORK/bootgated.log" | grep -vc 'BOOTGATE_UNAUDITED=1')"

# a node id cannot forge log fields
jq '.node_id = "x BOOTGATE_ACTION=key_released"' "$WORK/forged.json" >"$WORK/inject.json"
check "a node id with a space is denied" 403 "$(api POST /v1/unlock "$WORK/inject.json")"
check "... and logged with ' ' and '=' replaced" 1 "$(grep -c 'BOOTGATE_NODE=x_BOOTGATE_ACTION_key_released ' "$WORK/bootgated.log")"
check "no log line claims a release" 0 "$(grep -c ' BOOTGATE_ACTION=key_released' "$WORK/bootgated.log" || true)"

finish
