# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# tpm2-tools acting as the node, for tests of bootgated that use no code of
# bootgate-unlock (sourced by harness.sh; needs start_swtpm first).
#
#   tpmflush            swtpm has three transient object slots: tpm2-tools leave
#                       loaded contexts behind
#   make_node_keys      EK and AK in $WORK/node (DESIGN §1 step 2); EK_FPR, NODE_ID
#   activate ID_OBJECT_B64 SECRET_B64 OUT [EK_CTX]
#                       TPM2_ActivateCredential with the AK and the EK under
#                       PolicySecret(endorsement), as the node does (DESIGN §1 step 4)

tpmflush() { tpm2_flushcontext -t >/dev/null 2>&1 || true; tpm2_flushcontext -s >/dev/null 2>&1 || true; }

make_node_keys() {
    local d=$WORK/node
    mkdir -p "$d"
    tpm2_createek -c "$d/ek.ctx" -G rsa -u "$d/ek.pub" >/dev/null
    tpmflush
    tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 \
        -a 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth' \
        -c "$d/ak.ctx" >/dev/null
    tpmflush
    tpm2_readpublic -c "$d/ak.ctx" -o "$d/ak.pub" -n "$d/ak.name" >/dev/null
    tpmflush
    # EK fingerprint as the server computes it: SHA-256 of TPMT_PUBLIC
    EK_FPR=$(tail -c +3 "$d/ek.pub" | sha256sum | cut -d' ' -f1)
    NODE_ID=${EK_FPR:0:32}
}

activate() {
    { printf '\xba\xdc\xc0\xde\x00\x00\x00\x01'; echo "$1" | base64 -d; echo "$2" | base64 -d; } >"$WORK/node/cred.bin"
    tpm2_startauthsession --policy-session -S "$WORK/node/s.ctx" >/dev/null
    tpm2_policysecret -S "$WORK/node/s.ctx" -c e >/dev/null
    tpm2_activatecredential -c "$WORK/node/ak.ctx" -C "${4:-$WORK/node/ek.ctx}" -i "$WORK/node/cred.bin" -o "$3" \
        -P "session:$WORK/node/s.ctx" >/dev/null 2>"$WORK/node/activate.err" || true
    tpm2_flushcontext "$WORK/node/s.ctx" >/dev/null
    tpmflush
}
