#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `bootgatectl credential make` (software MakeCredential) is recovered by
# tpm2_activatecredential on swtpm, for an RSA and an ECC EK; a credential
# bound to another name is refused by the TPM.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
: "${BOOTGATECTL:?}" "${BOOTGATE_SRCDIR:?}"

start_swtpm
cd "$WORK"
flush() { tpm2_flushcontext -t >/dev/null; tpm2_flushcontext -s >/dev/null 2>&1 || true; }

activate() { # ek-ctx ak-ctx credfile outfile
    tpm2_startauthsession --policy-session -S session.ctx >/dev/null
    tpm2_policysecret -S session.ctx -c e >/dev/null
    local rc=0
    tpm2_activatecredential -c "$2" -C "$1" -i "$3" -o "$4" -P "session:session.ctx" \
        >/dev/null 2>act.err || rc=$?
    tpm2_flushcontext session.ctx >/dev/null 2>&1 || true
    flush
    return $rc
}

for ekalg in rsa ecc; do
    tpm2_createek -c ek_$ekalg.ctx -G $ekalg -u ek_$ekalg.pub >/dev/null; flush
    tpm2_createak -C ek_$ekalg.ctx -c ak_$ekalg.ctx -G ecc -g sha256 -s ecdsa \
        -u ak_$ekalg.pub -n ak_$ekalg.name >/dev/null; flush
    name=$(od -An -tx1 -v ak_$ekalg.name | tr -d ' \n')
    head -c 32 /dev/urandom >secret_$ekalg
    "$BOOTGATECTL" credential make --ek ek_$ekalg.pub --name "$name" \
        --secret secret_$ekalg --out cred_$ekalg
    if activate ek_$ekalg.ctx ak_$ekalg.ctx cred_$ekalg got_$ekalg &&
        cmp -s secret_$ekalg got_$ekalg; then
        pass "$ekalg EK: activatecredential recovered the 32-byte secret"
    else
        fail "$ekalg EK: secret not recovered"; cat act.err
    fi
    # --ak computes the same name
    "$BOOTGATECTL" credential make --ek ek_$ekalg.pub --ak ak_$ekalg.pub \
        --secret secret_$ekalg --out cred2_$ekalg
    if activate ek_$ekalg.ctx ak_$ekalg.ctx cred2_$ekalg got2_$ekalg &&
        cmp -s secret_$ekalg got2_$ekalg; then
        pass "$ekalg EK via --ak"
    else
        fail "$ekalg EK via --ak"; cat act.err
    fi
    # bound to a different name: the TPM must refuse (integrity check)
    wrong=000b$(openssl rand -hex 32)
    "$BOOTGATECTL" credential make --ek ek_$ekalg.pub --name "$wrong" \
        --secret secret_$ekalg --out cred_wrong_$ekalg
    if activate ek_$ekalg.ctx ak_$ekalg.ctx cred_wrong_$ekalg got_wrong_$ekalg; then
        fail "$ekalg EK: credential for another name was activated"
    else
        pass "$ekalg EK: credential for another name refused by the TPM"
    fi
done

# short secret, and refusals
printf 'hi' >short
"$BOOTGATECTL" credential make --ek ek_rsa.pub --ak ak_rsa.pub --secret short --out cred_short
if activate ek_rsa.ctx ak_rsa.ctx cred_short got_short && cmp -s short got_short; then
    pass "2-byte secret"
else
    fail "2-byte secret"
fi
head -c 33 /dev/urandom >long
rc=0; "$BOOTGATECTL" credential make --ek ek_rsa.pub --ak ak_rsa.pub --secret long --out x 2>err || rc=$?
if [ $rc = 0 ]; then fail "33-byte secret accepted"; else pass "33-byte secret refused (exit $rc)"; fi
rc=0; "$BOOTGATECTL" credential make --ek ek_rsa.pub --secret short --out x 2>/dev/null || rc=$?
check "usage error: exit 2" 2 "$rc"
finish
