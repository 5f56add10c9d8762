#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgate-unlock enroll + unlock end to end against client_refserver.py, an
# independent reference of the server side (tpm2_checkquote, tpm2_makecredential,
# python-cryptography HKDF + AES-GCM), with swtpm and a LUKS2 image file.
# client_unlock.test.sh runs the same flow against the real bootgated.
source "$(dirname "$0")/client_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
python3 -c 'import cryptography' 2>/dev/null || { echo "python3-cryptography missing"; exit 1; }

make_pki
mkdir -p "$T/etc" "$T/state"
start_swtpm tpm
make_luks "$T/disk.img" "$T/vk" "$T/pass"
UUID=$(cryptsetup luksUUID "$T/disk.img")

start_ref() { # [PORT] [DELAY]
    rm -f "$T/port"
    ( sleep "${2:-0}"; exec python3 "$HERE/client_refserver.py" "$T/srv.pem" "$T/srv.key" \
        "$T/state" "$T/port" "${1:-0}" ) >>"$T/ref.log" 2>&1 &
    REF_PID=$!
    PIDS+=("$REF_PID")
    if [ "${2:-0}" = 0 ]; then
        for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
        [ -s "$T/port" ] || fail "reference server did not start: $(cat "$T/ref.log")"
        PORT=$(cat "$T/port")
    fi
}
stop_ref() { kill "$REF_PID" 2>/dev/null || true; wait "$REF_PID" 2>/dev/null || true; }
# The installed-OS configuration: CA where enroll puts it, fast polling for tests.
cl() { unlock --set ca="$T/etc/ca.pem" --set poll_interval=1 --set backoff_initial_ms=200 \
    --set backoff_max_ms=1000 --set event_log= --set ima_log= "$@"; }
n_unlock() { grep -c '^/v1/unlock ' "$T/state/requests.log" || true; }

start_ref
# --- enroll
cl enroll --server "https://127.0.0.1:$PORT" --ca "$T/ca.pem" --group web \
    --key-file "$T/pass" "$T/disk.img" >"$T/enroll.out" 2>"$T/enroll.err" ||
    fail "enroll: $(cat "$T/enroll.err")"
grep -q '^state pending' "$T/enroll.out" || fail "no EK cert must give pending: $(cat "$T/enroll.out")"
NODE=$(awk '/^node_id/{print $2}' "$T/enroll.out")
cmp -s "$T/ca.pem" "$T/etc/ca.pem" || fail "enroll did not install the CA"
[ "$(jq -r .key "$T/state/node.json" | base64 -d | xxd -p -c 256)" = "$(xxd -p -c 256 "$T/vk")" ] ||
    fail "enroll sent a volume key that differs from the LUKS volume key"
[ "$(jq -r .uuid "$T/state/node.json")" = "$UUID" ] || fail "enroll sent another uuid"
tok=$(cryptsetup token export --token-id 0 "$T/disk.img")
[ "$(jq -r .node_id <<<"$tok")" = "$NODE" ] || fail "token node_id: $tok"
[ "$(jq -r .ca_sha256 <<<"$tok")" = "$(sha256sum "$T/ca.pem" | cut -d' ' -f1)" ] || fail "ca pin"
[ "$(jq -r .server <<<"$tok")" = "https://127.0.0.1:$PORT" ] || fail "token server"
grep -q pending "$T/enroll.err" || fail "pending not explained"
ok "enroll: node $NODE, volume key + token + CA pin"

# --- unlock --verify-only: the released key opens the header; never printed
cl --verbose --verify-only "$T/disk.img" >"$T/u.out" 2>&1 || fail "unlock: $(cat "$T/u.out")"
grep -q 'released key verified' "$T/u.out" || fail "not verified: $(cat "$T/u.out")"
for enc in "$(xxd -p -c 256 "$T/vk")" "$(base64 -w0 "$T/vk")" "$(xxd -p -c 256 "$T/vk" | cut -c1-16)"; do
    ! grep -qi -- "$enc" "$T/u.out" || fail "volume key printed"
done
ok "unlock --verify-only succeeds, key not printed"

# --- PCR 9 moves (another kernel/initrd): denied with the reason and the
# break-glass code, the client keeps polling until its deadline
tpm2_pcrextend 9:sha256=$(printf 'evil kernel' | sha256sum | cut -d' ' -f1)
before=$(n_unlock)
start=$(date +%s)
set +e
cl --timeout 5 --verify-only "$T/disk.img" >"$T/d.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "PCR 9 changed: exit $rc, want 1: $(cat "$T/d.out")"
grep -q 'DENIED' "$T/d.out" && grep -q 'PCR 9' "$T/d.out" && grep -q 'BG-TEST-0001' "$T/d.out" ||
    fail "denial not explained: $(cat "$T/d.out")"
[ $(( $(n_unlock) - before )) -ge 2 ] || fail "client did not keep polling after the denial"
[ $(( $(date +%s) - start )) -le 7 ] || fail "denied run overran its 5 s deadline"
ok "PCR 9 extended: denied (exit 1) with explanation + code, polled $(( $(n_unlock) - before )) times"

# --- a grant arrives while the client polls (break-glass / new policy)
tpm2_pcrread sha256:9 | grep -o '0x[0-9A-Fa-f]*' | cut -c3- | tr A-F a-f >"$T/state/expect_pcr9"
echo 2 >"$T/state/deny"
cl --timeout 20 --verify-only "$T/disk.img" >"$T/g.out" 2>&1 || fail "grant while polling: $(cat "$T/g.out")"
[ "$(grep -Ec "DENIED|still denied" "$T/g.out")" = 2 ] && [ "$(grep -c DENIED "$T/g.out")" = 1 ] || fail "expected 2 denials then grant: $(cat "$T/g.out")"
ok "denied twice, then granted while polling"

# --- a grant the client must not accept: tampered wrapped key (GCM tag),
# credential for another AK (TPM refuses), key that does not open the volume,
# a release for an EK other than the one this TPM showed (no session is salted
# to it, no ActivateCredential)
for mode in wrapped:'does not unwrap':1 other_ak:'refused the credential':3 \
    other_key:'does not open':1 other_ek:'is not the enrolled EK':3; do
    IFS=: read -r m msg want <<<"$mode"
    echo "$m" >"$T/state/tamper"
    set +e
    cl --timeout 10 --verify-only "$T/disk.img" >"$T/t.out" 2>&1; rc=$?
    set -e
    [ $rc -eq "$want" ] && grep -q "$msg" "$T/t.out" || fail "tamper $m: exit $rc $(cat "$T/t.out")"
done
rm "$T/state/tamper"
ok "tampered key, credential for another AK, wrong key, release for another EK: all refused"

# --- a server answering garbage: not JSON or JSON without the fields (exit 4,
# "bad ... answer"), or an error object (exit 1, its error and reason shown);
# each at once, not at the deadline
for g in challenge:text:4:'bad challenge answer' challenge:fields:4:'bad challenge answer' \
    challenge:500:1:'HTTP 500: internal: disk on fire' unlock:text:4:'bad unlock answer' \
    unlock:fields:4:'bad unlock answer' unlock:500:1:'HTTP 500: internal: disk on fire'; do
    IFS=: read -r ep kind want msg <<<"$g"
    echo "$ep:$kind" >"$T/state/garbage"
    start=$(date +%s%N)
    set +e
    cl --timeout 20 --verify-only "$T/disk.img" >"$T/x.out" 2>&1; rc=$?
    set -e
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ $rc -eq "$want" ] && grep -qF "$msg" "$T/x.out" && [ $ms -lt 10000 ] ||
        fail "garbage $ep:$kind: exit $rc after $ms ms: $(cat "$T/x.out")"
    ! grep -q 'released key verified' "$T/x.out" || fail "garbage $ep:$kind unlocked"
done
rm "$T/state/garbage"
ok "garbage answers (text, missing fields, HTTP 500) to challenge and unlock: refused at once"

# --- server 3 s late: unlock succeeds inside the deadline
stop_ref
start_ref "$PORT" 3
start=$(date +%s%N)
cl --timeout 20 --verify-only "$T/disk.img" >"$T/l.out" 2>&1 || fail "late server: $(cat "$T/l.out")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 2500 ] || fail "late server answered after $ms ms?"
ok "server 3 s late: unlocked after $ms ms"

# --- unreachable: exit 4 at the deadline
set +e
start=$(date +%s%N)
cl --timeout 3 --set server="https://127.0.0.1:$(free_port)" --verify-only "$T/disk.img" \
    >"$T/x.out" 2>&1; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
set -e
[ $rc -eq 4 ] && [ $ms -le 4500 ] || fail "unreachable: exit $rc after $ms ms"
ok "unreachable server: exit 4 after $ms ms (deadline 3 s)"

# --- wrong CA: a CA file that is not the pinned one is refused before any
# request; a server whose certificate is from another CA is refused by TLS
set +e
cl --set ca="$T/otherca.pem" --verify-only "$T/disk.img" >"$T/w.out" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'not the CA pinned' "$T/w.out" || fail "other CA file: exit $rc $(cat "$T/w.out")"
python3 "$HERE/client_refserver.py" "$T/othersrv.pem" "$T/othersrv.key" "$T/state" "$T/port3" \
    >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/port3" ] && break; sleep 0.05; done
set +e
cl --timeout 10 --set server="https://127.0.0.1:$(cat "$T/port3")" --verify-only "$T/disk.img" \
    >"$T/w2.out" 2>&1; rc=$?
set -e
[ $rc -eq 4 ] && grep -qi 'certificate' "$T/w2.out" || fail "server of other CA: exit $rc $(cat "$T/w2.out")"
ok "wrong CA refused (pin mismatch: exit 2; TLS: exit 4)"

# --- ECC EK: enroll again with an ECC EK and unlock
# (passphrase on stdin this time; a wrong one is refused first)
set +e
echo 'not the passphrase' | cl --set ek_type=ecc enroll --server "https://127.0.0.1:$PORT" \
    --ca "$T/ca.pem" "$T/disk.img" >/dev/null 2>"$T/e.err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'no key slot' "$T/e.err" || fail "wrong passphrase: exit $rc $(cat "$T/e.err")"
{ cat "$T/pass"; echo; } | cl --set ek_type=ecc enroll --server "https://127.0.0.1:$PORT" \
    --ca "$T/ca.pem" "$T/disk.img" >/dev/null 2>"$T/e.err" || fail "ECC enroll: $(cat "$T/e.err")"
cl --set ek_type=ecc --verify-only "$T/disk.img" >"$T/ecc.out" 2>&1 || fail "ECC unlock: $(cat "$T/ecc.out")"
[ "$(cryptsetup token export --token-id 0 "$T/disk.img" | jq -r .node_id)" != "$NODE" ] ||
    fail "re-enroll did not replace the token"
ok "ECC EK: enroll + unlock"

# --- status: what the initramfs would do, without the server
cl --set ek_type=ecc status "$T/disk.img" >"$T/s.out" || fail "status: $(cat "$T/s.out")"
grep -q "uuid $UUID" "$T/s.out" && grep -q 'ca .*matches token' "$T/s.out" &&
    grep -q 'ak matches enrollment' "$T/s.out" || fail "status: $(cat "$T/s.out")"
ok "status: token, CA pin and AK match"

# --- the TPM gets a new EPS (cleared/replaced): identity failure, exit 3
tpm2_changeeps >/dev/null
cl status "$T/disk.img" | grep -q 'ak DIFFERS from enrollment' || fail "status after new EPS"
set +e
cl --verify-only "$T/disk.img" >"$T/i.out" 2>&1; rc=$?
set -e
[ $rc -eq 3 ] && grep -q 'TPM identity differs' "$T/i.out" || fail "new EPS: exit $rc $(cat "$T/i.out")"
ok "new EPS: identity failure (exit 3)"
echo PASS
