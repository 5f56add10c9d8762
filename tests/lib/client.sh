# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# bootgate-unlock in the tests (sourced by harness.sh): its LUKS2 images, a PKI
# for test HTTPS servers, and the client-against-bootgated setup.
#
#   unlock ARGS...          bootgate-unlock without a config file, on $TCTI
#   unlock_test ARGS...     the same with bootgate-unlock-test (the test drivers)
#   make_luks IMG VK PASS   a small, fast LUKS2 image (pbkdf2, 1000 iterations)
#                           with a known volume key
#   make_pki                $WORK/ca.pem, $WORK/srv.{pem,key} for 127.0.0.1 signed by
#                           it, an unrelated $WORK/otherca.pem with $WORK/othersrv.{pem,key}
#   EVENTS                  the node's firmware events (tests/lib/eventlog.py syntax)
#   client_server_up        bootgated up with policy "web" v1 active (captured from
#                           the node's log $WORK/eventlog.bin), swtpm "tpm" extended
#                           to match that log, and a LUKS2 image $WORK/disk.img
#   cl ARGS...              unlock as an installed node: CA $WORK/etc/ca.pem, that
#                           event log, fast polling
#   enroll GROUP [OPTION...]
#                           enrolls "${DISKS[@]}" (default $WORK/disk.img) and
#                           approves the node (swtpm has no EK certificate); NODE

TCTI=${TCTI:-swtpm:host=127.0.0.1,port=1}
unlock() { "$BOOTGATE_UNLOCK" --config /dev/null --tcti "$TCTI" "$@"; }
# The test drivers (keys, quote, activate, luks, http): a binary of their own,
# never installed, with the same options as bootgate-unlock.
unlock_test() { "$BOOTGATE_UNLOCK_TEST" --config /dev/null --tcti "$TCTI" "$@"; }

make_luks() {
    local img=$1 vk=$2 pass=$3
    truncate -s 20M "$img"
    head -c 64 /dev/urandom >"$vk"
    printf 'correct horse battery staple' >"$pass"
    cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --volume-key-file "$vk" --key-file "$pass" "$img" >/dev/null
}

make_pki() {
    local ca s
    for ca in ca otherca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=bootgate test $ca" -keyout "$WORK/$ca.key" -out "$WORK/$ca.pem" 2>/dev/null
    done
    printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/ext"
    for ca in ca otherca; do
        s=srv
        [ $ca = ca ] || s=othersrv
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
            -keyout "$WORK/$s.key" -out "$WORK/$s.csr" 2>/dev/null
        openssl x509 -req -in "$WORK/$s.csr" -CA "$WORK/$ca.pem" -CAkey "$WORK/$ca.key" -CAcreateserial \
            -days 2 -extfile "$WORK/ext" -out "$WORK/$s.pem" 2>/dev/null
    done
}

EVENTS=(0:0x80000008:firmware-v1 1:0x80000001:setup 4:0x80000003:shim+grub
    7:4:separator 9:0xd:initrd-v1 11:0xd:uki)

client_server_up() {
    bootgated_init
    mkdir -p "$WORK/etc"
    start_swtpm tpm
    make_luks "$WORK/disk.img" "$WORK/vk" "$WORK/pass"
    eventlog_boot "$WORK/eventlog.bin" "${EVENTS[@]}"
    start_bootgated
    bootgated_policy web 1 "$WORK/eventlog.bin" --pcrs 0-9,11
}

cl() {
    unlock --set ca="$WORK/etc/ca.pem" --set event_log="$WORK/eventlog.bin" --set ima_log= \
        --set poll_interval=1 --set backoff_initial_ms=200 --set backoff_max_ms=1000 "$@"
}

enroll() {
    local g=$1 fp state
    shift
    cl "$@" enroll --server "$URL" --ca "$SRV/ca.crt" --group "$g" --client-cert "$SRV/enroller.crt" \
        --client-key "$SRV/enroller.key" --key-file "$WORK/pass" "${DISKS[@]:-$WORK/disk.img}" >"$WORK/enroll.out" \
        2>"$WORK/enroll.err" || die "enroll: $(cat "$WORK/enroll.err")"
    NODE=$(awk '/^node_id/{print $2}' "$WORK/enroll.out")
    fp=$(awk '/^ek_fingerprint/{print $2}' "$WORK/enroll.out")
    state=$(awk '/^state/{print $2}' "$WORK/enroll.out")
    check "swtpm without EK certificate: enrolled pending" pending "$state"
    "$BOOTGATECTL" node approve "$NODE" --ek-fingerprint "$fp" --admin-config "$SRV/admin.conf" \
        >/dev/null || die "node approve"
}
