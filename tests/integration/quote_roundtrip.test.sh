#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Quotes from a real swtpm (tpm2-tools) verify with `bootgatectl quote verify`;
# every tampered input fails with its own verdict, and AKs without the
# DESIGN.md §1 attributes are refused.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
: "${BOOTGATECTL:?}" "${BOOTGATE_SRCDIR:?}"

start_swtpm
cd "$WORK"

# check_verdict NAME EXPECTED-EXIT EXPECTED-VERDICT-TEXT -- ARGS: `bootgatectl quote verify ARGS`
check_verdict() {
    local name=$1 want_rc=$2 want_text=$3 rc=0
    shift 4
    "$BOOTGATECTL" quote verify "$@" >out.txt 2>err.txt || rc=$?
    if [ "$rc" != "$want_rc" ] || ! grep -qF -- "$want_text" out.txt err.txt; then
        fail "$name: exit $rc (want $want_rc), want '$want_text'"; cat out.txt err.txt
    else
        pass "$name: $(head -1 err.txt out.txt | grep -v '^==>' | head -1)"
    fi
}
flip() { # file offset (negative: from the end) -> file.bad
    python3 - "$1" "$2" <<'PY'
import sys
p, k = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read())
b[k] ^= 0x01
open(p + '.bad', 'wb').write(bytes(b))
PY
}

# swtpm holds 3 transient objects: flush after every tool that loads one.
flush() { tpm2_flushcontext -t >/dev/null; tpm2_flushcontext -s >/dev/null 2>&1 || true; }
tpm2_createek -c ek.ctx -G rsa -u ek.pub >/dev/null; flush
# Extend a PCR so the values are not all zero.
tpm2_pcrextend 0:sha256=$(printf 'bootgate' | sha256sum | cut -d' ' -f1)

for alg in ecc rsa; do
    tpm2_createak -C ek.ctx -c ak_$alg.ctx -G $alg -g sha256 -s $( [ $alg = ecc ] && echo ecdsa || echo rsassa ) \
        -u ak_$alg.pub -n ak_$alg.name -f tss >/dev/null; flush
    nonce=$(openssl rand -hex 32)
    tpm2_quote -c ak_$alg.ctx -l sha256:0,1,2,3,4,5,6,7,8,9,10,11 -q "$nonce" \
        -m q_$alg.msg -s q_$alg.sig -o q_$alg.pcrs -g sha256 >/dev/null; flush
    args=(--ak ak_$alg.pub --attest q_$alg.msg --sig q_$alg.sig --nonce "$nonce" --pcrs q_$alg.pcrs)
    check_verdict "$alg valid" 0 "valid: quote verifies" -- "${args[@]}"
    check_verdict "$alg required selection" 0 "sha256:0,1,2,3,4,5,6,7,8,9,10,11" -- "${args[@]}" --pcr-list sha256:0-11
    check_verdict "$alg other selection" 1 "pcr_selection_mismatch" -- "${args[@]}" --pcr-list sha256:0-7
    akname=$(od -An -tx1 -v ak_$alg.name | tr -d ' \n')
    check_verdict "$alg enrolled name" 0 "valid:" -- "${args[@]}" --ak-name "$akname"
    check_verdict "$alg other name" 1 "(ak_name_mismatch)" -- "${args[@]}" --ak-name "000b$(openssl rand -hex 32)"
    # bare digests (tpm2_pcrread -o default "values" format) with an explicit selection
    tpm2_pcrread -o v_$alg.pcrs sha256:0,1,2,3,4,5,6,7,8,9,10,11 >/dev/null
    check_verdict "$alg values file" 0 "valid:" -- --ak ak_$alg.pub --attest q_$alg.msg --sig q_$alg.sig --nonce "$nonce" --pcrs v_$alg.pcrs --pcr-list sha256:0-11
    check_verdict "$alg values file, other selection" 1 "(pcrs-malformed)" -- --ak ak_$alg.pub --attest q_$alg.msg --sig q_$alg.sig --nonce "$nonce" --pcrs v_$alg.pcrs --pcr-list sha256:0-10
    check_verdict "$alg json" 0 '"verdict":"ok"' -- "${args[@]}" --json
    # tampering: one byte of each input
    flip q_$alg.msg -20
    check_verdict "$alg attest byte" 1 "(bad_signature)" -- "${args[@]/q_$alg.msg/q_$alg.msg.bad}"
    flip q_$alg.sig -5
    check_verdict "$alg signature byte" 1 "(bad_signature)" -- "${args[@]/q_$alg.sig/q_$alg.sig.bad}"
    other=$(openssl rand -hex 32)
    check_verdict "$alg nonce" 1 "(quote_nonce_mismatch)" -- "${args[@]/$nonce/$other}"
    # serialized PCR file: 132-byte selection, u32 count, then TPML_DIGEST
    # (u32 count, TPM2B_DIGEST{u16, 64}...): byte 150 is inside PCR 0's value
    flip q_$alg.pcrs 150
    check_verdict "$alg pcr value" 1 "(pcr_digest_mismatch)" -- "${args[@]/q_$alg.pcrs/q_$alg.pcrs.bad}"
    # a wrong signature and a wrong nonce: the signature is checked first
    check_verdict "$alg order" 1 "(bad_signature)" -- --ak ak_$alg.pub --attest q_$alg.msg --sig q_$alg.sig.bad --nonce "$other" --pcrs q_$alg.pcrs
    check_verdict "$alg zero nonce" 1 "(quote_nonce_missing)" -- "${args[@]/$nonce/0000000000000000}"
done

# two banks, more than 8 PCRs in the first: values span several TPML_DIGESTs
nonce=$(openssl rand -hex 32)
tpm2_quote -c ak_ecc.ctx -l sha1:0,1,2,3,4,5,6,7,8,9+sha256:0,4,7 -q "$nonce" -m m.msg -s m.sig \
    -o m.pcrs -g sha256 >/dev/null; flush
check_verdict "two banks" 0 "selection sha1:0,1,2,3,4,5,6,7,8,9+sha256:0,4,7" -- --ak ak_ecc.pub --attest m.msg --sig m.sig --nonce "$nonce" --pcrs m.pcrs
check_verdict "two banks, other order" 1 "(pcr_selection_mismatch)" -- --ak ak_ecc.pub --attest m.msg --sig m.sig --nonce "$nonce" --pcrs m.pcrs --pcr-list sha256:0,4,7+sha1:0-9

# RSA-PSS AK and quote (tpm2_quote --scheme rsapss)
tpm2_createak -C ek.ctx -c ak_pss.ctx -G rsa -g sha256 -s rsapss -u ak_pss.pub >/dev/null; flush
nonce=$(openssl rand -hex 32)
tpm2_quote -c ak_pss.ctx -l sha256:0,1,2,3,4,5,6,7,8,9,10,11 -q "$nonce" -m s.msg -s s.sig -o s.pcrs \
    -g sha256 --scheme rsapss >/dev/null; flush
check_verdict "rsapss valid" 0 "valid:" -- --ak ak_pss.pub --attest s.msg --sig s.sig --nonce "$nonce" --pcrs s.pcrs
check_verdict "rsapss sig from rsassa AK" 1 "(signature_scheme)" -- --ak ak_pss.pub --attest q_rsa.msg --sig q_rsa.sig --nonce "$nonce" --pcrs s.pcrs

# PEM AK: refused unless --allow-pem-ak, which says the attributes are unchecked.
tpm2_readpublic -c ak_ecc.ctx -f pem -o ak_ecc.pem >/dev/null; flush
nonce=$(openssl rand -hex 16)
tpm2_quote -c ak_ecc.ctx -l sha256:0,1,2,3,4,5,6,7,8,9,10,11 -q "$nonce" -m p.msg -s p.sig -o p.pcrs -g sha256 >/dev/null; flush
check_verdict "pem refused" 1 "(ak_refused)" -- --ak ak_ecc.pem --attest p.msg --sig p.sig --nonce "$nonce" --pcrs p.pcrs
check_verdict "pem allowed" 0 "NOT checked" -- --ak ak_ecc.pem --attest p.msg --sig p.sig --nonce "$nonce" --pcrs p.pcrs --allow-pem-ak
# The AK from a readpublic -o dump (TPM2B_PUBLIC) is the same key
tpm2_readpublic -c ak_rsa.ctx -o ak_rsa.readpub >/dev/null; flush
nonce=$(openssl rand -hex 20)
tpm2_quote -c ak_rsa.ctx -l sha256:0,1,2,3,4,5,6,7,8,9,10,11 -q "$nonce" -m r.msg -s r.sig -o r.pcrs -g sha256 >/dev/null; flush
check_verdict "readpublic -o" 0 "valid:" -- --ak ak_rsa.readpub --attest r.msg --sig r.sig --nonce "$nonce" --pcrs r.pcrs

# Keys that must not be AKs: created under the EK... the EK is a decrypt key,
# so make a primary storage parent for them.
tpm2_createprimary -C o -G ecc -c prim.ctx >/dev/null; flush
child_ak() { # name attributes expected-exit expected-reason
    local name=$1 attrs=$2 want_rc=$3 want=$4
    tpm2_create -C prim.ctx -G ecc256:ecdsa-sha256:null -a "$attrs" -u $name.pub -r $name.priv >/dev/null; flush
    tpm2_load -C prim.ctx -u $name.pub -r $name.priv -c $name.ctx >/dev/null; flush
    nonce=$(openssl rand -hex 32)
    tpm2_quote -c $name.ctx -l sha256:0,1,2,3,4,5,6,7,8,9,10,11 -q "$nonce" -m $name.msg -s $name.sig -o $name.pcrs -g sha256 >/dev/null; flush
    check_verdict "$name" "$want_rc" "$want" -- --ak $name.pub --attest $name.msg --sig $name.sig --nonce "$nonce" --pcrs $name.pcrs
}
# (the TPM requires fixedParent == parent.fixedTPM, so both go)
child_ak no_fixedtpm "sign|restricted|sensitivedataorigin|userwithauth" 1 "AK refused (not-fixed-tpm)"
child_ak adminpolicy "sign|restricted|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|adminwithpolicy" 1 "AK refused (admin-with-policy)"
# and the positive control: the same template with exactly the AK attributes verifies
child_ak good_child "sign|restricted|fixedtpm|fixedparent|sensitivedataorigin|userwithauth" 0 "valid:"
child_ak unrestricted "sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth" 1 "AK refused (not-restricted)"

# usage errors
rc=0; "$BOOTGATECTL" quote verify --ak x >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "usage: exit $rc"
rc=0; "$BOOTGATECTL" quote verify --help >/dev/null || rc=$?
[ $rc = 0 ] || fail "--help: exit $rc"

finish
