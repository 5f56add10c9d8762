#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgate-unlock enroll + unlock end to end against client_refserver.py, an
# independent reference of the server side (tpm2_checkquote, tpm2_makecredential,
# python-cryptography HKDF + AES-GCM), with swtpm and a LUKS2 image file.
# client_unlock.test.sh runs the same flow against the real bootgated.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
python3 -c 'import cryptography' 2>/dev/null || { echo "python3-cryptography missing"; exit 1; }

make_pki
mkdir -p "$WORK/etc" "$WORK/state"
start_swtpm tpm
make_luks "$WORK/disk.img" "$WORK/vk" "$WORK/pass"
UUID=$(cryptsetup luksUUID "$WORK/disk.img")

start_ref() { # [PORT] [DELAY]
    rm -f "$WORK/port"
    ( sleep "${2:-0}"; exec python3 "$HERE/client_refserver.py" "$WORK/srv.pem" "$WORK/srv.key" \
        "$WORK/state" "$WORK/port" "${1:-0}" ) >>"$WORK/ref.log" 2>&1 &
    REF_PID=$!
    PIDS+=("$REF_PID")
    if [ "${2:-0}" = 0 ]; then
        for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
        [ -s "$WORK/port" ] || die "reference server did not start: $(cat "$WORK/ref.log")"
        PORT=$(cat "$WORK/port")
    fi
}
stop_ref() { kill "$REF_PID" 2>/dev/null || true; wait "$REF_PID" 2>/dev/null || true; }
# The installed-OS configuration: CA where enroll puts it, fast polling for tests.
cl() { unlock --set ca="$WORK/etc/ca.pem" --set poll_interval=1 --set backoff_initial_ms=200 \
    --set backoff_max_ms=1000 --set event_log= --set ima_log= "$@"; }
n_unlock() { grep -c '^/v1/unlock ' "$WORK/state/requests.log" || true; }

start_ref
# --- enroll
cl enroll --server "https://127.0.0.1:$PORT" --ca "$WORK/ca.pem" --group web \
    --key-file "$WORK/pass" "$WORK/disk.img" >"$WORK/enroll.out" 2>"$WORK/enroll.err" ||
    die "enroll: $(cat "$WORK/enroll.err")"
grep -q '^state pending' "$WORK/enroll.out" || fail "no EK cert must give pending: $(cat "$WORK/enroll.out")"
NODE=$(awk '/^node_id/{print $2}' "$WORK/enroll.out")
cmp -s "$WORK/ca.pem" "$WORK/etc/ca.pem" || fail "enroll did not install the CA"
[ "$(jq -r .key "$WORK/state/node.json" | base64 -d | xxd -p -c 256)" = "$(xxd -p -c 256 "$WORK/vk")" ] ||
    fail "enroll sent a volume key that differs from the LUKS volume key"
[ "$(jq -r .uuid "$WORK/state/node.json")" = "$UUID" ] || fail "enroll sent another uuid"
tok=$(cryptsetup token export --token-id 0 "$WORK/disk.img")
[ "$(jq -r .node_id <<<"$tok")" = "$NODE" ] || fail "token node_id: $tok"
[ "$(jq -r .ca_sha256 <<<"$tok")" = "$(sha256sum "$WORK/ca.pem" | cut -d' ' -f1)" ] || fail "ca pin"
[ "$(jq -r .server <<<"$tok")" = "https://127.0.0.1:$PORT" ] || fail "token server"
grep -q pending "$WORK/enroll.err" || fail "pending not explained"
pass "enroll: node $NODE, volume key + token + CA pin"

# --- unlock --verify-only: the released key opens the header; never printed
cl --verbose --verify-only "$WORK/disk.img" >"$WORK/u.out" 2>&1 || fail "unlock: $(cat "$WORK/u.out")"
grep -q 'released key verified' "$WORK/u.out" || fail "not verified: $(cat "$WORK/u.out")"
for enc in "$(xxd -p -c 256 "$WORK/vk")" "$(base64 -w0 "$WORK/vk")" "$(xxd -p -c 256 "$WORK/vk" | cut -c1-16)"; do
    ! grep -qi -- "$enc" "$WORK/u.out" || fail "volume key printed"
done
pass "unlock --verify-only succeeds, key not printed"

# --- PCR 9 moves (another kernel/initrd): denied with the reason and the
# break-glass code, the client keeps polling until its deadline
tpm2_pcrextend 9:sha256=$(printf 'evil kernel' | sha256sum | cut -d' ' -f1)
before=$(n_unlock)
start=$(date +%s)
set +e
cl --timeout 5 --verify-only "$WORK/disk.img" >"$WORK/d.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "PCR 9 changed: exit $rc, want 1: $(cat "$WORK/d.out")"
grep -q 'DENIED' "$WORK/d.out" && grep -q 'PCR 9' "$WORK/d.out" && grep -q 'BG-TEST-0001' "$WORK/d.out" ||
    fail "denial not explained: $(cat "$WORK/d.out")"
[ $(( $(n_unlock) - before )) -ge 2 ] || fail "client did not keep polling after the denial"
[ $(( $(date +%s) - start )) -le 7 ] || fail "denied run overran its 5 s deadline"
pass "PCR 9 extended: denied (exit 1) with explanation + code, polled $(( $(n_unlock) - before )) times"

# --- a grant arrives while the client polls (break-glass / new policy)
tpm2_pcrread sha256:9 | grep -o '0x[0-9A-Fa-f]*' | cut -c3- | tr A-F a-f >"$WORK/state/expect_pcr9"
echo 2 >"$WORK/state/deny"
cl --timeout 20 --verify-only "$WORK/disk.img" >"$WORK/g.out" 2>&1 || fail "grant while polling: $(cat "$WORK/g.out")"
[ "$(grep -Ec "DENIED|still denied" "$WORK/g.out")" = 2 ] && [ "$(grep -c DENIED "$WORK/g.out")" = 1 ] || fail "expected 2 denials then grant: $(cat "$WORK/g.out")"
pass "denied twice, then granted while polling"
[ "$(grep -c '^<[0-7]>' "$WORK/g.out")" = 0 ] || fail "priority prefixes without a journal stream"

# --- the same, with stderr as the unit's journal stream ($JOURNAL_STREAM =
# its device:inode, as systemd sets it): each line carries its priority for
# journald, denials at warning (4), progress and the release at info (6)
echo 2 >"$WORK/state/deny"
: >"$WORK/j.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/j.err") \
    cl --timeout 20 --verify-only "$WORK/disk.img" >"$WORK/j.out" 2>>"$WORK/j.err" ||
    fail "grant while polling, journal stream: $(cat "$WORK/j.err")"
check "journal stream: the denial at warning" 1 \
    "$(grep -c '^<4>bootgate-unlock: .*: unlock DENIED' "$WORK/j.err")"
check "journal stream: its explanation and break-glass code at warning" 1 \
    "$(grep -c '^<4>bootgate-unlock:   break-glass code: BG-TEST-0001' "$WORK/j.err")"
check "journal stream: the second denial at warning" 1 "$(grep -c '^<4>bootgate-unlock: .*still denied' "$WORK/j.err")"
check "journal stream: polling at info" 2 "$(grep -c '^<6>bootgate-unlock: .*asking again in' "$WORK/j.err")"
check "journal stream: the release at info" 1 \
    "$(grep -c '^<6>bootgate-unlock: .*released key verified' "$WORK/j.err")"
check "journal stream: every line has a priority" 0 "$(grep -vc '^<[0-7]>' "$WORK/j.err" || true)"
# another file's device:inode is not this stream: no prefixes
: >"$WORK/j2.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/j.err") \
    cl --verify-only "$WORK/disk.img" >/dev/null 2>>"$WORK/j2.err" || fail "unlock: $(cat "$WORK/j2.err")"
check "another stream's JOURNAL_STREAM: no prefixes" 0 "$(grep -c '^<[0-7]>' "$WORK/j2.err" || true)"

# --- a grant the client must not accept: tampered wrapped key (GCM tag),
# credential for another AK (TPM refuses), key that does not open the volume,
# a release for an EK other than the one this TPM showed (no session is salted
# to it, no ActivateCredential)
for mode in wrapped:'does not unwrap':1 other_ak:'refused the credential':3 \
    other_key:'does not open':1 other_ek:'is not the enrolled EK':3; do
    IFS=: read -r m msg want <<<"$mode"
    echo "$m" >"$WORK/state/tamper"
    set +e
    cl --timeout 10 --verify-only "$WORK/disk.img" >"$WORK/t.out" 2>&1; rc=$?
    set -e
    [ $rc -eq "$want" ] && grep -q "$msg" "$WORK/t.out" || fail "tamper $m: exit $rc $(cat "$WORK/t.out")"
done
rm "$WORK/state/tamper"
pass "tampered key, credential for another AK, wrong key, release for another EK: all refused"

# --- a server answering garbage: not JSON or JSON without the fields (exit 4,
# "bad ... answer"), or an error object (exit 1, its error and reason shown);
# each at once, not at the deadline
for g in challenge:text:4:'bad challenge answer' challenge:fields:4:'bad challenge answer' \
    challenge:500:1:'HTTP 500: internal: disk on fire' unlock:text:4:'bad unlock answer' \
    unlock:fields:4:'bad unlock answer' unlock:500:1:'HTTP 500: internal: disk on fire'; do
    IFS=: read -r ep kind want msg <<<"$g"
    echo "$ep:$kind" >"$WORK/state/garbage"
    start=$(date +%s%N)
    set +e
    cl --timeout 20 --verify-only "$WORK/disk.img" >"$WORK/x.out" 2>&1; rc=$?
    set -e
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ $rc -eq "$want" ] && grep -qF "$msg" "$WORK/x.out" && [ $ms -lt 10000 ] ||
        fail "garbage $ep:$kind: exit $rc after $ms ms: $(cat "$WORK/x.out")"
    ! grep -q 'released key verified' "$WORK/x.out" || fail "garbage $ep:$kind unlocked"
done
rm "$WORK/state/garbage"
pass "garbage answers (text, missing fields, HTTP 500) to challenge and unlock: refused at once"

# --- server 3 s late: unlock succeeds inside the deadline
stop_ref
start_ref "$PORT" 3
start=$(date +%s%N)
cl --timeout 20 --verify-only "$WORK/disk.img" >"$WORK/l.out" 2>&1 || fail "late server: $(cat "$WORK/l.out")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 2500 ] || fail "late server answered after $ms ms?"
pass "server 3 s late: unlocked after $ms ms"

# --- unreachable: exit 4 at the deadline
set +e
start=$(date +%s%N)
cl --timeout 3 --set server="https://127.0.0.1:$(free_port)" --verify-only "$WORK/disk.img" \
    >"$WORK/x.out" 2>&1; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
set -e
[ $rc -eq 4 ] && [ $ms -le 4500 ] || fail "unreachable: exit $rc after $ms ms"
pass "unreachable server: exit 4 after $ms ms (deadline 3 s)"

# --- wrong CA: a CA file that is not the pinned one is refused before any
# request; a server whose certificate is from another CA is refused by TLS
set +e
cl --set ca="$WORK/otherca.pem" --verify-only "$WORK/disk.img" >"$WORK/w.out" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'not the CA pinned' "$WORK/w.out" || fail "other CA file: exit $rc $(cat "$WORK/w.out")"
python3 "$HERE/client_refserver.py" "$WORK/othersrv.pem" "$WORK/othersrv.key" "$WORK/state" "$WORK/port3" \
    >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/port3" ] && break; sleep 0.05; done
set +e
cl --timeout 10 --set server="https://127.0.0.1:$(cat "$WORK/port3")" --verify-only "$WORK/disk.img" \
    >"$WORK/w2.out" 2>&1; rc=$?
set -e
[ $rc -eq 4 ] && grep -qi 'certificate' "$WORK/w2.out" || fail "server of other CA: exit $rc $(cat "$WORK/w2.out")"
pass "wrong CA refused (pin mismatch: exit 2; TLS: exit 4)"

# --- ECC EK: enroll again with an ECC EK and unlock
# (passphrase on stdin this time; a wrong one is refused first)
set +e
echo 'not the passphrase' | cl --set ek_type=ecc enroll --server "https://127.0.0.1:$PORT" \
    --ca "$WORK/ca.pem" "$WORK/disk.img" >/dev/null 2>"$WORK/e.err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'no key slot' "$WORK/e.err" || fail "wrong passphrase: exit $rc $(cat "$WORK/e.err")"
{ cat "$WORK/pass"; echo; } | cl --set ek_type=ecc enroll --server "https://127.0.0.1:$PORT" \
    --ca "$WORK/ca.pem" "$WORK/disk.img" >/dev/null 2>"$WORK/e.err" || fail "ECC enroll: $(cat "$WORK/e.err")"
cl --set ek_type=ecc --verify-only "$WORK/disk.img" >"$WORK/ecc.out" 2>&1 || fail "ECC unlock: $(cat "$WORK/ecc.out")"
[ "$(cryptsetup token export --token-id 0 "$WORK/disk.img" | jq -r .node_id)" != "$NODE" ] ||
    fail "re-enroll did not replace the token"
pass "ECC EK: enroll + unlock"

# --- status: what the initramfs would do, without the server
cl --set ek_type=ecc status "$WORK/disk.img" >"$WORK/s.out" || fail "status: $(cat "$WORK/s.out")"
grep -q "uuid $UUID" "$WORK/s.out" && grep -q 'ca .*matches token' "$WORK/s.out" &&
    grep -q 'ak matches enrollment' "$WORK/s.out" || fail "status: $(cat "$WORK/s.out")"
pass "status: token, CA pin and AK match"

# --- the TPM gets a new EPS (cleared/replaced): identity failure, exit 3
tpm2_changeeps >/dev/null
cl status "$WORK/disk.img" | grep -q 'ak DIFFERS from enrollment' || fail "status after new EPS"
set +e
cl --verify-only "$WORK/disk.img" >"$WORK/i.out" 2>&1; rc=$?
set -e
[ $rc -eq 3 ] && grep -q 'TPM identity differs' "$WORK/i.out" || fail "new EPS: exit $rc $(cat "$WORK/i.out")"
pass "new EPS: identity failure (exit 3)"
finish
