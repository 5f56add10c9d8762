# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by tests/integration/client_*.test.sh (sourced, not a test itself).
set -euo pipefail

: "${BOOTGATE_UNLOCK:?BOOTGATE_UNLOCK not set (run through ctest)}"
: "${BOOTGATE_UNLOCK_TEST:?BOOTGATE_UNLOCK_TEST not set (run through ctest)}"
T=$(mktemp -d "${TMPDIR:-/tmp}/bootgate-client.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

source "$(dirname "${BASH_SOURCE[0]}")/swtpm-lib.sh"

# start_swtpm NAME: a fresh TPM (new EPS) with state in $T/NAME; sets TCTI.
start_swtpm() {
    local name=$1
    swtpm_launch "$T/$name" "$T/$name.log" || fail "swtpm did not start"
    PIDS+=("$SWTPM_PID")
    TCTI=$TPM2TOOLS_TCTI
}

stop_swtpm() { swtpm_stop; }

# A small, fast LUKS2 image (pbkdf2, 1000 iterations) with a known volume key.
make_luks() {
    local img=$1 vk=$2 pass=$3
    truncate -s 20M "$img"
    head -c 64 /dev/urandom >"$vk"
    printf 'correct horse battery staple' >"$pass"
    cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --volume-key-file "$vk" --key-file "$pass" "$img" >/dev/null
}

# make_pki: $T/ca.pem, $T/srv.{pem,key} for 127.0.0.1 signed by it, and an
# unrelated $T/otherca.pem with $T/othersrv.{pem,key}.
make_pki() {
    local ca
    for ca in ca otherca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=bootgate test $ca" -keyout "$T/$ca.key" -out "$T/$ca.pem" 2>/dev/null
    done
    printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
    for ca in ca otherca; do
        local s=srv
        [ $ca = ca ] || s=othersrv
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
            -keyout "$T/$s.key" -out "$T/$s.csr" 2>/dev/null
        openssl x509 -req -in "$T/$s.csr" -CA "$T/$ca.pem" -CAkey "$T/$ca.key" -CAcreateserial \
            -days 2 -extfile "$T/ext" -out "$T/$s.pem" 2>/dev/null
    done
}

TCTI=${TCTI:-swtpm:host=127.0.0.1,port=1}
unlock() { "$BOOTGATE_UNLOCK" --config /dev/null --tcti "$TCTI" "$@"; }
# The test drivers (keys, quote, activate, luks, http): a binary of their own,
# never installed, with the same options as bootgate-unlock.
unlock_test() { "$BOOTGATE_UNLOCK_TEST" --config /dev/null --tcti "$TCTI" "$@"; }
