#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Adversarial suite, administration: every admin route with no certificate,
# a certificate of each wrong role (an admin_forbidden record each), one of
# no role and one from another CA;
# policies that downgrade, come from an unknown signer or expire; and
# break-glass abused: approval twice, by an unknown key, by the requester,
# over the caps, grant replay, an observed-scope grant for other PCRs.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/adversarial.sh
. "$TESTLIB/adversarial.sh"
for t in swtpm tpm2_createek tpm2_quote python3 sqlite3 openssl; do
    command -v "$t" >/dev/null || die "missing $t"
done
SRV_EXTRA_CONF="denial_audit_burst = 10000" start_bootgated
DB=$SRV/bootgate.db
RSS0=$(rss_kb)

# --- certificates an attacker might hold --------------------------------------------
mkcert() { # NAME OU CN [CA-CERT CA-KEY]: a client certificate
    local ext=$WORK/$1.ext
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' >"$ext"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/OU=$2/CN=$3" \
        -keyout "$WORK/$1.key" -out "$WORK/$1.csr" 2>/dev/null
    openssl x509 -req -in "$WORK/$1.csr" -CA "${4:-$SRV/ca.crt}" -CAkey "${5:-$SRV/ca.key}" \
        -CAcreateserial -days 1 -extfile "$ext" -out "$WORK/$1.crt" 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=evil CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
    -keyout "$WORK/evilca.key" -out "$WORK/evilca.crt" -days 1 2>/dev/null
mkcert foreign admin bootgate-admin "$WORK/evilca.crt" "$WORK/evilca.key"
mkcert norole operator mallory
for r in admin enroller approver auditor; do cp "$SRV/$r.crt" "$SRV/$r.key" "$WORK/"; done
as() { # CERT METHOD PATH: the status, 000 when the handshake fails
    local args=(-sS -o "$WORK/reply" -w '%{http_code}' --cacert "$SRV/ca.crt" -X "$2")
    [ "$1" = none ] || args+=(--cert "$WORK/$1.crt" --key "$WORK/$1.key")
    [ "$2" = POST ] && args+=(-H 'Content-Type: application/json' --data-binary '{}')
    curl "${args[@]}" "$URL$3" 2>/dev/null || true
}

# --- every admin route --------------------------------------------------------------
ROWS0=$(audit_rows)
FORBIDDEN=0 MATRIX_ROWS=0
X=0123456789abcdef0123456789abcdef
while read -r method path allowed; do
    got=$(as none "$method" "$path")
    want=401
    for r in admin enroller approver auditor; do
        case " $allowed " in *" $r "*) continue ;; esac
        got="$got $r:$(as "$r" "$method" "$path")"
        want="$want $r:403"
        FORBIDDEN=$((FORBIDDEN + 1))
    done
    got="$got norole:$(as norole "$method" "$path") foreign:$(as foreign "$method" "$path")"
    want="$want norole:401 foreign:000"
    acase "$method $path: no certificate 401, wrong roles 403, no role 401, other CA no handshake" \
        "$want" "$got"
    MATRIX_ROWS=$((MATRIX_ROWS + 1))
done <<EOR
GET /v1/admin/nodes admin auditor
GET /v1/admin/nodes/$X admin auditor
GET /v1/admin/nodes/$X/attempts admin auditor
GET /v1/admin/attempts admin auditor
GET /v1/admin/attempts/1 admin auditor
GET /v1/admin/evidence/${X}${X} admin auditor
POST /v1/admin/nodes/$X/approve admin
POST /v1/admin/nodes/$X/revoke admin
DELETE /v1/admin/nodes/$X admin
POST /v1/admin/policies admin
GET /v1/admin/policies admin auditor
GET /v1/admin/policies/web/1 admin auditor
POST /v1/admin/policies/web/1/activate admin
POST /v1/admin/breakglass admin approver
GET /v1/admin/breakglass admin approver auditor
GET /v1/admin/breakglass/1 admin approver auditor
POST /v1/admin/breakglass/1/approve approver
POST /v1/admin/breakglass/1/revoke admin approver
GET /v1/admin/audit admin auditor
GET /v1/admin/audit/verify admin auditor
POST /v1/enroll enroller
POST /v1/enroll/activate enroller
EOR
# every route that needs a certificate is in the matrix above: as many rows as
# routes.c has entries other than ROLE_OPEN ones
acase "the matrix covers every route that needs a certificate ($MATRIX_ROWS rows)" \
    "$(grep -cE '^ *\{EVHTTP_REQ_[A-Z]+, "/' "$BOOTGATE_SRCDIR/src/server/routes.c" |
        awk -v o="$(grep -cE '^ *\{EVHTTP_REQ_[A-Z]+, "/[^"]*", ROLE_OPEN' "$BOOTGATE_SRCDIR/src/server/routes.c")" '{ print $1 - o }')" \
    "$MATRIX_ROWS"
acase "each call of a wrong role is an admin_forbidden record (certificates of our CA)" "$FORBIDDEN" \
    "$(audit_rows admin_forbidden)"
acase "  naming the route and the role" 1 \
    "$(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE action = 'admin_forbidden' AND actor = 'auditor:bootgate-auditor'
        AND json_extract(details, '\$.route') = '/v1/admin/policies/*/*/activate'")"
acase "the refused calls changed nothing else (no other record)" "$ROWS0" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE action != 'admin_forbidden'")"
serving "after the role matrix"

# --- policies --------------------------------------------------------------------------
start_swtpm
make_node_keys
N=$WORK/node
VOL=6f1b2c3d-0000-4000-8000-00000000abcd
node_boot
node_enroll
bootgated_policy web 2 "$N/eventlog.bin" --pcrs 0-9,11
upload() { # POLICY-FILE SIGNER-KEY -> status
    "$BOOTGATECTL" policy sign --key "$2" "$1" >/dev/null 2>&1 || die "policy sign"
    jq -n --rawfile p "$1" --rawfile s "$1.sig" '{policy: $p, signature: ($s | rtrimstr("\n"))}' >"$WORK/up.json"
    api POST /v1/admin/policies "$WORK/up.json" admin
}
capture() { # VERSION OUT [OPTION...]
    local v=$1 out=$2
    shift 2
    "$BOOTGATECTL" policy capture --eventlog "$N/eventlog.bin" --name web --version "$v" --pcrs 0-9,11 "$@" \
        --out "$out" >/dev/null || die "policy capture"
}
capture 1 "$WORK/p1.json"
acase "policy downgrade: uploading version 1 over version 2 is refused, nothing stored" "409 1" \
    "$(upload "$WORK/p1.json" "$SRV/policy-signer.key") $(api GET /v1/admin/policies '' admin >/dev/null; jreply '.policies | length')"
openssl genpkey -algorithm ed25519 -out "$WORK/rogue.key" 2>/dev/null
capture 3 "$WORK/p3.json"
acase "a policy signed by an unknown key is refused, nothing stored" "400 1" \
    "$(upload "$WORK/p3.json" "$WORK/rogue.key") $(api GET /v1/admin/policies '' admin >/dev/null; jreply '.policies | length')"
jq '.mode = "audit"' "$WORK/p3.json" >"$WORK/p3-edit.json"
cp "$WORK/p3.json.sig" "$WORK/p3-edit.json.sig" 2>/dev/null || true
"$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" "$WORK/p3.json" >/dev/null 2>&1
jq -n --rawfile p "$WORK/p3-edit.json" --rawfile s "$WORK/p3.json.sig" '{policy: $p, signature: ($s | rtrimstr("\n"))}' >"$WORK/up.json"
acase "a signed policy edited after signing (enforce -> audit) is refused" 400 "$(api POST /v1/admin/policies "$WORK/up.json" admin)"
capture 4 "$WORK/p4.json"
jq --arg t "$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)" '.not_after = $t' "$WORK/p4.json" >"$WORK/p4e.json"
acase "a policy expiring in 4 s is accepted and activated" "200 200" \
    "$(upload "$WORK/p4e.json" "$SRV/policy-signer.key") $(echo '{}' >"$WORK/e.json"; api POST /v1/admin/policies/web/4/activate "$WORK/e.json" admin)"
acase "control: it releases while valid" 200 "$(try_unlock)"
sleep 5
denial "once expired it releases nothing" 403 policy_expired
CODE=$(jreply .breakglass_code)
acase "the expired-policy denial carries a break-glass code" 1 "$(echo "$CODE" | grep -cE '^BG-')"
cp "$N/pcrs.json" "$WORK/denied-pcrs.json"

# --- break-glass ---------------------------------------------------------------------------
bg_request() { # CODE SCOPE USES TTL [CERT] -> status; grant in $WORK/reply
    jq -n --arg c "$1" --arg s "$2" --argjson u "$3" --argjson t "$4" \
        '{code:$c, reason:"adversarial test", scope:$s, uses:$u, ttl:$t}' >"$WORK/bg.json"
    curl -sS -o "$WORK/reply" -w '%{http_code}' --cacert "$SRV/ca.crt" --cert "$WORK/${5:-admin}.crt" \
        --key "$WORK/${5:-admin}.key" -H 'Content-Type: application/json' --data-binary "@$WORK/bg.json" \
        "$URL/v1/admin/breakglass"
}
bg_sign() { # ID KEY: the approval body in $WORK/approve.json
    api GET "/v1/admin/breakglass/$1" '' auditor >/dev/null
    printf '%s' "$(jreply .to_sign)" >"$WORK/to_sign"
    openssl pkeyutl -sign -rawin -inkey "$2" -in "$WORK/to_sign" -out "$WORK/grant.sig"
    jq -n --arg s "$(base64 -w0 "$WORK/grant.sig")" '{signature:$s}' >"$WORK/approve.json"
}
bg_approve() { # ID KEY [CERT] -> status
    bg_sign "$1" "$2"
    curl -sS -o "$WORK/reply" -w '%{http_code}' --cacert "$SRV/ca.crt" --cert "$WORK/${3:-approver}.crt" \
        --key "$WORK/${3:-approver}.key" -H 'Content-Type: application/json' \
        --data-binary "@$WORK/approve.json" "$URL/v1/admin/breakglass/$1/approve"
}
acase "a grant asking for 1000 uses and 10 days is capped (5 uses, 1 h)" "200 5 3600" \
    "$(bg_request "$CODE" observed 1000 864000) $(jreply .uses) $(jq '.not_after - .not_before' "$WORK/reply")"
G1=$(jreply .id)
acase "uses and ttl beyond any integer are refused" "400 400" \
    "$(bg_request "$CODE" observed 99999999999999999999999 600) $(bg_request "$CODE" observed 1 1e400)"
acase "a grant for an unknown code is refused" 404 "$(bg_request BG-AAAA-AAAA observed 1 600)"
BG0=$(audit_rows)
acase "approval with a key outside approvers.d is refused" 403 "$(bg_approve "$G1" "$WORK/rogue.key")"
acase "approval with the policy signer's key (not an approver) is refused" 403 \
    "$(bg_approve "$G1" "$SRV/policy-signer.key")"
acase "the refused approvals are audit records" 2 "$(($(audit_rows breakglass_approval_refused)))"
acase "first approval" 200 "$(bg_approve "$G1" "$SRV/approver1.key")"
acase "the same approver twice is refused and does not count" "409 requested" \
    "$(bg_approve "$G1" "$SRV/approver1.key") $(api GET "/v1/admin/breakglass/$G1" '' auditor >/dev/null; jreply .state)"
# an approval signature replayed onto another grant
bg_request "$CODE" observed 1 600 >/dev/null
G2=$(jreply .id)
bg_sign "$G1" "$SRV/approver2.key"
acase "an approval signed for one grant does not approve another (replay)" 403 \
    "$(curl -sS -o "$WORK/reply" -w '%{http_code}' --cacert "$SRV/ca.crt" --cert "$WORK/approver.crt" \
        --key "$WORK/approver.key" -H 'Content-Type: application/json' --data-binary "@$WORK/approve.json" \
        "$URL/v1/admin/breakglass/$G2/approve")"
# the requester approves their own request: an approver certificate whose CN
# is the name of an approver key
mkcert approver1 approver approver1
bg_request "$CODE" observed 1 600 approver1 >/dev/null
G3=$(jreply .id)
acase "the requester cannot approve their own grant" 403 "$(bg_approve "$G3" "$SRV/approver1.key" approver1)"
acase "second approval (another approver): active" "200 active" "$(bg_approve "$G1" "$SRV/approver2.key") $(jreply .state)"
acase "control: the active grant releases the denied state" "200 breakglass" "$(try_unlock) $(jreply .policy.mode)"
# an observed-scope grant waives the policy only for the denied PCR values:
# the TPM and its log move on in PCR 7 (evidence fine, policy expired)
eventlog_append "$N/eventlog.bin" "$N/eventlog-7.bin" "7:0x80000007:one more event"
EVENTLOG=$N/eventlog-7.bin denial "an observed-scope grant does not cover other PCR values" 403 policy_expired
# a one-use grant of scope any: used once, then nothing
bg_request "$CODE" any 1 600 >/dev/null
G5=$(jreply .id)
bg_approve "$G5" "$SRV/approver1.key" >/dev/null
acase "a one-use grant of scope any, approved twice: active" "200 active" "$(bg_approve "$G5" "$SRV/approver2.key") $(jreply .state)"
acase "  it releases the new state once" 200 "$(EVENTLOG=$N/eventlog-7.bin try_unlock)"
cp "$WORK/unlock.json" "$WORK/used.json"
EVENTLOG=$N/eventlog-7.bin denial "grant replay: a used-up grant releases nothing" 403 policy_expired
audit_mark
GOT=$(api POST /v1/unlock "$WORK/used.json")
unlock_refused "grant replay: the released request sent again" 403 nonce_reused
acase "break-glass refusals are audited: unknown key, signer key, twice, replayed signature, own grant" 5 \
    "$(audit_rows breakglass_approval_refused)"
serving "after the break-glass cases"
rss_bounded "at the end" $((RSS0 + 65536))
acase "audit verify passes after the run" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
acase_finish
