#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The tail of the audit log cannot be cut off unnoticed. A chain cut back to
# any record (also to an older signed head) is a valid chain by itself, so
# bootgated keeps the latest signed head outside the table (audit_head_file,
# beside the database) and `bootgatectl audit verify` (online, offline --db,
# or --head FILE) checks that the chain still reaches it. Deleting the last
# records or cutting back to an older head fails as truncation naming the
# first missing record; an edit before the head fails at the edited record;
# the untouched log passes; bootgated --check refuses the truncated log.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
command -v sqlite3 >/dev/null || { echo "missing sqlite3"; exit 1; }
SRV_EXTRA_CONF="audit_sign_interval = 1
denial_audit_burst = 1000" start_bootgated
DB=$SRV/bootgate.db
HEADF=$DB.audit-head
SIGNER=$SRV/audit-signer.pub

sql() { sqlite3 -cmd '.timeout 10000' "${DB_FILE:-$DB}" "$@"; }
# one audited record: an unlock denial (missing nonce)
deny() {
    jq -n '{node_id:"0123456789abcdef0123456789abcdef", volume_uuid:"11111111-2222-3333-4444-555555555555",
        ak_public:"AAEC", attest:"AAEC", signature:"AAEC", pcr_bank:"sha256", pcrs:{}, event_log:"AAEC"}' >"$WORK/unlock.json"
    api POST /v1/unlock "$WORK/unlock.json" >/dev/null
}
# waits until the head file names a signed head after record $1
wait_head_after() {
    for _ in $(seq 100); do
        if [ -f "$HEADF" ] && [ "$(jq .seq "$HEADF")" -ge "$1" ]; then return 0; fi
        sleep 0.1
    done
    return 1
}
verify() { "$BOOTGATECTL" audit verify "$@" >"$WORK/out" 2>"$WORK/err"; echo $?; }
vjson() { # JQ-FILTER [verify options]
    local f=$1
    shift
    "$BOOTGATECTL" audit verify --json "$@" 2>/dev/null | jq -r "$f"
}
copy_db() { rm -f "$1"; sql ".backup '$1'"; }

for _ in 1 2 3; do deny; done
check "three denials audited" 4 "$(sql "SELECT count(*) FROM audit")"
wait_head_after 4 && pass "a signed head is written beside the database" || fail "a signed head is written beside the database"
FIRST_HEAD=$(jq .record_seq "$HEADF")
check "the head file names its audit_head_signed record" audit_head_signed "$(sql "SELECT action FROM audit WHERE seq = $FIRST_HEAD")"
check "and the hash of the record it signs" "$(sql "SELECT hash FROM audit WHERE seq = $(jq .seq "$HEADF")")" "$(jq -r .hash "$HEADF")"
for _ in 1 2 3; do deny; done
wait_head_after $((FIRST_HEAD + 3)) && pass "a newer head replaces it" || fail "a newer head replaces it"
LAST=$(jq .record_seq "$HEADF")
check "the newer head is the last record" "$LAST" "$(sql "SELECT max(seq) FROM audit")"
sleep 1.5 # nothing new: no further head, the log stays put for the copies below
check "no head is signed over a head" "$LAST" "$(sql "SELECT max(seq) FROM audit")"

# --- untouched: everything passes -------------------------------------------
check "online verify --signer passes" 0 "$(verify --signer "$SIGNER")"
check "  and says it reaches the signed head" 1 "$(grep -c "reaches the signed head of record $((LAST - 1))" "$WORK/out")"
check "online verify (no key) passes" 0 "$(verify)"
check "online verify --json names the signed head" $((LAST - 1)) "$(vjson '.signed_head_seq')"
check "offline verify --db finds the head beside it and passes" 0 "$(verify --db "$DB" --signer "$SIGNER")"
check "  reaching it" 1 "$(grep -c "reaches the signed head" "$WORK/out")"
check "audit head (API) is the file's head" "$(jq -c . "$HEADF")" "$("$BOOTGATECTL" audit head | jq -c .)"
"$BOOTGATECTL" audit head >"$WORK/head-copy.json"
check "verify --head with an exported copy passes" 0 "$(verify --head "$WORK/head-copy.json" --signer "$SIGNER")"
check "server-side verify passes" true "$(api GET /v1/admin/audit/verify '' auditor >/dev/null; jreply .valid)"
check "  and names the head" $((LAST - 1)) "$(jreply .signed_head_seq)"
check "a foreign key does not verify the head" 1 "$(verify --signer "$SRV/approvers.d/approver1.pub")"

# --- the last 2 records deleted ---------------------------------------------
copy_db "$WORK/cut.db"
DB_FILE=$WORK/cut.db sql "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > $((LAST - 2));"
check "the cut chain alone still passes (why the head is kept outside)" 0 "$(verify --db "$WORK/cut.db" --signer "$SIGNER")"
check "with the head: verify fails" 1 "$(verify --db "$WORK/cut.db" --head "$HEADF" --signer "$SIGNER")"
check "  naming truncation" 1 "$(grep -c 'truncated' "$WORK/err")"
check "  at the first missing record" $((LAST - 1)) "$(vjson '.first_bad_seq' --db "$WORK/cut.db" --head "$HEADF")"
check "  --json: not valid" false "$(vjson '.valid' --db "$WORK/cut.db" --head "$HEADF")"
check "  also without the key" 1 "$(verify --db "$WORK/cut.db" --head "$HEADF")"
cp "$HEADF" "$WORK/cut.db.audit-head"
check "  and with the head beside the copy, found by default" 1 "$(verify --db "$WORK/cut.db")"

# --- cut back to the older signed head ---------------------------------------
copy_db "$WORK/old.db"
DB_FILE=$WORK/old.db sql "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > $FIRST_HEAD;"
check "a log cut back to an older signed head passes --signer on its own" 0 "$(verify --db "$WORK/old.db" --signer "$SIGNER")"
check "with the head: verify fails" 1 "$(verify --db "$WORK/old.db" --head "$HEADF" --signer "$SIGNER")"
check "  naming truncation" 1 "$(grep -c 'truncated' "$WORK/err")"
check "  at the first record after the older head" $((FIRST_HEAD + 1)) "$(vjson '.first_bad_seq' --db "$WORK/old.db" --head "$HEADF" --signer "$SIGNER")"

# --- a record before the head edited -----------------------------------------
copy_db "$WORK/edit.db"
DB_FILE=$WORK/edit.db sql "DROP TRIGGER audit_no_update; UPDATE audit SET details = '{}' WHERE seq = 3;"
check "an edited record fails verify" 1 "$(verify --db "$WORK/edit.db" --head "$HEADF" --signer "$SIGNER")"
check "  at that record" 3 "$(vjson '.first_bad_seq' --db "$WORK/edit.db" --head "$HEADF" --signer "$SIGNER")"
check "  not as truncation" 0 "$(grep -c 'truncated' "$WORK/err" || true)"
# the same edit with every later hash recomputed (no key needed for that)
copy_db "$WORK/rewritten.db"
python3 "$TESTLIB/audit_rewrite.py" "$WORK/rewritten.db" "UPDATE audit SET details = '{}' WHERE seq = 3"
check "a recomputed chain passes the hash check alone" 0 "$(verify --db "$WORK/rewritten.db")"
check "the head outside exposes it, even without the key" 1 "$(verify --db "$WORK/rewritten.db" --head "$HEADF")"
check "  as a rewrite" 1 "$(grep -c 'rewritten' "$WORK/err")"
check "  bounded to <= record 3 with the key" true "$(vjson '.first_bad_seq <= 3' --db "$WORK/rewritten.db" --head "$HEADF" --signer "$SIGNER")"

# --- the live log truncated under the server ---------------------------------
sql "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > $((LAST - 2));"
check "online verify fails" 1 "$(verify --signer "$SIGNER")"
check "  naming truncation" 1 "$(grep -c 'truncated' "$WORK/err")"
check "  at the first missing record" $((LAST - 1)) "$(vjson .first_bad_seq)"
check "server-side verify fails" false "$(api GET /v1/admin/audit/verify '' auditor >/dev/null; jreply .valid)"
check "  at the first missing record" $((LAST - 1)) "$(jreply .first_bad_seq)"
check "  naming truncation" 1 "$(jreply .reason | grep -c truncated)"
# new records arrive; the server does not sign over the cut, the head file keeps the evidence
deny
sleep 2.5
check "no new head is signed over the truncated log" "$LAST" "$(jq .record_seq "$HEADF")"
check "  and bootgated says why" yes "$(grep -q 'audit head not signed.*truncated' "$WORK/bootgated.log" && echo yes || echo no)"
check "bootgated --check refuses the truncated log" 1 "$("$BOOTGATED" -c "$SRV/bootgated.conf" --check >"$WORK/check.out" 2>&1; echo $?)"
check "  naming truncation and the head file" 1 "$(grep -c "truncated.*$(basename "$HEADF")\|$(basename "$HEADF").*truncated" "$WORK/check.out")"

finish
