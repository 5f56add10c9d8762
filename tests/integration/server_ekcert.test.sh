#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Enrollment with EK certificates (DESIGN §2 step 3): swtpm_setup
# --create-ek-cert signs the EKs with swtpm-localca; bootgated trusts that CA
# (ek_ca_bundle), so a node whose certificate chains is active right after
# credential activation, with no operator approval. An RSA and an ECC EK of
# the same TPM enroll as two nodes (MakeCredential for both key types); a
# certificate for another key, or from an untrusted CA, leaves the node pending.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
command -v swtpm_setup >/dev/null || { echo "missing swtpm_setup"; exit 1; }
EK_CERTS=1 start_swtpm
N=$WORK/node
LOCALCA=/var/lib/swtpm-localca
cat "$LOCALCA/swtpm-localca-rootca-cert.pem" "$LOCALCA/issuercert.pem" >"$WORK/ek-ca.pem"
EK_CA_BUNDLE=$WORK/ek-ca.pem start_bootgated
make_node_keys
b64() { base64 -w0 "$1"; }

tpm2_nvread 0x01c00002 -o "$N/ek-rsa.der" >/dev/null 2>&1
tpm2_nvread 0x01c0000a -o "$N/ek-ecc.der" >/dev/null 2>&1 || tpm2_nvread 0x01c00016 -o "$N/ek-ecc.der" >/dev/null
check "RSA EK certificate in NV 0x01c00002" 1 "$(openssl x509 -inform der -in "$N/ek-rsa.der" -noout 2>/dev/null && echo 1 || echo 0)"
check "the EK certificate chains to swtpm-localca" 0 \
    "$(openssl verify -partial_chain -CAfile "$WORK/ek-ca.pem" <(openssl x509 -inform der -in "$N/ek-rsa.der") >/dev/null 2>&1; echo $?)"
tpm2_createek -c "$N/ek-ecc.ctx" -G ecc -u "$N/ek-ecc.pub" >/dev/null
tpmflush

enroll() { # EK_PUB CERT_DER|'' OUT
    jq -n --arg ek "$(b64 "$1")" --arg ak "$(b64 "$N/ak.pub")" --arg cert "${2:+$(b64 "$2")}" \
        --arg key "$(head -c 32 /dev/urandom | base64 -w0)" \
        '{hostname:"n", group:"web", ek_public:$ek, ak_public:$ak,
          volumes:[{uuid:"vol-1", key:$key}]} + (if $cert == "" then {} else {ek_cert:$cert} end)' >"$3"
}
enroll_and_activate() { # EK_PUB EK_CTX CERT -> state
    enroll "$1" "$3" "$WORK/enroll.json"
    [ "$(api POST /v1/enroll "$WORK/enroll.json" enroller)" = 200 ] || { jq -c . "$WORK/reply" >&2; echo enroll-failed; return; }
    local id; id=$(jreply .node_id)
    activate "$(jreply .credential_blob)" "$(jreply .encrypted_secret)" "$N/secret.bin" "$2"
    jq -n --arg id "$id" --arg s "$(b64 "$N/secret.bin")" '{node_id:$id, secret:$s}' >"$WORK/act.json"
    api POST /v1/enroll/activate "$WORK/act.json" enroller >/dev/null
    jreply .state
}

# 1. a certificate for another key (swtpm's P-384 EK) does not vouch for the RSA EK
check "RSA EK with another key's certificate stays pending" pending \
    "$(enroll_and_activate "$N/ek.pub" "$N/ek.ctx" "$N/ek-ecc.der")"
reason() { "$BOOTGATECTL" audit list --json |
    jq -r '[.[] | select(.action == "node_enrolled")] | last | .details | fromjson | .ek_cert_reason'; }
check "the reason is recorded" "EK certificate is for another key" "$(reason)"

# 2. the right key, but certified by a CA that is not the manufacturer's
openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=fake TPM CA" -keyout "$WORK/fake.key" \
    -out "$WORK/fake.crt" -days 1 2>/dev/null
openssl x509 -inform der -in "$N/ek-rsa.der" -pubkey -noout >"$WORK/ek-rsa-pub.pem"
openssl x509 -new -subj "/CN=fake EK" -force_pubkey "$WORK/ek-rsa-pub.pem" -CA "$WORK/fake.crt" \
    -CAkey "$WORK/fake.key" -days 1 -outform der -out "$WORK/fake-ek.der" 2>/dev/null
check "an EK certificate from an untrusted CA stays pending (re-enrollment while pending)" pending \
    "$(enroll_and_activate "$N/ek.pub" "$N/ek.ctx" "$WORK/fake-ek.der")"
check "the chain failure is recorded" 1 "$(reason | grep -c 'does not chain')"

# 3. the manufacturer's certificate: active without an operator
check "RSA EK with its swtpm-localca certificate is active at once" active \
    "$(enroll_and_activate "$N/ek.pub" "$N/ek.ctx" "$N/ek-rsa.der")"
check "the certificate is recorded as verified" true \
    "$("$BOOTGATECTL" node show "$NODE_ID" --json | jq -r .ek_cert_verified)"
check "an active node cannot be re-enrolled" 409 "$(enroll "$N/ek.pub" "" "$WORK/e.json"; api POST /v1/enroll "$WORK/e.json" enroller)"

# 4. ECC P-256 EK (swtpm certifies only its P-384 EK): ECC MakeCredential + pending
ECC_FPR=$(tail -c +3 "$N/ek-ecc.pub" | sha256sum | cut -d' ' -f1)
check "ECC EK: activation works (ECC MakeCredential), no certificate: pending" pending \
    "$(enroll_and_activate "$N/ek-ecc.pub" "$N/ek-ecc.ctx" "")"
check "ECC node id" "${ECC_FPR:0:32}" "$(jreply .node_id)"

finish
