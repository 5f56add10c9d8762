#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgate-unlock against the real bootgated: swtpm + bootgated + a LUKS2
# image file. enroll (pending → bootgatectl node approve) → signed policy
# captured from the node's event log → unlock --verify-only; PCR 9 moves →
# denied naming PCR 9; server 5 s late; wrong CA; new EPS; RSA and ECC EKs;
# an EK other than the enrolled one.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

client_server_up

# --- RSA EK: enroll, approve, unlock --verify-only
enroll web
cl --verify-only "$WORK/disk.img" >"$WORK/u.out" 2>&1 || fail "unlock: $(cat "$WORK/u.out")"
grep -q 'released key verified' "$WORK/u.out" || fail "$(cat "$WORK/u.out")"
pass "RSA EK: enroll → approve → unlock --verify-only (key opens the header)"

# --- the EK this run loads is not the enrolled one (here the same TPM's ECC EK,
# so AK and quote still pass and the server releases for the enrolled RSA EK):
# refused before any session is salted to the wrong key
set +e
cl --set ek_type=ecc --verify-only "$WORK/disk.img" >"$WORK/e.out" 2>&1; rc=$?
set -e
[ $rc -eq 3 ] && grep -q 'is not the enrolled EK' "$WORK/e.out" ||
    fail "ECC EK against the enrolled RSA EK: exit $rc $(cat "$WORK/e.out")"
pass "EK other than the enrolled one: exit 3 before ActivateCredential"

# --- no log line carries the volume key, on either side (hex or base64)
cl --verbose --verify-only "$WORK/disk.img" >"$WORK/v.out" 2>&1 || fail "unlock --verbose: $(cat "$WORK/v.out")"
grep -q 'debug:' "$WORK/v.out" || fail "--verbose printed no debug line"
grep -q 'BOOTGATE_ACTION=key_released' "$WORK/bootgated.log" || fail "bootgated logged no release"
for f in "$WORK/v.out" "$WORK/enroll.out" "$WORK/enroll.err" "$WORK/bootgated.log"; do
    if grep -qiF -e "$(xxd -p -c 256 "$WORK/vk")" -e "$(base64 -w0 <"$WORK/vk")" "$f"; then
        fail "the volume key appears in ${f##*/}"
    fi
done
pass "the volume key is in no log (unlock --verbose, enroll, bootgated with syslog)"

# --- PCR 9 moves (new initrd, logged): denied, the explanation names PCR 9
eventlog_append "$WORK/eventlog.bin" "$WORK/ev2.bin" 9:0xd:initrd-EVIL
cp "$WORK/ev2.bin" "$WORK/eventlog.bin"
set +e
cl --timeout 4 --verify-only "$WORK/disk.img" >"$WORK/d.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "PCR 9 moved: exit $rc, want 1: $(cat "$WORK/d.out")"
grep -q 'DENIED' "$WORK/d.out" && grep -Eq 'PCR 9|pcr 9|PCR9' "$WORK/d.out" ||
    fail "denial does not name PCR 9: $(cat "$WORK/d.out")"
grep -Eq 'BG-[A-Z0-9]{4}-[A-Z0-9]{4}' "$WORK/d.out" || fail "no break-glass code: $(cat "$WORK/d.out")"
pass "PCR 9 moved: denied, $(grep -m1 -i 'pcr 9' "$WORK/d.out" | sed 's/^bootgate-unlock: *//')"

# A policy for the new state (version 2) unlocks again
bootgated_policy web 2 "$WORK/eventlog.bin" --pcrs 0-9,11
cl --verify-only "$WORK/disk.img" >/dev/null 2>&1 || fail "policy v2 did not unlock"
pass "policy web v2 for the new PCR 9 unlocks"

# --- server 5 s late: unlocked inside the deadline
stop_bootgated
start_bootgated 5
start=$(date +%s%N)
cl --timeout 30 --verify-only "$WORK/disk.img" >"$WORK/l.out" 2>&1 || fail "late server: $(cat "$WORK/l.out")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -ge 4500 ] || fail "unlocked after $ms ms although the server started 5 s late"
pass "bootgated 5 s late: unlocked after $ms ms (deadline 30 s)"

# --- wrong CA: the pinned hash refuses another CA file (exit 2); a CA that
# did not sign the server certificate is refused by TLS (exit 4)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other \
    -keyout "$WORK/other.key" -out "$WORK/other.pem" 2>/dev/null
set +e
cl --set ca="$WORK/other.pem" --verify-only "$WORK/disk.img" >"$WORK/w.out" 2>&1; rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'not the CA pinned' "$WORK/w.out" || fail "other CA: exit $rc $(cat "$WORK/w.out")"
cryptsetup token export --token-id 0 "$WORK/disk.img" | jq '.ca_sha256 = ""' >"$WORK/tok.json"
cp "$WORK/disk.img" "$WORK/disk2.img"
cryptsetup token remove --token-id 0 "$WORK/disk2.img"
cryptsetup token import --json-file "$WORK/tok.json" "$WORK/disk2.img"
set +e
cl --timeout 5 --set ca="$WORK/other.pem" --verify-only "$WORK/disk2.img" >"$WORK/w2.out" 2>&1; rc=$?
set -e
[ $rc -eq 4 ] && grep -qi certificate "$WORK/w2.out" || fail "TLS with other CA: exit $rc $(cat "$WORK/w2.out")"
pass "wrong CA refused (pin: exit 2, TLS: exit 4)"

# --- ECC EK, two volumes: enroll both in one node (a new EK, so a new node),
# unlock both in one run
make_luks "$WORK/disk3.img" "$WORK/vk3" "$WORK/pass3"
cmp -s "$WORK/pass" "$WORK/pass3" || fail "test setup: passphrases differ"
DISKS=("$WORK/disk.img" "$WORK/disk3.img")
enroll web --set ek_type=ecc
unset DISKS
[ "$(cryptsetup token export --token-id 0 "$WORK/disk3.img" | jq -r .node_id)" = "$NODE" ] ||
    fail "second volume has no token of node $NODE"
cl --set ek_type=ecc --verify-only "$WORK/disk.img" "$WORK/disk3.img" >"$WORK/e.out" 2>&1 ||
    fail "ECC, two volumes: $(cat "$WORK/e.out")"
[ "$(grep -c 'released key verified' "$WORK/e.out")" = 2 ] || fail "two volumes: $(cat "$WORK/e.out")"
pass "ECC EK: two volumes enrolled in one node, both unlocked in one run"

# --- swtpm state replaced (new EPS): the client names the identity failure,
# and the server refuses the new AK even without the client's check
tpm2_changeeps >/dev/null
set +e
cl --verify-only "$WORK/disk.img" >"$WORK/i.out" 2>&1; rc=$?
set -e
[ $rc -eq 3 ] && grep -q 'TPM identity differs' "$WORK/i.out" || fail "new EPS: exit $rc $(cat "$WORK/i.out")"
cryptsetup token export --token-id 0 "$WORK/disk.img" | jq 'del(.ak_name)' >"$WORK/tok2.json"
cryptsetup token remove --token-id 0 "$WORK/disk.img"
cryptsetup token import --json-file "$WORK/tok2.json" "$WORK/disk.img"
set +e
cl --timeout 4 --verify-only "$WORK/disk.img" >"$WORK/i2.out" 2>&1; rc=$?
set -e
[ $rc -eq 1 ] || fail "new EPS without client check: exit $rc, want 1 (server denial): $(cat "$WORK/i2.out")"
pass "new EPS: client exit 3 (identity); server denies the new AK: $(grep -m1 DENIED "$WORK/i2.out" | sed 's/^bootgate-unlock: *//')"
finish
