#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The DESIGN.md §1 flow between the two halves, on swtpm: the client's AK
# (bootgate-unlock_test keys/quote) verifies with `bootgatectl quote verify`,
# and `bootgatectl credential make` for the client's EK and AK name is
# recovered by the client's own ActivateCredential (bootgate-unlock-test activate), for the
# RSA and the ECC EK.
: "${BOOTGATECTL:?}" "${BOOTGATE_SRCDIR:?}"
# shellcheck source=../lib/harness.sh
. "$BOOTGATE_SRCDIR/tests/lib/harness.sh"

start_swtpm a
sel=sha256:0,1,2,3,4,5,6,7,8,9,10,11
tpm2_pcrextend 7:sha256=$(printf 'bootgate-interop' | sha256sum | cut -d' ' -f1)

unlock_test keys --ek-public "$WORK/ek.pub" --ak-public "$WORK/ak.pub" >"$WORK/keys"
N=$(openssl rand -hex 32)
unlock_test quote --nonce "$N" --attest "$WORK/att" --signature "$WORK/sig" >/dev/null
tpm2_pcrread -F serialized -o "$WORK/pcrs" $sel >/dev/null
"$BOOTGATECTL" quote verify --ak "$WORK/ak.pub" --attest "$WORK/att" --sig "$WORK/sig" --nonce "$N" \
    --pcrs "$WORK/pcrs" --pcr-list sha256:0-11 >"$WORK/out" ||
    fail "client quote does not verify: $(cat "$WORK/out")"
pass "client quote verifies: $(head -1 "$WORK/out")"
rc=0
"$BOOTGATECTL" quote verify --ak "$WORK/ak.pub" --attest "$WORK/att" --sig "$WORK/sig" \
    --nonce "$(openssl rand -hex 32)" --pcrs "$WORK/pcrs" 2>"$WORK/err" >/dev/null || rc=$?
[ $rc = 1 ] && grep -q "(quote_nonce_mismatch)" "$WORK/err" || fail "other nonce: exit $rc $(cat "$WORK/err")"
pass "client quote with another nonce: quote_nonce_mismatch"

for ek in rsa ecc; do
    unlock_test --set ek_type=$ek keys --ek-public "$WORK/ek_$ek.pub" --ak-public "$WORK/ak_$ek.pub" \
        >"$WORK/keys_$ek"
    head -c 32 /dev/urandom >"$WORK/seed_$ek"
    "$BOOTGATECTL" credential make --ek "$WORK/ek_$ek.pub" --ak "$WORK/ak_$ek.pub" \
        --secret "$WORK/seed_$ek" --out "$WORK/cred_$ek" || fail "credential make ($ek)"
    got=$(unlock_test --set ek_type=$ek activate --credential-file "$WORK/cred_$ek" |
        awk '/^secret/{print $2}')
    want=$(od -An -tx1 -v "$WORK/seed_$ek" | tr -d ' \n')
    [ "$got" = "$want" ] || fail "$ek EK: client recovered '$got', want $want"
    pass "$ek EK: the client's ActivateCredential recovers the software credential"
done
finish
