#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgate-unlock against the real bootgated: swtpm + bootgated + a LUKS2
# image file. enroll (pending → bootgatectl node approve) → signed policy
# captured from the node's event log → unlock --verify-only; PCR 9 moves →
# denied naming PCR 9; server 5 s late; wrong CA; new EPS; RSA and ECC EKs;
# an EK other than the enrolled one.
source "$(dirname "$0")/client_common.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

source "$HERE/client_server.sh"
client_server_up

# --- RSA EK: enroll, approve, unlock --verify-only
enroll web
cl --verify-only "$T/disk.img" >"$T/u.out" 2>&1 || fail "unlock: $(cat "$T/u.out")"
grep -q 'released key verified' "$T/u.out" || fail "$(cat "$T/u.out")"
ok "RSA EK: enroll → approve → unlock --verify-only (key opens the header)"

# --- the EK this run loads is not the enrolled one (here the same TPM's ECC EK,
# so AK and quote still pass and the server releases for the enrolled RSA EK):
# refused before any session is salted to the wrong key
set +e
cl --set ek_type=ecc --verify-only "$T/disk.img" >"$T/e.out" 2>&1; rc=$?
set -e
[ $rc -eq 3 ] && grep -q 'is not the enrolled EK' "$T/e.out" ||
    fail "ECC EK against the enrolled RSA EK: exit $rc $(cat "$T/e.out")"
ok "EK other than the enrolled one: exit 3 before ActivateCredential"

# --- no log line carries the volume key, on either side (hex or base64)
cl --verbose --verify-only "$T/disk.img" >"$T/v.out" 2>&1 || fail "unlock --verbose: $(cat "$T/v.out")"
grep -q 'debug:' "$T/v.out" || fail "--verbose printed no debug line"
grep -q 'BOOTGATE_ACTION=key_released' "$T/bootgated.log" || fail "bootgated logged no release"
for f in "$T/v.out" "$T/enroll.out" "$T/enroll.err" "$T/bootgated.log"; do
    if grep -qiF -e "$(xxd -p -c 256 "$T/vk")" -e "$(base64 -w0 <"$T/vk")" "$f"; then
        fail "the volume key appears in ${f##*/}"
    fi
done
ok "the volume key is in no log (unlock --verbose, enroll, bootgated with syslog)"

# --- PCR 9 moves (new initrd, logged): denied, the explanation names PCR 9
python3 "$HERE/client_mkeventlog.py" "$T/ev2.bin" "${EVENTS[@]}" 9:0xd:initrd-EVIL >"$T/ext2"
tail -1 "$T/ext2" | { read -r pcr d; tpm2_pcrextend "$pcr:sha256=$d"; }
cp "$T/ev2.bin" "$T/eventlog.bin"
set +e
cl --timeout 4 --verify-only "$T/disk.img" >"$T/d.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "PCR 9 moved: exit $rc, want 1: $(cat "$T/d.out")"
grep -q 'DENIED' "$T/d.out" && grep -Eq 'PCR 9|pcr 9|PCR9' "$T/d.out" ||
    fail "denial does not name PCR 9: $(cat "$T/d.out")"
grep -Eq 'BG-[A-Z0-9]{4}-[A-Z0-9]{4}' "$T/d.out" || fail "no break-glass code: $(cat "$T/d.out")"
ok "PCR 9 moved: denied, $(grep -m1 -i 'pcr 9' "$T/d.out" | sed 's/^bootgate-unlock: *//')"

# A policy for the new state (version 2) unlocks again
policy web 2
cl --verify-only "$T/disk.img" >/dev/null 2>&1 || fail "policy v2 did not unlock"
ok "policy web v2 for the new PCR 9 unlocks"

# --- server 5 s late: unlocked inside the deadline
stop_server
start_server 5
start=$(date +%s%N)
cl --timeout 30 --verify-only "$T/disk.img" >"$T/l.out" 2>&1 || fail "late server: $(cat "$T/l.out")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 4500 ] || fail "unlocked after $ms ms although the server started 5 s late"
ok "bootgated 5 s late: unlocked after $ms ms (deadline 30 s)"

# --- wrong CA: the pinned hash refuses another CA file (exit 2); a CA that
# did not sign the server certificate is refused by TLS (exit 4)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other \
    -keyout "$T/other.key" -out "$T/other.pem" 2>/dev/null
set +e
cl --set ca="$T/other.pem" --verify-only "$T/disk.img" >"$T/w.out" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'not the CA pinned' "$T/w.out" || fail "other CA: exit $rc $(cat "$T/w.out")"
cryptsetup token export --token-id 0 "$T/disk.img" | jq '.ca_sha256 = ""' >"$T/tok.json"
cp "$T/disk.img" "$T/disk2.img"
cryptsetup token remove --token-id 0 "$T/disk2.img"
cryptsetup token import --json-file "$T/tok.json" "$T/disk2.img"
set +e
cl --timeout 5 --set ca="$T/other.pem" --verify-only "$T/disk2.img" >"$T/w2.out" 2>&1; rc=$?
set -e
[ $rc -eq 4 ] && grep -qi certificate "$T/w2.out" || fail "TLS with other CA: exit $rc $(cat "$T/w2.out")"
ok "wrong CA refused (pin: exit 2, TLS: exit 4)"

# --- ECC EK, two volumes: enroll both in one node (a new EK, so a new node),
# unlock both in one run
make_luks "$T/disk3.img" "$T/vk3" "$T/pass3"
cmp -s "$T/pass" "$T/pass3" || fail "test setup: passphrases differ"
DISKS=("$T/disk.img" "$T/disk3.img")
enroll web --set ek_type=ecc
unset DISKS
[ "$(cryptsetup token export --token-id 0 "$T/disk3.img" | jq -r .node_id)" = "$NODE" ] ||
    fail "second volume has no token of node $NODE"
cl --set ek_type=ecc --verify-only "$T/disk.img" "$T/disk3.img" >"$T/e.out" 2>&1 ||
    fail "ECC, two volumes: $(cat "$T/e.out")"
[ "$(grep -c 'released key verified' "$T/e.out")" = 2 ] || fail "two volumes: $(cat "$T/e.out")"
ok "ECC EK: two volumes enrolled in one node, both unlocked in one run"

# --- swtpm state replaced (new EPS): the client names the identity failure,
# and the server refuses the new AK even without the client's check
tpm2_changeeps >/dev/null
set +e
cl --verify-only "$T/disk.img" >"$T/i.out" 2>&1; rc=$?
set -e
[ $rc -eq 3 ] && grep -q 'TPM identity differs' "$T/i.out" || fail "new EPS: exit $rc $(cat "$T/i.out")"
cryptsetup token export --token-id 0 "$T/disk.img" | jq 'del(.ak_name)' >"$T/tok2.json"
cryptsetup token remove --token-id 0 "$T/disk.img"
cryptsetup token import --json-file "$T/tok2.json" "$T/disk.img"
set +e
cl --timeout 4 --verify-only "$T/disk.img" >"$T/i2.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "new EPS without client check: exit $rc, want 1 (server denial): $(cat "$T/i2.out")"
ok "new EPS: client exit 3 (identity); server denies the new AK: $(grep -m1 DENIED "$T/i2.out" | sed 's/^bootgate-unlock: *//')"
echo PASS
