# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by tests/integration/server_*.test.sh (sourced, not a test itself):
# a temporary bootgated (init-server, port chosen by the kernel, loopback),
# optionally a swtpm, and small assertion helpers. Everything started here is
# killed by the EXIT trap, by pid.
set -euo pipefail
# an unexpected failure names its command instead of ending the test silently
trap 'echo "error: ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND exited $?" >&2' ERR

: "${BOOTGATECTL:?}" "${BOOTGATED:?}"
WORK=$(mktemp -d /tmp/bootgate-srvtest.XXXXXX)
PIDS=()
FAILS=0
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$FAILS" -eq 0 ] && [ -z "${KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK"; fi
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/swtpm-lib.sh"

pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi; }
finish() {
    # the server must have survived every request, and stop cleanly without
    # sanitizer reports (a -DBOOTGATE_SANITIZE=ON build aborts on the first one)
    if [ -n "${SRV_PID:-}" ]; then
        if kill -0 "$SRV_PID" 2>/dev/null; then pass "bootgated survived the run"; else fail "bootgated survived the run"; fi
        kill "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
        if grep -qE 'Sanitizer|runtime error' "$WORK/bootgated.log"; then
            fail "no sanitizer reports"; grep -E -A20 'Sanitizer|runtime error' "$WORK/bootgated.log" | head -60
        else
            pass "no sanitizer reports"
        fi
    fi
    if [ "$FAILS" -ne 0 ]; then echo "$FAILS assertion(s) failed"; exit 1; fi
    echo "all assertions passed"
}

start_bootgated() {
    SRV=$WORK/srv
    "$BOOTGATECTL" init-server --port 0 "$SRV" >/dev/null
    if [ -n "${EK_CA_BUNDLE:-}" ]; then echo "ek_ca_bundle = $EK_CA_BUNDLE" >>"$SRV/bootgated.conf"; fi
    if [ -n "${SRV_EXTRA_CONF:-}" ]; then printf '%s\n' "$SRV_EXTRA_CONF" >>"$SRV/bootgated.conf"; fi
    # created here: the background shell may open it after the first read below
    : >"$WORK/bootgated.log"
    # shellcheck disable=SC2086 # BOOTGATED_ARGS: extra flags, word-split on purpose
    "$BOOTGATED" -c "$SRV/bootgated.conf" ${BOOTGATED_ARGS:-} >"$WORK/bootgated.log" 2>&1 &
    SRV_PID=$!
    PIDS+=($!)
    for _ in $(seq 100); do
        PORT=$(sed -n 's|.*listening on https://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/bootgated.log")
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { cat "$WORK/bootgated.log"; echo "bootgated did not start"; exit 1; }
    URL=https://127.0.0.1:$PORT
    export BOOTGATE_ADMIN_SERVER=$URL BOOTGATE_ADMIN_CONFIG=$SRV/admin.conf
}

# api METHOD PATH [BODY-FILE|-] [ROLE]  -> prints the HTTP status; body in
# $WORK/reply, response headers in $WORK/reply.headers
api() {
    local method=$1 path=$2 body=${3:-} role=${4:-} args=()
    [ -n "$role" ] && args+=(--cert "$SRV/$role.crt" --key "$SRV/$role.key")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "@$body")
    curl -sS -o "$WORK/reply" -D "$WORK/reply.headers" -w '%{http_code}' --cacert "$SRV/ca.crt" -X "$method" \
        "${args[@]}" "$URL$path" || echo "curl-failed"
}
jreply() { jq -r "$1" "$WORK/reply"; }

# swtpm on a free port, TPM2TOOLS_TCTI exported. With EK_CERTS=1 the TPM gets
# an EK certificate from swtpm-localca (swtpm_setup --create-ek-cert).
start_swtpm() {
    local state=$WORK/tpm
    mkdir -p "$state"
    if [ -n "${EK_CERTS:-}" ]; then
        swtpm_setup --tpm2 --tpmstate "$state" --create-ek-cert --create-platform-cert \
            --overwrite >"$WORK/swtpm_setup.log" 2>&1
    fi
    swtpm_launch "$state" "$WORK/swtpm.log" || { echo "swtpm did not start"; cat "$WORK/swtpm.log"; exit 1; }
    PIDS+=("$SWTPM_PID")
}

# swtpm has three transient object slots: tpm2-tools leave loaded contexts behind
tpmflush() { tpm2_flushcontext -t >/dev/null 2>&1 || true; tpm2_flushcontext -s >/dev/null 2>&1 || true; }

# The node's identity with tpm2-tools, as DESIGN §1 step 2 describes it.
make_node_keys() {
    local d=$WORK/node
    mkdir -p "$d"
    tpm2_createek -c "$d/ek.ctx" -G rsa -u "$d/ek.pub" >/dev/null
    tpmflush
    tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 \
        -a 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth' \
        -c "$d/ak.ctx" >/dev/null
    tpmflush
    tpm2_readpublic -c "$d/ak.ctx" -o "$d/ak.pub" -n "$d/ak.name" >/dev/null
    tpmflush
    # EK fingerprint as the server computes it: SHA-256 of TPMT_PUBLIC
    EK_FPR=$(tail -c +3 "$d/ek.pub" | sha256sum | cut -d' ' -f1)
    NODE_ID=${EK_FPR:0:32}
}

# activate ID_OBJECT_B64 SECRET_B64 OUT [EK_CTX]: TPM2_ActivateCredential with the AK and the
# EK under PolicySecret(endorsement), as the node does (DESIGN §1 step 4).
activate() { # ID_OBJECT_B64 SECRET_B64 OUT
    { printf '\xba\xdc\xc0\xde\x00\x00\x00\x01'; echo "$1" | base64 -d; echo "$2" | base64 -d; } >"$WORK/node/cred.bin"
    tpm2_startauthsession --policy-session -S "$WORK/node/s.ctx" >/dev/null
    tpm2_policysecret -S "$WORK/node/s.ctx" -c e >/dev/null
    tpm2_activatecredential -c "$WORK/node/ak.ctx" -C "${4:-$WORK/node/ek.ctx}" -i "$WORK/node/cred.bin" -o "$3" \
        -P "session:$WORK/node/s.ctx" >/dev/null 2>"$WORK/node/activate.err" || true
    tpm2_flushcontext "$WORK/node/s.ctx" >/dev/null
    tpmflush
}
