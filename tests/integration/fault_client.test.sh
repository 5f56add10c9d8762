#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults around bootgate-unlock (issue 13, fault suite), injected by a TCP
# proxy (tests/lib/faultproxy.py) between the client and swtpm, and between
# the client and bootgated:
#   the TPM dies in the middle of TPM2_Quote, and of TPM2_ActivateCredential
#   the server answers slower than the client's request timeout
#   the server's connection is reset in the middle of the unlock answer
#   the server refuses connections
# For each: a clear error (or a retry that succeeds once the fault ends), no
# crash, no key the client did not unwrap with its TPM, an audit record for
# every release the server made, and an unlock once the fault ends.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

client_server_up
enroll web
cl --verify-only "$WORK/disk.img" >"$WORK/u.out" 2>&1 || die "unlock without a fault: $(cat "$WORK/u.out")"
released() { sqlite3 -readonly "$SRV/bootgate.db" "SELECT count(*) FROM audit WHERE action = 'key_released'"; }

# --- the proxies ------------------------------------------------------------------
# proxy NAME LISTEN TO [--tpm]: started, killed at exit; its fault in $WORK/NAME.fault
proxy() {
    local name=$1 listen=$2 to=$3
    shift 3
    echo pass >"$WORK/$name.fault"
    python3 "$TESTLIB/faultproxy.py" --listen "$listen" --to "$to" --control "$WORK/$name.fault" \
        --ready "$WORK/$name.ready" "$@" 2>>"$WORK/$name.err" &
    PIDS+=($!)
    for _ in $(seq 50); do [ -e "$WORK/$name.ready" ] && return 0; sleep 0.1; done
    die "proxy $name did not start: $(cat "$WORK/$name.err")"
}
fault() { echo "$2" >"$WORK/$1.fault"; }
injected() { cat "$WORK/$1.fault.log" 2>/dev/null | grep -c -- "$2" || true; }
# The TPM of a client that died mid-command keeps its transient objects: the
# kernel's resource manager (/dev/tpmrm0, the client's default) flushes them
# when the process ends, swtpm's raw socket does not. Do what the kernel does.
tpm_rm_cleanup() { tpmflush; tpm2_flushcontext -l >/dev/null 2>&1 || true; }
TPM_PORT=${TCTI##*port=}
TPROXY=$(free_port_pair)
proxy tpm "$TPROXY" "$TPM_PORT" --tpm
SPROXY=$(free_port)
proxy srv "$SPROXY" "$PORT"
# the client through both proxies
fcl() { TCTI="swtpm:host=127.0.0.1,port=$TPROXY" cl --set server="https://127.0.0.1:$SPROXY" "$@"; }
check_ok "through both proxies without a fault: unlocked" fcl --verify-only "$WORK/disk.img"

# run_client NAME [CL OPTION...]: fcl --verify-only; exit code in RC, output in $WORK/NAME.out
run_client() {
    local name=$1
    shift
    set +e
    fcl "$@" --verify-only "$WORK/disk.img" >"$WORK/$name.out" 2>&1
    RC=$?
    set -e
}
no_secret_in() { # FILE: the volume key appears neither in hex nor in base64
    ! grep -qiF -e "$(xxd -p -c 256 "$WORK/vk")" -e "$(base64 -w0 <"$WORK/vk")" "$1"
}

# --- the TPM dies in the middle of TPM2_Quote ------------------------------------
before=$(released)
fault tpm "drop-at 0x158"
run_client quote --timeout 8
check "TPM dies in TPM2_Quote: the fault happened" 1 "$(injected tpm 'drop-at 0x158' | grep -c '^[1-9]')"
check "TPM dies in TPM2_Quote: the client fails (no crash)" 1 "$([ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] && echo 1)"
check "TPM dies in TPM2_Quote: the error names the TPM" 1 "$(grep -ci 'tpm' "$WORK/quote.out" | grep -c '^[1-9]')"
check "TPM dies in TPM2_Quote: no unlock reached the server, nothing released" "$before" "$(released)"
check_ok "TPM dies in TPM2_Quote: no secret in the output" no_secret_in "$WORK/quote.out"
fault tpm pass
tpm_rm_cleanup
run_client quote-after
check "after the TPM is back: unlocked" 0 "$RC"

# --- the TPM dies in the middle of TPM2_ActivateCredential --------------------------
# The server released the key wrapped to this TPM (and recorded it); only the
# TPM can unwrap it, so the client has nothing.
before=$(released)
fault tpm "drop-at 0x147"
run_client activate --timeout 8
check "TPM dies in ActivateCredential: the fault happened" 1 "$(injected tpm 'drop-at 0x147' | grep -c '^[1-9]')"
check "TPM dies in ActivateCredential: the client fails (no crash)" 1 "$([ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] && echo 1)"
check "TPM dies in ActivateCredential: the error names the TPM" 1 "$(grep -ci 'tpm\|activat' "$WORK/activate.out" | grep -c '^[1-9]')"
check "TPM dies in ActivateCredential: the server's release is recorded" 1 "$([ "$(released)" -gt "$before" ] && echo 1)"
check "TPM dies in ActivateCredential: no 'released key verified'" 0 "$(grep -c 'released key verified' "$WORK/activate.out" || true)"
check_ok "TPM dies in ActivateCredential: no secret in the output" no_secret_in "$WORK/activate.out"
fault tpm pass
tpm_rm_cleanup
run_client activate-after
check "after the TPM is back: unlocked" 0 "$RC"

# fault_while_client NAME FAULT HOLD [CL OPTION...]: the client runs in the
# background under the server proxy's FAULT; once the proxy injected it, the
# fault stays HOLD seconds more, then the proxy passes again. The client's
# exit code lands in $WORK/NAME.rc.
fault_while_client() {
    local name=$1 f=$2 hold=$3 cpid
    shift 3
    fault srv "$f"
    (run_client "$name" --timeout 40 "$@" && echo "$RC" >"$WORK/$name.rc") &
    cpid=$!
    for _ in $(seq 100); do [ "$(injected srv "${f%% *}")" -ge 1 ] && break; sleep 0.1; done
    sleep "$hold"
    fault srv pass
    wait "$cpid"
}

# --- the server answers slower than the request timeout, then recovers ----------------
# a 2 s request timeout; the proxy holds answers for 4 s, then passes again: the
# client's retries must get through before its deadline
fault_while_client slow "delay-response 4" 3 --set request_timeout=2
check "slow server: answers were delayed" 1 "$(injected srv delay-response | grep -c '^[1-9]')"
check "slow server: the client retried and unlocked once it answered in time" 0 "$(cat "$WORK/slow.rc")"
check "slow server: the client said it retried" 1 \
    "$(grep -ciE 'retry|retrying|again|timed out|timeout' "$WORK/slow.out" | grep -c '^[1-9]')"

# --- the connection is reset in the middle of the unlock's answer ----------------------
fault_while_client reset "reset-after-upload 2500" 1
check "reset mid-answer: resets happened" 1 "$(injected srv reset-after-upload | grep -c '^[1-9]')"
check "reset mid-answer: the client retried and unlocked" 0 "$(cat "$WORK/reset.rc")"
check_ok "reset mid-answer: no secret in the output" no_secret_in "$WORK/reset.out"
check "reset mid-answer: the lost nonce restarts the attempt, no denial shown" 0 \
    "$(grep -c 'DENIED' "$WORK/reset.out" || true)"
check "  the client says why it asks again" 1 "$(grep -c 'failed try had used: asking again' "$WORK/reset.out")"

# --- the server refuses connections: a clear error at the deadline ------------------------
fault srv refuse
run_client refused --timeout 4
check "server refuses: the client gives up at its deadline (exit 1-127)" 1 "$([ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] && echo 1)"
check "server refuses: the error says it could not reach the server" 1 \
    "$(grep -ciE 'unreachable|reach|connect|reset' "$WORK/refused.out" | grep -c '^[1-9]')"
fault srv pass
run_client refused-after
check "after the server accepts again: unlocked" 0 "$RC"

# --- every release has its audit record, and the chain holds -----------------------------
check "audit verify passes" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
finish
