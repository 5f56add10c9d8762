#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Unlock latency: bootgate-unlock --verify-only against bootgated + swtpm, side by
# side with clevis + Tang (Debian's tangd) on the same machine, interleaved run
# by run so that both see the same load. Run by hand (not a ctest test):
#   bench/client/run.sh [N]        N runs of each (default 50); `run.sh 3` is the smoke run
#   BUILD=build-asan bench/client/run.sh 10
#   EK=ecc|persistent bench/client/run.sh  (default rsa: the client's auto mode on a TPM
#       without a persistent EK creates the RSA EK each run; persistent = an RSA EK at
#       0x81010001 as provisioned on many machines; ecc = ek_type=ecc)
#   DB=tmpfs: bootgated's SQLite database in /dev/shm (shows what the fsync of the
#       synchronous=FULL audit/nonce commit costs; default: in the temp dir on disk)
#   OUT=file: also keep the per-run JSON lines
# Needs a build (BUILD, default ./build), swtpm, tpm2-tools, cryptsetup, clevis,
# clevis-luks, tang, socat, curl, jq, python3.
#
# What each side does per run (both stop short of device-mapper, which the build
# hosts lack, and both check the key against the LUKS2 header):
#   bootgate  bootgate-unlock --timing --verify-only IMG: load EK + AK, challenge,
#             quote + PCR read, unlock (evidence, policy, audit commit on the server),
#             ActivateCredential, unwrap, crypt_volume_key_verify. One TLS connection
#             for both POSTs.
#   clevis    clevis luks unlock -d IMG -t 1: read the clevis token, clevis decrypt
#             (tang pin: one HTTP exchange with tangd, JOSE ECMR recovery), then
#             cryptsetup open --test-passphrase on the pbkdf2-1000 keyslot that
#             clevis luks bind created. That is `clevis luks unlock` minus
#             `cryptsetup open` of the mapping.
# Phases on the bootgate side come from the client's --timing JSON line (CLOCK_MONOTONIC
# around each TPM command group, each POST, the unwrap and the LUKS calls) and from
# bootgated's /metrics (bootgate_request_seconds_sum/_count deltas around each run =
# server-side handler time of challenge + unlock; one calibrated /metrics scrape is
# subtracted). network = client-side POST time - server time (TLS, HTTP, loopback).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$SRC/build}
N=${1:-${N:-50}}
case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N>0]" >&2; exit 2 ;; esac
export BOOTGATE_UNLOCK=$BUILD/bootgate-unlock BOOTGATE_UNLOCK_TEST=$BUILD/bootgate-unlock-test \
    BOOTGATED=$BUILD/bootgated BOOTGATECTL=$BUILD/bootgatectl
for b in "$BOOTGATE_UNLOCK" "$BOOTGATED" "$BOOTGATECTL"; do
    [ -x "$b" ] || { echo "$b not built (set BUILD=)" >&2; exit 2; }
done
for c in swtpm tpm2_pcrextend cryptsetup clevis jose socat curl jq python3 /usr/libexec/tangd; do
    command -v "$c" >/dev/null || { echo "missing $c (ci/deps.sh)" >&2; exit 2; }
done
"$BOOTGATE_UNLOCK" --help | grep -q -- --timing ||
    { echo "$BOOTGATE_UNLOCK has no --timing" >&2; exit 2; }
# shellcheck source=../../tests/lib/harness.sh
. "$SRC/tests/lib/harness.sh"
say() { echo "bench: $*" >&2; }
EK=${EK:-rsa}
case $EK in
rsa | persistent) EKOPT=() ;;
ecc) EKOPT=(--set ek_type=ecc) ;;
*) echo "EK must be rsa, ecc or persistent" >&2; exit 2 ;;
esac
DB=${DB:-disk}
case $DB in disk | tmpfs) ;; *) echo "DB must be disk or tmpfs" >&2; exit 2 ;; esac
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# --- bootgate: swtpm, bootgated, LUKS2 image, enrollment, a passing policy ---
say "setup: swtpm, bootgated, LUKS2 image, enroll, policy"
bootgated_init
mkdir -p "$WORK/etc"
if [ "$DB" = tmpfs ]; then
    SHM=$(mktemp -d /dev/shm/bootgate-bench.XXXXXX)
    on_exit "rm -rf '$SHM'"
    sed -i "s|^db = .*|db = $SHM/bootgate.db|" "$SRV/bootgated.conf"
fi
start_swtpm tpm
if [ "$EK" = persistent ]; then # TCG EK Credential Profile template L-1 at 0x81010001
    tpm2_createek -c 0x81010001 -G rsa -u "$WORK/ek.pub" >/dev/null || die "tpm2_createek"
fi
make_luks "$WORK/disk.img" "$WORK/vk" "$WORK/pass"
eventlog_boot "$WORK/eventlog.bin" "${EVENTS[@]}" # extends swtpm so that its PCRs match the log
start_bootgated
bootgated_policy web 1 "$WORK/eventlog.bin" --pcrs 0-9,11 # PCRs 0-9,11 of the running swtpm
enroll web "${EKOPT[@]}"

# --- clevis: tangd behind socat on a free loopback port, a tang-bound keyslot ---
say "setup: tangd, clevis luks bind"
mkdir -p "$WORK/tang"
/usr/libexec/tangd-keygen "$WORK/tang"
TANG_PORT=$(free_port)
socat TCP-LISTEN:"$TANG_PORT",bind=127.0.0.1,reuseaddr,fork \
    EXEC:"/usr/libexec/tangd $WORK/tang" 2>>"$WORK/tangd.log" &
PIDS+=($!)
TANG=http://127.0.0.1:$TANG_PORT
for _ in $(seq 50); do
    curl -sf "$TANG/adv" >/dev/null && break
    sleep 0.1
done
curl -sf "$TANG/adv" >/dev/null || die "tangd not up: $(tail -3 "$WORK/tangd.log")"
# A second image, formatted like the first; clevis adds keyslot 1 (pbkdf2, 1000
# iterations: clevis's own choice for its high-entropy passphrase) and token 0.
make_luks "$WORK/clevis.img" "$WORK/vk2" "$WORK/pass2"
clevis luks bind -y -d "$WORK/clevis.img" -k "$WORK/pass2" tang "{\"url\":\"$TANG\"}" 2>"$WORK/bind.err" ||
    die "clevis luks bind: $(cat "$WORK/bind.err")"
SLOT=$(clevis luks list -d "$WORK/clevis.img" | awk -F: 'NR == 1 { print $1 }')
[ -n "$SLOT" ] || die "clevis luks list shows no binding"
# The token's JWE in compact form, as clevis_luks_read_slot makes it, for timing
# clevis decrypt alone.
cryptsetup token export --token-id 0 "$WORK/clevis.img" | jose fmt -j- -Og jwe -o- |
    jose jwe fmt -i- -c >"$WORK/jwe"
clevis decrypt <"$WORK/jwe" >"$WORK/clevis.pass" || die "clevis decrypt"

# --- server time from /metrics ---
metrics() { # prints "sum_us count" of bootgate_request_seconds
    curl -sf --cacert "$SRV/ca.crt" "$URL/metrics" |
        awk '/^bootgate_request_seconds_sum /{ s = $2 } /^bootgate_request_seconds_count /{ c = $2 }
             END { if (c == "") exit 1; printf "%.0f %d\n", s * 1e6, c }'
}
# Each delta also holds the previous scrape's own request: measure that once.
read -r s0 c0 < <(metrics)
for _ in 1 2 3 4 5 6; do read -r s1 c1 < <(metrics); done
SCRAPE_US=$(((s1 - s0) / (c1 - c0)))

# What linking costs by itself: an empty main() linked against bootgate-unlock's
# direct libraries, libcurl apart (Debian's libcurl pulls in ldap, krb5, gnutls, ssh2...).
echo 'int main(void) { return 0; }' >"$WORK/empty.c"
cc -o "$WORK/empty_curl" "$WORK/empty.c" -Wl,--no-as-needed -lcurl
cc -o "$WORK/empty_rest" "$WORK/empty.c" -Wl,--no-as-needed -lcryptsetup -ltss2-esys -ltss2-tctildr \
    -ltss2-mu -lcrypto -ljson-c

us() { # elapsed µs since $1 (an $EPOCHREALTIME value)
    local a=${1/./} b=${EPOCHREALTIME/./}
    echo $((10#$b - 10#$a))
}

run_bootgate() { # writes the --timing JSON line to $WORK/bg.json, prints wall µs
    local t0=$EPOCHREALTIME
    cl "${EKOPT[@]}" --timing --verify-only "$WORK/disk.img" 2>"$WORK/bg.err" >/dev/null ||
        die "bootgate-unlock: $(grep -v bootgate_timing "$WORK/bg.err")"
    us "$t0"
    grep '^{"bootgate_timing"' "$WORK/bg.err" >"$WORK/bg.json" || die "no --timing line"
}
clevis_decrypt() { clevis decrypt <"$WORK/jwe" >/dev/null; }
bg_version() { "$BOOTGATE_UNLOCK" --version >/dev/null; }
run_timed() { # CMD...: prints wall µs
    local t0=$EPOCHREALTIME
    "$@" || die "$*"
    us "$t0"
}

say "warm-up"
for _ in 1 2; do
    run_bootgate >/dev/null
    clevis luks unlock -d "$WORK/clevis.img" -t "$SLOT" || die "clevis luks unlock -t"
    clevis decrypt <"$WORK/jwe" >/dev/null
done

say "$N interleaved runs of each"
: >"$WORK/runs"
read -r s0 c0 < <(metrics)
for i in $(seq "$N"); do
    bg_wall=$(run_bootgate)
    read -r s1 c1 < <(metrics)
    [ $((c1 - c0)) = 3 ] || die "run $i: $((c1 - c0)) server requests, expected challenge + unlock + scrape"
    server=$((s1 - s0 - SCRAPE_US))
    ((server >= 0)) || server=0
    s0=$s1 c0=$c1
    cl_unlock=$(run_timed clevis luks unlock -d "$WORK/clevis.img" -t "$SLOT")
    cl_decrypt=$(run_timed clevis_decrypt)
    cl_check=$(run_timed cryptsetup open --test-passphrase --key-file "$WORK/clevis.pass" "$WORK/clevis.img")
    spawn=$(run_timed /bin/true)
    # exec + dynamic linking (libcurl, tss2, cryptsetup, OpenSSL, json-c) + exit
    version=$(run_timed bg_version)
    link_curl=$(run_timed "$WORK/empty_curl")
    link_rest=$(run_timed "$WORK/empty_rest")
    # one Tang HTTP exchange (socat accept + fork/exec tangd + reply), curl's own clock
    tang_http=$(curl -sf -o /dev/null -w '%{time_total}' "$TANG/adv" | awk '{ printf "%.0f", $1 * 1e6 }')
    jq -c --argjson w "$bg_wall" --argjson s "$server" --argjson u "$cl_unlock" \
        --argjson d "$cl_decrypt" --argjson k "$cl_check" --argjson t "$tang_http" --argjson b "$spawn" --argjson v "$version" \
        --argjson lc "$link_curl" --argjson lr "$link_rest" \
        '. + {wall_us: $w, server_us: $s, clevis_unlock_us: $u, clevis_decrypt_us: $d,
              clevis_check_us: $k, tang_http_us: $t, true_us: $b,
              version_us: $v, link_curl_us: $lc, link_rest_us: $lr}' "$WORK/bg.json" >>"$WORK/runs"
done

[ -z "${OUT:-}" ] || cp "$WORK/runs" "$OUT"
python3 "$SRC/bench/client/report.py" "$WORK/runs" "$SCRAPE_US" "EK $EK, bootgated DB on $DB" \
    "load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg) after, $(nproc) CPUs"
