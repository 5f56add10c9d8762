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
#   node_enroll [GROUP [VOL [KEYFILE]]]
#                       enroll the node (group web, volume $VOL, a random
#                       $WORK/node/volume.key by default), activate its credential
#                       and approve its EK: active (dies on failure; server_unlock
#                       walks the same steps one check each)
#   node_boot           the node's synthetic boot in $WORK/node/eventlog.bin, extended
#                       into the swtpm: EV_S_CRTM_VERSION "bootgate test firmware
#                       1.0", an EV_EFI_BOOT_SERVICES_APPLICATION, EV_EVENT_TAG
#                       "Linux initrd", EV_SEPARATOR in PCRs 0-9 and 11
#   challenge [NODE_ID] -> a nonce from bootgated (base64)
#   quote NONCE_B64 [PCR-LIST]
#                       a quote of sha256:PCR-LIST (default 0-11) over the nonce and
#                       the PCR values: $WORK/node/{attest,sig}.bin, pcrs.json;
#                       signed by $AK_CTX when set (another key), else the AK
#   unlock_body NONCE_B64 [JQ]
#                       $WORK/unlock.json for that quote (VOL, EVENTLOG or the boot
#                       log, AK_PUB or the AK's public), edited by the jq filter
#   try_unlock [JQ]     challenge, quote, unlock: the HTTP status; answer in $WORK/reply
#   node_setup [GROUP]  a node ready to unlock: make_node_keys, node_boot,
#                       node_enroll (VOL defaults to a fixed UUID), and policy
#                       GROUP v1 captured from its boot log, active
#   forged_unlock_body OUT [JQ]
#                       an unlock body with a random (forged) nonce and placeholder
#                       evidence for node 0123456789abcdef0123456789abcdef: denied
#                       nonce_forged before identity (no swtpm needed)
#   breakglass_request CODE SCOPE USES TTL [ROLE]
#                       POST /v1/admin/breakglass: the HTTP status, the grant in $WORK/reply
#   breakglass_approve ID KEY [ROLE]
#                       the approver fetches the canonical grant, signs it with KEY
#                       (Ed25519 PEM) and approves: the HTTP status

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

node_boot() {
    local seps=() pcr
    for pcr in 0 1 2 3 4 5 6 7 8 9 11; do seps+=("$pcr:4:hex:00000000"); done
    eventlog_boot "$WORK/node/eventlog.bin" \
        0:0x00000008:hex:626f6f74676174652074657374206669726d7761726520312e3000 \
        4:0x80000003:hex:01010101010101010101010101010101010101010101010101010101010101010101010101010101 \
        9:0x00000006:hex:00000000000000004c696e757820696e69747264 "${seps[@]}"
}

challenge() {
    jq -n --arg id "${1:-$NODE_ID}" '{node_id:$id}' >"$WORK/ch.json"
    api POST /v1/challenge "$WORK/ch.json" >/dev/null
    jreply .nonce
}

quote() {
    local d=$WORK/node sel=${2:-0,1,2,3,4,5,6,7,8,9,10,11}
    tpm2_quote -c "${AK_CTX:-$d/ak.ctx}" -l "sha256:$sel" -q "$(echo "$1" | base64 -d | xxd -p -c 256)" \
        -m "$d/attest.bin" -s "$d/sig.bin" -g sha256 >/dev/null
    tpmflush
    tpm2_pcrread "sha256:0,1,2,3,4,5,6,7,8,9,10,11" |
        sed -n 's/^ *\([0-9]*\) *: 0x\([0-9A-Fa-f]*\)$/\1 \2/p' |
        jq -Rn '[inputs | split(" ") | {(.[0]): (.[1] | ascii_downcase)}] | add' >"$d/pcrs.json"
}

unlock_body() {
    local d=$WORK/node
    jq -n --arg id "$NODE_ID" --arg vol "$VOL" --arg nonce "$1" \
        --arg ak "$(base64 -w0 "${AK_PUB:-$d/ak.pub}")" --arg at "$(base64 -w0 "$d/attest.bin")" \
        --arg sig "$(base64 -w0 "$d/sig.bin")" \
        --rawfile log <(base64 -w0 "${EVENTLOG:-$d/eventlog.bin}") --slurpfile pcrs "$d/pcrs.json" \
        '{node_id:$id, volume_uuid:$vol, nonce:$nonce, ak_public:$ak, attest:$at,
          signature:$sig, pcr_bank:"sha256", pcrs:$pcrs[0], event_log:$log}' |
        jq "${2:-.}" >"$WORK/unlock.json"
}

try_unlock() {
    local nonce
    nonce=$(challenge)
    quote "$nonce"
    unlock_body "$nonce" "${1:-.}"
    api POST /v1/unlock "$WORK/unlock.json"
}

# node_enroll [GROUP [VOL [KEYFILE]]]: the node (make_node_keys) enrolled in GROUP
# (default web) with volume VOL (default $VOL) and the key in KEYFILE (default
# $WORK/node/volume.key, made when missing), activated with
# tpm2_activatecredential and approved by the admin: state active (dies otherwise)
node_enroll() {
    local d=$WORK/node key=${3:-$WORK/node/volume.key}
    [ -e "$key" ] || head -c 64 /dev/urandom >"$key"
    jq -n --arg ek "$(base64 -w0 "$d/ek.pub")" --arg ak "$(base64 -w0 "$d/ak.pub")" --arg vol "${2:-$VOL}" \
        --arg key "$(base64 -w0 "$key")" --arg g "${1:-web}" \
        '{hostname:"node1", group:$g, ek_public:$ek, ak_public:$ak, volumes:[{uuid:$vol, key:$key}]}' \
        >"$WORK/enroll.json"
    [ "$(api POST /v1/enroll "$WORK/enroll.json" enroller)" = 200 ] || die "enroll: $(cat "$WORK/reply")"
    activate "$(jreply .credential_blob)" "$(jreply .encrypted_secret)" "$d/enroll-secret.bin"
    jq -n --arg id "$NODE_ID" --arg s "$(base64 -w0 "$d/enroll-secret.bin")" '{node_id:$id, secret:$s}' >"$WORK/act.json"
    [ "$(api POST /v1/enroll/activate "$WORK/act.json" enroller)" = 200 ] || die "activation: $(cat "$WORK/reply")"
    jq -n --arg f "$EK_FPR" '{ek_fingerprint:$f}' >"$WORK/approve-node.json"
    [ "$(api POST "/v1/admin/nodes/$NODE_ID/approve" "$WORK/approve-node.json" admin)" = 200 ] ||
        die "approve: $(cat "$WORK/reply")"
}

node_setup() {
    VOL=${VOL:-6f1b2c3d-0000-4000-8000-00000000abcd}
    make_node_keys
    node_boot
    node_enroll "${1:-web}"
    bootgated_policy "${1:-web}" 1 "$WORK/node/eventlog.bin"
}

forged_unlock_body() {
    jq -n --arg n "$(head -c 32 /dev/urandom | base64)" '{node_id:"0123456789abcdef0123456789abcdef",
        volume_uuid:"11111111-2222-3333-4444-555555555555", nonce:$n, ak_public:"AAEC",
        attest:"AAEC", signature:"AAEC", pcr_bank:"sha256",
        pcrs:({} | . as $o | reduce range(0;12) as $i ($o; .["\($i)"] = ("00" * 32))),
        event_log:"AAEC"}' | jq "${2:-.}" >"$1"
}

breakglass_request() {
    jq -n --arg c "$1" --arg s "$2" --argjson u "$3" --argjson t "$4" \
        '{code:$c, reason:"kernel rollout INC-42", scope:$s, uses:$u, ttl:$t}' >"$WORK/bg.json"
    api POST /v1/admin/breakglass "$WORK/bg.json" "${5:-admin}"
}

breakglass_approve() {
    api GET "/v1/admin/breakglass/$1" '' auditor >/dev/null
    printf '%s' "$(jreply .to_sign)" >"$WORK/to_sign"
    openssl pkeyutl -sign -rawin -inkey "$2" -in "$WORK/to_sign" -out "$WORK/grant.sig"
    jq -n --arg s "$(base64 -w0 "$WORK/grant.sig")" '{signature:$s}' >"$WORK/approve.json"
    api POST "/v1/admin/breakglass/$1/approve" "$WORK/approve.json" "${3:-approver}"
}
