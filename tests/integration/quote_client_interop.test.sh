#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The DESIGN.md §1 flow between the two halves, on swtpm: the client's AK
# (bootgate-unlock debug keys/quote) verifies with `bootgatectl quote verify`,
# and `bootgatectl credential make` for the client's EK and AK name is
# recovered by the client's own ActivateCredential (debug activate), for the
# RSA and the ECC EK.
: "${BOOTGATECTL:?}" "${BOOTGATE_SRCDIR:?}"
source "$BOOTGATE_SRCDIR/tests/integration/client_common.sh"

start_swtpm a
sel=sha256:0,1,2,3,4,5,6,7,8,9,10,11
tpm2_pcrextend 7:sha256=$(printf 'bootgate-interop' | sha256sum | cut -d' ' -f1)

unlock debug keys --ek-public "$T/ek.pub" --ak-public "$T/ak.pub" >"$T/keys"
N=$(openssl rand -hex 32)
unlock debug quote --nonce "$N" --attest "$T/att" --signature "$T/sig" >/dev/null
tpm2_pcrread -F serialized -o "$T/pcrs" $sel >/dev/null
"$BOOTGATECTL" quote verify --ak "$T/ak.pub" --attest "$T/att" --sig "$T/sig" --nonce "$N" \
    --pcrs "$T/pcrs" --pcr-list sha256:0-11 >"$T/out" ||
    fail "client quote does not verify: $(cat "$T/out")"
ok "client quote verifies: $(head -1 "$T/out")"
rc=0
"$BOOTGATECTL" quote verify --ak "$T/ak.pub" --attest "$T/att" --sig "$T/sig" \
    --nonce "$(openssl rand -hex 32)" --pcrs "$T/pcrs" 2>"$T/err" >/dev/null || rc=$?
[ $rc = 1 ] && grep -q "(quote_nonce_mismatch)" "$T/err" || fail "other nonce: exit $rc $(cat "$T/err")"
ok "client quote with another nonce: quote_nonce_mismatch"

for ek in rsa ecc; do
    unlock --set ek_type=$ek debug keys --ek-public "$T/ek_$ek.pub" --ak-public "$T/ak_$ek.pub" \
        >"$T/keys_$ek"
    head -c 32 /dev/urandom >"$T/seed_$ek"
    "$BOOTGATECTL" credential make --ek "$T/ek_$ek.pub" --ak "$T/ak_$ek.pub" \
        --secret "$T/seed_$ek" --out "$T/cred_$ek" || fail "credential make ($ek)"
    got=$(unlock --set ek_type=$ek debug activate --credential-file "$T/cred_$ek" |
        awk '/^secret/{print $2}')
    want=$(od -An -tx1 -v "$T/seed_$ek" | tr -d ' \n')
    [ "$got" = "$want" ] || fail "$ek EK: client recovered '$got', want $want"
    ok "$ek EK: the client's ActivateCredential recovers the software credential"
done
