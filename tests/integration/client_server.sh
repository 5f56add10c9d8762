# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgated setup shared by client_unlock.test.sh and bench/client (sourced
# after client_common.sh; needs $HERE = tests/integration).
: "${BOOTGATED:?bootgated not built}" "${BOOTGATECTL:?BOOTGATECTL not set}"

# server_init: keys, certificates and config for a bootgated in $T/srv on a
# free port (init-server), $URL and the admin curl options $ADMIN.
server_init() {
    S=$T/srv
    PORT=$(free_port)
    "$BOOTGATECTL" init-server --port "$PORT" "$S" >/dev/null
    URL=https://127.0.0.1:$PORT
    ADMIN=(--cacert "$S/ca.crt" --cert "$S/admin.crt" --key "$S/admin.key" -sS)
}

start_server() { # [DELAY]
    ( sleep "${1:-0}"; exec "$BOOTGATED" -c "$S/bootgated.conf" --log-stderr ) >>"$T/bootgated.log" 2>&1 &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
}
wait_server() {
    for _ in $(seq 100); do
        curl -sf --cacert "$S/ca.crt" "$URL/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "bootgated not up: $(tail -5 "$T/bootgated.log")"
}
stop_server() { kill "$SRV_PID" 2>/dev/null || true; wait "$SRV_PID" 2>/dev/null || true; }

# The node's firmware log, replayed into swtpm so the log matches the PCRs.
boot() { # EVENTS...: writes $T/eventlog.bin and extends the running swtpm to match
    python3 "$HERE/client_mkeventlog.py" "$T/eventlog.bin" "$@" >"$T/extends"
    while read -r pcr d; do tpm2_pcrextend "$pcr:sha256=$d"; done <"$T/extends"
}
EVENTS=(0:0x80000008:firmware-v1 1:0x80000001:setup 4:0x80000003:shim+grub
    7:4:separator 9:0xd:initrd-v1 11:0xd:uki)

policy() { # NAME VERSION: capture from the current log, sign, upload, activate
    "$BOOTGATECTL" policy capture --eventlog "$T/eventlog.bin" --name "$1" --version "$2" \
        --pcrs 0-9,11 --out "$T/pol.json" >/dev/null
    "$BOOTGATECTL" policy sign --key "$S/policy-signer.key" "$T/pol.json" >/dev/null 2>&1
    jq -n --rawfile p "$T/pol.json" --rawfile s "$T/pol.json.sig" \
        '{policy: $p, signature: ($s | rtrimstr("\n"))}' >"$T/upload.json"
    curl "${ADMIN[@]}" -X POST --data-binary @"$T/upload.json" "$URL/v1/admin/policies" \
        >"$T/upload.out" && jq -e .version "$T/upload.out" >/dev/null || fail "policy upload: $(cat "$T/upload.out")"
    curl "${ADMIN[@]}" -f -X POST "$URL/v1/admin/policies/$1/$2/activate" >/dev/null ||
        fail "policy activate"
}

# client_server_up: the common start of a client-against-server test: bootgated
# up with policy "web" v1 active (captured from the node's log), swtpm "tpm"
# extended to match that log, and a LUKS2 image $T/disk.img.
client_server_up() {
    server_init
    mkdir -p "$T/etc"
    start_swtpm tpm
    make_luks "$T/disk.img" "$T/vk" "$T/pass"
    boot "${EVENTS[@]}"
    start_server
    wait_server
    policy web 1
}

cl() { unlock --set ca="$T/etc/ca.pem" --set event_log="$T/eventlog.bin" --set ima_log= \
    --set poll_interval=1 --set backoff_initial_ms=200 --set backoff_max_ms=1000 "$@"; }

enroll() { # GROUP [extra options]; enrolls "${DISKS[@]}" (default $T/disk.img)
    local g=$1; shift
    cl "$@" enroll --server "$URL" --ca "$S/ca.crt" --group "$g" --client-cert "$S/enroller.crt" \
        --client-key "$S/enroller.key" --key-file "$T/pass" "${DISKS[@]:-$T/disk.img}" >"$T/enroll.out" \
        2>"$T/enroll.err" || fail "enroll: $(cat "$T/enroll.err")"
    NODE=$(awk '/^node_id/{print $2}' "$T/enroll.out")
    local fp state
    fp=$(awk '/^ek_fingerprint/{print $2}' "$T/enroll.out")
    state=$(awk '/^state/{print $2}' "$T/enroll.out")
    [ "$state" = pending ] || fail "swtpm without EK cert: state $state, want pending"
    "$BOOTGATECTL" node approve "$NODE" --ek-fingerprint "$fp" --admin-config "$S/admin.conf" \
        >/dev/null || fail "node approve"
}

