#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A change that cannot be audited does not happen (DESIGN §5, §6). With a real
# bootgated and a swtpm node, a trigger on the live database makes every
# audit INSERT fail; then enrollment, activation, node approve/revoke/delete,
# policy upload/activate, break-glass request/approve/revoke and key releases
# (by policy and by break-glass) each answer 503 "unavailable" and leave the
# store exactly as it was (nodes, volumes, policies, grants, approvals, audit
# rows). Without the trigger the same requests succeed.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_createek tpm2_quote tpm2_pcrextend sqlite3 python3; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done
start_bootgated
start_swtpm
make_node_keys
N=$WORK/node
DB=$SRV/bootgate.db
VOL=6f1b2c3d-0000-4000-8000-00000000abcd
head -c 64 /dev/urandom >"$N/volume.key"
b64() { base64 -w0 "$1"; }
echo '{}' >"$WORK/empty.json"

sql() { sqlite3 -cmd '.timeout 10000' "$DB" "$@"; }
fault_on() { sql "CREATE TRIGGER audit_fault BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit fault'); END;"; }
fault_off() { sql "DROP TRIGGER audit_fault;"; }
# everything a change could touch (used_nonces aside: a nonce is spent by any attempt)
snap() {
    sql "SELECT 'node', id, state, grp, updated FROM nodes ORDER BY id;
         SELECT 'volume', node_id, uuid, hex(wrapped) FROM volumes ORDER BY node_id, uuid;
         SELECT 'policy', name, version, active FROM policies ORDER BY name, version;
         SELECT 'grant', id, state, uses, uses_left FROM grants ORDER BY id;
         SELECT 'approval', grant_id, approver FROM grant_approvals ORDER BY grant_id, approver;
         SELECT 'audit', count(*), max(seq), (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) FROM audit;"
}
# under_fault NAME COMMAND...: COMMAND prints the HTTP status of one request
under_fault() {
    local name=$1 before status
    shift
    before=$(snap)
    fault_on
    status=$("$@")
    check "$name under an audit fault: 503" 503 "$status"
    check "$name under an audit fault: error unavailable" unavailable "$(jreply .error)"
    fault_off
    check "$name under an audit fault: nothing changed" "$before" "$(snap)"
}

# --- the node's boot (tests/lib/node.sh) -------------------------------------
node_boot

enroll() { api POST /v1/enroll "$WORK/enroll.json" enroller; }
activate_node() { api POST /v1/enroll/activate "$WORK/act.json" enroller; }
approve_node() {
    jq -n --arg f "$EK_FPR" '{ek_fingerprint:$f}' >"$WORK/approve-node.json"
    api POST "/v1/admin/nodes/$NODE_ID/approve" "$WORK/approve-node.json" admin
}
upload_policy() { api POST /v1/admin/policies "$WORK/upload.json" admin; }
activate_policy() { api POST /v1/admin/policies/web/1/activate "$WORK/empty.json" admin; }
bg_request() {
    jq -n --arg c "$CODE" '{code:$c, reason:"kernel rollout INC-42", scope:"observed", uses:2, ttl:600}' >"$WORK/bg.json"
    api POST /v1/admin/breakglass "$WORK/bg.json" admin
}
bg_approve() { # KEY
    api GET "/v1/admin/breakglass/$GRANT" '' auditor >/dev/null
    printf '%s' "$(jreply .to_sign)" >"$WORK/to_sign"
    openssl pkeyutl -sign -rawin -inkey "$1" -in "$WORK/to_sign" -out "$WORK/grant.sig"
    jq -n --arg s "$(base64 -w0 "$WORK/grant.sig")" '{signature:$s}' >"$WORK/approve.json"
    api POST "/v1/admin/breakglass/$GRANT/approve" "$WORK/approve.json" approver
}
bg_revoke() { api POST "/v1/admin/breakglass/$GRANT/revoke" "$WORK/empty.json" admin; }
node_revoke() { api POST "/v1/admin/nodes/$NODE_ID/revoke" "$WORK/empty.json" admin; }
node_delete() { api DELETE "/v1/admin/nodes/$NODE_ID" '' admin; }
audit_actions() { sql "SELECT count(*) FROM audit WHERE action = '$1'"; }

# the fault is real: a plain INSERT into the table fails while it is there
fault_on
check "the trigger makes audit INSERTs fail" 1 \
    "$(sql "INSERT INTO audit VALUES (999999,'t','a','b','','{}','','')" >/dev/null 2>&1 && echo 0 || echo 1)"
fault_off

# --- enrollment and activation ------------------------------------------------
jq -n --arg ek "$(b64 "$N/ek.pub")" --arg ak "$(b64 "$N/ak.pub")" --arg vol "$VOL" \
    --arg key "$(b64 "$N/volume.key")" \
    '{hostname:"node1", group:"web", ek_public:$ek, ak_public:$ak, volumes:[{uuid:$vol, key:$key}]}' \
    >"$WORK/enroll.json"
under_fault "enrollment" enroll
check "no node row after the failed enrollment" 0 "$(sql "SELECT count(*) FROM nodes")"
check "no volume row after the failed enrollment" 0 "$(sql "SELECT count(*) FROM volumes")"
check "enrollment after recovery" 200 "$(enroll)"
activate "$(jreply .credential_blob)" "$(jreply .encrypted_secret)" "$N/enroll-secret.bin"
jq -n --arg id "$NODE_ID" --arg s "$(b64 "$N/enroll-secret.bin")" '{node_id:$id, secret:$s}' >"$WORK/act.json"
under_fault "activation" activate_node
check "still activating" 0 "$(sql "SELECT state FROM nodes WHERE id = '$NODE_ID'")"
check "activation after recovery" 200 "$(activate_node)"
check "  pending (no EK certificate)" pending "$(jreply .state)"
under_fault "node approve" approve_node
check "node approve after recovery" 200 "$(approve_node)"

# --- policy ---------------------------------------------------------------------
"$BOOTGATECTL" policy capture --eventlog "$N/eventlog.bin" --name web --version 1 --out "$WORK/policy.json" >/dev/null
"$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" --out "$WORK/policy.sig" "$WORK/policy.json" >/dev/null
jq -n --slurpfile p "$WORK/policy.json" --arg s "$(tr -d '\n' <"$WORK/policy.sig")" \
    '{policy:$p[0], signature:$s}' >"$WORK/upload.json"
under_fault "policy upload" upload_policy
check "no policy stored after the failed upload" 0 "$(sql "SELECT count(*) FROM policies")"
check "policy upload after recovery" 200 "$(upload_policy)"
under_fault "policy activation" activate_policy
check "no active policy after the failed activation" 0 "$(sql "SELECT count(*) FROM policies WHERE active = 1")"
check "policy activation after recovery" 200 "$(activate_policy)"

# --- key release ------------------------------------------------------------------
under_fault "key release" try_unlock
check "  the reason names the audit record" 1 "$(jreply .reason | grep -c 'audit record')"
check "  no wrapped key in the answer" null "$(jreply .wrapped_key)"
check "key release after recovery" 200 "$(try_unlock)"
check "  one key_released record" 1 "$(audit_actions key_released)"

# --- break-glass ------------------------------------------------------------------
eventlog_append "$N/eventlog.bin" "$N/eventlog-new.bin" "4:0x80000003:new kernel"
export EVENTLOG=$N/eventlog-new.bin
check "the new boot state is denied by the policy" 403 "$(try_unlock)"
CODE=$(jreply .breakglass_code)
check "  with a break-glass code" 1 "$(echo "$CODE" | grep -cE '^BG-')"
under_fault "break-glass request" bg_request
check "no grant after the failed request" 0 "$(sql "SELECT count(*) FROM grants")"
check "break-glass request after recovery" 200 "$(bg_request)"
GRANT=$(jreply .id)
under_fault "break-glass approval" bg_approve "$SRV/approver1.key"
check "first approval after recovery" 200 "$(bg_approve "$SRV/approver1.key")"
check "  requested" requested "$(jreply .state)"
under_fault "break-glass approval with activation" bg_approve "$SRV/approver2.key"
check "  the grant is still requested with one approval" "0|1" \
    "$(sql "SELECT state, (SELECT count(*) FROM grant_approvals WHERE grant_id = '$GRANT') FROM grants WHERE id = '$GRANT'")"
check "second approval after recovery" 200 "$(bg_approve "$SRV/approver2.key")"
check "  active" active "$(jreply .state)"
under_fault "break-glass key release" try_unlock
check "  the use is not counted" 2 "$(sql "SELECT uses_left FROM grants WHERE id = '$GRANT'")"
check "break-glass key release after recovery" 200 "$(try_unlock)"
check "  by break-glass" breakglass "$(jreply .policy.mode)"
check "  one use counted" 1 "$(sql "SELECT uses_left FROM grants WHERE id = '$GRANT'")"
under_fault "break-glass revoke" bg_revoke
check "  the grant is still active" 1 "$(sql "SELECT state FROM grants WHERE id = '$GRANT'")"
check "break-glass revoke after recovery" 200 "$(bg_revoke)"

# --- node revoke and delete -------------------------------------------------------
under_fault "node revoke" node_revoke
check "  the node is still active" 2 "$(sql "SELECT state FROM nodes WHERE id = '$NODE_ID'")"
check "node revoke after recovery" 200 "$(node_revoke)"
under_fault "node delete" node_delete
check "  the node and its volume are still there" "1|1" \
    "$(sql "SELECT (SELECT count(*) FROM nodes), (SELECT count(*) FROM volumes)")"
check "node delete after recovery" 200 "$(node_delete)"

# --- the log after all this ------------------------------------------------------
for a in node_enrolled node_activated node_approved policy_uploaded policy_activated \
    breakglass_requested breakglass_activated breakglass_used breakglass_revoked node_revoked node_deleted; do
    check "exactly one $a record" 1 "$(audit_actions "$a")"
done
check "two breakglass_approved records" 2 "$(audit_actions breakglass_approved)"
check "two key_released records" 2 "$(audit_actions key_released)"
check "audit verify passes" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"

finish
