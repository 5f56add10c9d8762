#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# End to end against a client bootgate did not write: swtpm + tpm2-tools act
# as the node. Enroll -> activate -> approve -> policy -> challenge -> quote ->
# unlock releases the right key (recovered with tpm2_activatecredential and
# the DESIGN §1 unwrap), then the bad inputs of issue 3, one assertion each.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_createek tpm2_quote tpm2_activatecredential tpm2_pcrextend python3; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done
start_bootgated
start_swtpm
make_node_keys
N=$WORK/node
VOL=6f1b2c3d-0000-4000-8000-00000000abcd
head -c 64 /dev/urandom >"$N/volume.key"
b64() { base64 -w0 "$1"; }

# --- the node's boot: tests/lib/node.sh's synthetic crypto-agile event log
# (TCG PC Client PFP 10.2.1), extended into the swtpm; the node's requests
# are node.sh's challenge, quote, unlock_body and try_unlock
node_boot

# --- enrollment -------------------------------------------------------------
jq -n --arg ek "$(b64 "$N/ek.pub")" --arg ak "$(b64 "$N/ak.pub")" --arg vol "$VOL" \
    --arg key "$(b64 "$N/volume.key")" \
    '{hostname:"node1", group:"web", ek_public:$ek, ak_public:$ak, volumes:[{uuid:$vol, key:$key}]}' \
    >"$WORK/enroll.json"
check "enroll without a client certificate is 401" 401 "$(api POST /v1/enroll "$WORK/enroll.json")"
jq --arg ak "$(b64 "$N/ek.pub")" '.ak_public = $ak' "$WORK/enroll.json" >"$WORK/enroll-ekasak.json"
check "enroll with the EK as AK is refused" 400 "$(api POST /v1/enroll "$WORK/enroll-ekasak.json" enroller)"
check "enroll" 200 "$(api POST /v1/enroll "$WORK/enroll.json" enroller)"
check "node id is derived from the EK" "$NODE_ID" "$(jreply .node_id)"
check "EK fingerprint" "$EK_FPR" "$(jreply .ek_fingerprint)"
check "state after enroll" activating "$(jreply .state)"
ENR_BLOB=$(jreply .credential_blob)
ENR_SECRET=$(jreply .encrypted_secret)

check "unlock before activation is denied" node_not_activated "$(try_unlock >/dev/null; jreply .verdict)"

jq -n --arg id "$NODE_ID" --arg s "$(head -c 32 /dev/urandom | base64 -w0)" '{node_id:$id, secret:$s}' >"$WORK/act.json"
check "activation with a wrong secret is refused" 403 "$(api POST /v1/enroll/activate "$WORK/act.json" enroller)"
activate "$ENR_BLOB" "$ENR_SECRET" "$N/enroll-secret.bin"
check "tpm2_activatecredential recovers the enrollment secret" 32 "$(stat -c %s "$N/enroll-secret.bin" 2>/dev/null || echo 0)"
jq -n --arg id "$NODE_ID" --arg s "$(b64 "$N/enroll-secret.bin")" '{node_id:$id, secret:$s}' >"$WORK/act.json"
check "activation" 200 "$(api POST /v1/enroll/activate "$WORK/act.json" enroller)"
check "no EK certificate: pending" pending "$(jreply .state)"
check "activation is single use" 409 "$(api POST /v1/enroll/activate "$WORK/act.json" enroller)"

check "pending node is denied" node_pending "$(try_unlock >/dev/null; jreply .verdict)"
check "approve with a wrong fingerprint fails" 1 \
    "$("$BOOTGATECTL" node approve "$NODE_ID" --ek-fingerprint "$(printf '%064d' 0)" >/dev/null 2>&1; echo $?)"
check "approve with the EK fingerprint" 0 \
    "$("$BOOTGATECTL" node approve "$NODE_ID" --ek-fingerprint "$EK_FPR" >/dev/null 2>&1; echo $?)"
check "node is active" active "$("$BOOTGATECTL" node show "$NODE_ID" --json | jq -r .state)"
check "re-enrolling an active node is a conflict" 409 "$(api POST /v1/enroll "$WORK/enroll.json" enroller)"

# --- policy -------------------------------------------------------------------
check "no policy yet: denied" policy_missing "$(try_unlock >/dev/null; jreply .verdict)"
check "a policy denial carries a break-glass code" 1 "$(jreply .breakglass_code | grep -cE '^BG-[A-Z2-9]{4}-[A-Z2-9]{4}$')"
"$BOOTGATECTL" policy capture --eventlog "$N/eventlog.bin" --name web --version 1 --out "$WORK/policy.json" >/dev/null
"$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" --out "$WORK/policy.sig" "$WORK/policy.json" >/dev/null
jq -n --slurpfile p "$WORK/policy.json" --arg s "$(tr -d '\n' <"$WORK/policy.sig")" \
    '{policy:$p[0], signature:$s}' >"$WORK/upload.json"
jq '.policy.version = 2' "$WORK/upload.json" >"$WORK/upload-unsigned.json"
check "a policy whose signature does not match is rejected" 400 "$(api POST /v1/admin/policies "$WORK/upload-unsigned.json" admin)"
check "auditor cannot upload policies" 403 "$(api POST /v1/admin/policies "$WORK/upload.json" auditor)"
check "policy upload" 200 "$(api POST /v1/admin/policies "$WORK/upload.json" admin)"
check "the same version again is a conflict" 409 "$(api POST /v1/admin/policies "$WORK/upload.json" admin)"
echo '{}' >"$WORK/empty.json"
check "policy activate" 200 "$(api POST /v1/admin/policies/web/1/activate "$WORK/empty.json" admin)"
check "policy list" true "$(api GET /v1/admin/policies '' auditor >/dev/null; jreply '.policies[0].active')"

# --- the release ------------------------------------------------------------
check "unlock releases" 200 "$(try_unlock)"
cp "$WORK/unlock.json" "$WORK/unlock-ok.json"
cp "$WORK/reply" "$WORK/release.json"
# Server-Timing: the phases of checks a..i in order, then total; names and
# durations only (ms, 3 decimals), each phase within the total
server_timing() { tr -d '\r' <"$WORK/reply.headers" | sed -n 's/^[Ss]erver-[Tt]iming: //p'; }
ST_DUR='[a-z]+;dur=[0-9]+\.[0-9]{3}'
check "Server-Timing on a release is well formed" 1 "$(server_timing | grep -cE "^$ST_DUR(, $ST_DUR)*\$")"
check "Server-Timing phases of a release" "parse nonce node ak quote replay policy release audit log total" \
    "$(server_timing | tr ',' '\n' | sed 's/;.*//; s/ //g' | tr '\n' ' ' | sed 's/ $//')"
check "Server-Timing phases add up to at most the total" yes "$(server_timing | tr ',' '\n' |
    awk -F'dur=' '{ v[NR] = $2 } END { for (i = 1; i < NR; i++) s += v[i];
        print (NR > 1 && s <= v[NR] + 0.001 * NR && v[NR] > 0) ? "yes" : "no" }')"
check "release names the policy" web "$(jreply .policy.name)"
activate "$(jreply .credential_blob)" "$(jreply .encrypted_secret)" "$N/seed.bin"
check "tpm2_activatecredential recovers the seed" 32 "$(stat -c %s "$N/seed.bin" 2>/dev/null || echo 0)"
python3 - "$N/seed.bin" "$(jq -r .nonce "$WORK/unlock-ok.json")" "$NODE_ID" "$VOL" \
    "$(jreply .wrapped_key)" "$N/released.key" <<'PY'
import base64, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
seed = open(sys.argv[1], "rb").read()
nonce = base64.b64decode(sys.argv[2]); wrapped = base64.b64decode(sys.argv[5])
k = HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"bootgate-volume-key-v1").derive(seed)
key = AESGCM(k).decrypt(wrapped[:12], wrapped[12:], f"{sys.argv[3]}|{sys.argv[4]}".encode())
open(sys.argv[6], "wb").write(key)
PY
check "the unwrapped key is the enrolled volume key" "$(sha256sum <"$N/volume.key")" "$(sha256sum <"$N/released.key" 2>/dev/null)"
check "replaying the successful request is denied" nonce_reused \
    "$(api POST /v1/unlock "$WORK/unlock-ok.json" >/dev/null; jreply .verdict)"
check "Server-Timing on a denial: the phases reached" "parse;total" \
    "$(server_timing | tr ',' '\n' | sed 's/;dur=.*//; s/ //g' | paste -sd';')"

# The verified policy is cached between unlocks; a change of the trust store
# must still take effect at once, in both directions.
mv "$SRV/policy-signers.d" "$SRV/policy-signers.off"
mkdir "$SRV/policy-signers.d"
check "signer key removed: the cached policy is not trusted any more" 403 "$(try_unlock)"
check "signer key removed: verdict" policy_invalid "$(jreply .verdict)"
rmdir "$SRV/policy-signers.d"
mv "$SRV/policy-signers.off" "$SRV/policy-signers.d"
check "signer key restored: unlock releases again" 200 "$(try_unlock)"

# --- policies that cannot be judged from a quote (outside probe, issue 9) -----
# signed_upload JQ-FILTER VERSION -> $WORK/up.json (the edited policy, signed)
signed_upload() {
    jq --argjson v "$2" "$1 | .version = \$v" "$WORK/policy.json" >"$WORK/p-edit.json"
    "$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" --out "$WORK/p-edit.sig" "$WORK/p-edit.json" >/dev/null
    jq -n --slurpfile p "$WORK/p-edit.json" --arg s "$(tr -d '\n' <"$WORK/p-edit.sig")" \
        '{policy:$p[0], signature:$s}' >"$WORK/up.json"
}
# store_direct VERSION: the signed policy in the database as if uploaded by an
# older server (or written behind its back), made the active version
store_direct() {
    sqlite3 "$SRV/bootgate.db" "INSERT INTO policies (name, version, json, signature, signer, active, created)
        VALUES ('web', $1, readfile('$WORK/p-edit.json'), '$(tr -d '\n' <"$WORK/p-edit.sig")', 'test', 0, 0);
        UPDATE policies SET active = (version = $1) WHERE name = 'web';"
}
# PCR 14 is not in the quote (sha256:0-11): a policy gating it would trust
# whatever value the node claims for it
GATE14='.gate_pcrs += [14] | .baselines[0].pcrs["14"] = ("ab" * 32)'
signed_upload "$GATE14" 90
check "a policy gating a PCR outside the quote is refused at upload" 400 "$(api POST /v1/admin/policies "$WORK/up.json" admin)"
check "the refusal names the PCR" 1 "$(jreply .reason | grep -c 'gates PCR 14, which the quote does not cover')"
store_direct 90
check "a stored policy gating PCR 14 is refused at evaluation" policy_invalid "$(try_unlock >/dev/null; jreply .verdict)"
check "the denial says why" 1 "$(jq -r '.explanation[0]' "$WORK/reply" | grep -c 'PCR 14')"
check "a claimed PCR 14 that matches the policy releases nothing" pcr_not_quoted \
    "$(try_unlock '.pcrs["14"] = ("ab" * 32)' >/dev/null; jreply .verdict)"
check "PCR values outside the quote are rejected before any policy" 1 \
    "$(jq -r '.explanation[0]' "$WORK/reply" | grep -c 'PCR 14 was sent but the quote does not cover it')"
check "activation of a policy gating PCR 14 is refused" 400 "$(api POST /v1/admin/policies/web/90/activate "$WORK/empty.json" admin)"
# an expired policy can be neither uploaded nor activated
signed_upload '.not_after = "2020-01-01T00:00:00Z"' 91
check "a policy whose not_after is past is refused at upload" 400 "$(api POST /v1/admin/policies "$WORK/up.json" admin)"
check "the refusal says it expired" 1 "$(jreply .reason | grep -c 'expired at 2020-01-01T00:00:00Z')"
store_direct 91
check "a stored expired policy cannot be activated" 400 "$(api POST /v1/admin/policies/web/91/activate "$WORK/empty.json" admin)"
check "and the refusal says why" 1 "$(jreply .reason | grep -c 'not_after is in the past')"
check "back to version 1" 200 "$(api POST /v1/admin/policies/web/1/activate "$WORK/empty.json" admin)"

# --- bad evidence, one assertion each -----------------------------------------
check "unknown volume" volume_unknown "$(try_unlock '.volume_uuid = "00000000-0000-0000-0000-000000000000"' >/dev/null; jreply .verdict)"
# another AK (same template, other unique field): a valid quote, but not the pinned AK
tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 -u <(echo otherak) \
    -a 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth' -c "$N/ak2.ctx" >/dev/null 2>&1 ||
    tpm2_createprimary -C o -G ecc256:ecdsa-sha256:null -g sha256 \
        -a 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth' -c "$N/ak2.ctx" >/dev/null
tpmflush
tpm2_readpublic -c "$N/ak2.ctx" -o "$N/ak2.pub" >/dev/null
tpmflush
check "wrong AK name" ak_name_mismatch "$(try_unlock ".ak_public = \"$(b64 "$N/ak2.pub")\"" >/dev/null; jreply .verdict)"
check "EK sent as AK" ak_refused "$(try_unlock ".ak_public = \"$(b64 "$N/ek.pub")\"" >/dev/null; jreply .verdict)"
# signature of another quote (other nonce)
NONCE=$(challenge); quote "$NONCE"; cp "$N/sig.bin" "$N/oldsig.bin"
NONCE=$(challenge); quote "$NONCE"; unlock_body "$NONCE" ".signature = \"$(b64 "$N/oldsig.bin")\""
check "signature of another quote" bad_signature "$(api POST /v1/unlock "$WORK/unlock.json" >/dev/null; jreply .verdict)"
# a quote made for nonce A sent with nonce B (both valid nonces)
NA=$(challenge); quote "$NA"; NB=$(challenge); unlock_body "$NB"
check "quote over another nonce" quote_nonce_mismatch "$(api POST /v1/unlock "$WORK/unlock.json" >/dev/null; jreply .verdict)"
NONCE=$(challenge); quote "$NONCE" 0,1,2,3,4,5,6,7; unlock_body "$NONCE"
check "wrong PCR selection" pcr_selection_mismatch "$(api POST /v1/unlock "$WORK/unlock.json" >/dev/null; jreply .verdict)"
check "pcrDigest mismatch (PCR value edited)" pcr_digest_mismatch \
    "$(try_unlock '.pcrs["4"] = ("ab" * 32)' >/dev/null; jreply .verdict)"
check "PCR missing from the evidence" pcr_values_missing "$(try_unlock 'del(.pcrs["9"])' >/dev/null; jreply .verdict)"
python3 -c "
import sys; b = bytearray(open('$N/eventlog.bin','rb').read()); b[-40] ^= 1; open('$N/eventlog-bad.bin','wb').write(b)"
check "event log that does not replay" eventlog_mismatch "$(EVENTLOG=$N/eventlog-bad.bin try_unlock >/dev/null; jreply .verdict)"
check "the explanation names the PCR" 1 "$(jq -r '.explanation[0]' "$WORK/reply" | grep -c '^PCR 11')"
head -c 100 /dev/urandom >"$N/garbage.bin"
check "event log that does not parse" eventlog_invalid "$(EVENTLOG=$N/garbage.bin try_unlock >/dev/null; jreply .verdict)"
check "evidence failures carry no break-glass code" "" "$(jreply .breakglass_code)"
# an event log over the 8 MiB cap inside a body under the body limit: refused
# while decoding, before any check or write
python3 - "$WORK/unlock.json" "$WORK/unlock-biglog.json" <<'PY'
import base64, json, sys
body = json.load(open(sys.argv[1]))
body["event_log"] = base64.b64encode(b"\0" * (9 << 20)).decode()
json.dump(body, open(sys.argv[2], "w"))
PY
check "oversized event log is 400" 400 "$(api POST /v1/unlock "$WORK/unlock-biglog.json")"
check "the error names the event log" 1 "$(grep -c 'event_log' "$WORK/reply")"

# the boot state changes: policy denial with an explanation
eventlog_append "$N/eventlog.bin" "$N/eventlog-new.bin" "4:0x80000003:new kernel"
# the extra event's digest is sha256(data) and was extended as such
check "boot state outside the policy is denied" policy_denied "$(EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"
cp "$WORK/reply" "$WORK/denial.json"
check "the denial explains PCR 4" yes "$(jq -r '.explanation[]' "$WORK/reply" | grep -q 'PCR 4' && echo yes || echo no)"
check "a policy denial carries a break-glass code" 1 "$(jreply .breakglass_code | grep -cE '^BG-')"

# --- break-glass (DESIGN §4) ------------------------------------------------
CODE=$(jq -r .breakglass_code "$WORK/denial.json")
bg_request() { # CODE SCOPE USES TTL
    jq -n --arg c "$1" --arg s "$2" --argjson u "$3" --argjson t "$4" \
        '{code:$c, reason:"kernel rollout INC-42", scope:$s, uses:$u, ttl:$t}' >"$WORK/bg.json"
    api POST /v1/admin/breakglass "$WORK/bg.json" "${5:-admin}"
}
bg_approve() { # ID KEY ROLE -> status
    # the approver fetches the canonical grant and signs it offline
    api GET "/v1/admin/breakglass/$1" '' auditor >/dev/null
    printf '%s' "$(jreply .to_sign)" >"$WORK/to_sign"
    openssl pkeyutl -sign -rawin -inkey "$2" -in "$WORK/to_sign" -out "$WORK/grant.sig"
    jq -n --arg s "$(base64 -w0 "$WORK/grant.sig")" '{signature:$s}' >"$WORK/approve.json"
    api POST "/v1/admin/breakglass/$1/approve" "$WORK/approve.json" "${3:-approver}"
}
check "break-glass for an unknown code is 404" 404 "$(bg_request BG-AAAA-AAAA observed 1 600)"
check "an auditor cannot request break-glass" 403 "$(bg_request "$CODE" observed 1 600 auditor)"
check "break-glass request" 200 "$(bg_request "$CODE" observed 2 999999)"
GRANT=$(jreply .id)
check "the grant is for the denied node" "$NODE_ID" "$(jreply .node_id)"
check "the TTL is capped by the server (1 h)" 3600 "$(jq '.not_after - .not_before' "$WORK/reply")"
check "a requested grant waives nothing" policy_denied "$(EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"
check "an admin cannot approve" 403 "$(bg_approve "$GRANT" "$SRV/approver1.key" admin)"
check "a key outside approvers.d cannot approve" 403 "$(bg_approve "$GRANT" "$SRV/policy-signer.key")"
check "first approval" 200 "$(bg_approve "$GRANT" "$SRV/approver1.key")"
check "one approval is not enough" requested "$(jreply .state)"
check "the same approver twice is refused" 409 "$(bg_approve "$GRANT" "$SRV/approver1.key")"
check "second approval" 200 "$(bg_approve "$GRANT" "$SRV/approver2.key")"
check "two approvers: active" active "$(jreply .state)"
check "the grant waives the policy for the observed state" 200 "$(EVENTLOG=$N/eventlog-new.bin try_unlock)"
check "the release says break-glass" breakglass "$(jreply .policy.mode)"
activate "$(jreply .credential_blob)" "$(jreply .encrypted_secret)" "$N/seed2.bin"
check "break-glass never waives identity: the seed still needs the TPM" 32 "$(stat -c %s "$N/seed2.bin" 2>/dev/null || echo 0)"
# the boot state moves again: scope observed does not cover it
eventlog_append "$N/eventlog-new.bin" "$N/eventlog-newer.bin" "4:0x80000003:newer kernel"
check "scope observed does not cover another boot state" policy_denied \
    "$(EVENTLOG=$N/eventlog-newer.bin try_unlock >/dev/null; jreply .verdict)"
CODE2=$(jreply .breakglass_code)
# the same with bootgatectl breakglass
out=$("$BOOTGATECTL" breakglass request --code "$CODE2" --reason "rollout" --ttl 10m --uses 1 \
    --scope any --json --cert "$SRV/approver.crt" --key "$SRV/approver.key")
GRANT2=$(echo "$out" | jq -r .id)
check "bootgatectl breakglass request (scope any, --ttl 10m)" 600 "$(echo "$out" | jq '.not_after - .not_before')"
check "bootgatectl breakglass request --ttl 10x: usage error" 2 \
    "$("$BOOTGATECTL" breakglass request --code "$CODE2" --reason r --ttl 10x >/dev/null 2>&1; echo $?)"
for k in 1 2; do
    "$BOOTGATECTL" breakglass approve "$GRANT2" --approver-key "$SRV/approver$k.key" \
        --cert "$SRV/approver.crt" --key "$SRV/approver.key" >/dev/null
done
check "bootgatectl breakglass approve x2: active" active \
    "$("$BOOTGATECTL" breakglass show "$GRANT2" --json | jq -r .state)"
check "scope any releases" 200 "$(EVENTLOG=$N/eventlog-newer.bin try_unlock)"
check "uses are counted: the next attempt is denied" policy_denied \
    "$(EVENTLOG=$N/eventlog-newer.bin try_unlock >/dev/null; jreply .verdict)"
check "break-glass never waives evidence" eventlog_mismatch \
    "$(EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"
check "grant revoke" 200 "$(api POST "/v1/admin/breakglass/$GRANT/revoke" "$WORK/empty.json" admin)"
check "a revoked grant waives nothing" policy_denied \
    "$(EVENTLOG=$N/eventlog-newer.bin try_unlock >/dev/null; jreply .verdict)"
check "grant list" 2 "$(api GET /v1/admin/breakglass '' auditor >/dev/null; jreply '.grants | length')"

# revocation
check "revoke" 0 "$("$BOOTGATECTL" node revoke "$NODE_ID" >/dev/null 2>&1; echo $?)"
check "revoked node is denied" node_revoked "$(EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"
check "a revoked node cannot re-enroll" 409 "$(api POST /v1/enroll "$WORK/enroll.json" enroller)"
check "node delete (revoked only)" 0 "$("$BOOTGATECTL" node delete "$NODE_ID" >/dev/null 2>&1; echo $?)"
check "a deleted node is unknown" node_unknown "$(EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"
check "the same TPM can enroll again after delete" 200 "$(api POST /v1/enroll "$WORK/enroll.json" enroller)"

# --- audit ----------------------------------------------------------------------
"$BOOTGATECTL" audit list --json >"$WORK/audit.json"
check "four key_released records (policy twice, two break-glass)" 4 "$(jq '[.[] | select(.action == "key_released")] | length' "$WORK/audit.json")"
# the journal gets one short line per unlock record; the explanation and
# evaluation stay in the audit record
check "release log lines are summaries" 4 "$(grep 'BOOTGATE_ACTION=key_released' "$WORK/bootgated.log" | grep -c "volume=$VOL policy=web@1 mode=")"
check "no unlock log line carries an explanation" 0 \
    "$(grep -E 'BOOTGATE_ACTION=(key_released|unlock_denied)' "$WORK/bootgated.log" | grep -c '"explanation"\|"evaluation"' || true)"
check "the first release record is the audit_seq of the response" "$(jq -r .audit_seq "$WORK/release.json")" \
    "$(jq '[.[] | select(.action == "key_released")][0].seq' "$WORK/audit.json")"
for a in node_enrolled node_activated node_approved policy_uploaded policy_activated node_revoked \
    node_deleted unlock_denied breakglass_requested breakglass_approved breakglass_activated \
    breakglass_used breakglass_revoked; do
    check "audit has $a" yes "$(jq -r --arg a "$a" 'if any(.[]; .action == $a) then "yes" else "no" end' "$WORK/audit.json")"
done
check "audit verify passes after the run" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
SEQ=$(jq '[.[] | select(.action == "key_released")][0].seq' "$WORK/audit.json")
sqlite3 "$SRV/bootgate.db" "DROP TRIGGER audit_no_update; UPDATE audit SET node='someone-else' WHERE seq=$SEQ"
check "audit verify fails after the release record is edited" 1 "$("$BOOTGATECTL" audit verify --db "$SRV/bootgate.db" >/dev/null 2>&1; echo $?)"
check "and names it" "$SEQ" "$("$BOOTGATECTL" audit verify --db "$SRV/bootgate.db" --json | jq .first_bad_seq)"
check "the database holds no plaintext volume key" 0 \
    "$(grep -c -F "$(xxd -p -c 64 "$N/volume.key")" <(sqlite3 "$SRV/bootgate.db" "SELECT hex(wrapped) FROM volumes" | tr 'A-F' 'a-f') || true)"

finish
