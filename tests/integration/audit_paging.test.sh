#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `bootgatectl audit verify|export|list` read the chain in pages (issue 12):
# any chain length fits the 16 MiB answer cap, the walk keeps only the last
# record's hash between pages, and the signed head comes with the first page
# (read by the server before any record). Pages of 50 (BOOTGATE_AUDIT_PAGE)
# over a ~320-record chain of real bootgated: verify passes online in the
# expected number of requests (counted in /metrics), also while records are
# appended; export yields every record once, in order, as the database holds
# them; a record deleted at a page boundary, a record edited in the middle
# of page 2 and a tail cut at a page boundary are named by seq.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
command -v sqlite3 >/dev/null || { echo "missing sqlite3 (ci/deps.sh)"; exit 1; }
SRV_EXTRA_CONF="audit_sign_interval = 1
denial_audit_burst = 2000
denial_audit_global_per_minute = 2000" start_bootgated
DB=$SRV/bootgate.db
HEADF=$DB.audit-head
SIGNER=$SRV/audit-signer.pub
export BOOTGATE_AUDIT_PAGE=50

sql() { sqlite3 -cmd '.timeout 10000' "${DB_FILE:-$DB}" "$@"; }
jq -n '{node_id:"0123456789abcdef0123456789abcdef", volume_uuid:"11111111-2222-3333-4444-555555555555",
    ak_public:"AAEC", attest:"AAEC", signature:"AAEC", pcr_bank:"sha256", pcrs:{}, event_log:"AAEC"}' >"$WORK/unlock.json"
# N audited denials (missing nonce), over one connection
deny() {
    local urls=()
    for _ in $(seq "$1"); do urls+=("$URL/v1/unlock"); done
    curl -sS --cacert "$SRV/ca.crt" -H 'Content-Type: application/json' \
        --data-binary "@$WORK/unlock.json" "${urls[@]}" >/dev/null
}
wait_head_at_end() { # the head file names the last record
    for _ in $(seq 100); do
        [ -f "$HEADF" ] && [ "$(jq .record_seq "$HEADF")" = "$(sql 'SELECT max(seq) FROM audit')" ] && return 0
        sleep 0.1
    done
    return 1
}
audit_gets() { # answered GET /v1/admin/audit so far
    curl -sS "${ADMIN[@]}" "$URL/metrics" |
        awk '/^bootgate_requests_total\{method="GET",route="\/v1\/admin\/audit",status="200"\}/ { print $2 }' |
        grep . || echo 0
}
verify() { "$BOOTGATECTL" audit verify "$@" >"$WORK/out" 2>"$WORK/err"; echo $?; }
vjson() { # JQ-FILTER [verify options]
    local f=$1
    shift
    "$BOOTGATECTL" audit verify --json "$@" 2>/dev/null | jq -r "$f"
}

# --- a chain of ~320 records with signed heads between the batches ----------
for _ in 1 2 3 4; do
    deny 80
    wait_head_at_end || die "no signed head after a batch: $(tail -3 "$WORK/bootgated.log")"
done
TOTAL=$(sql "SELECT max(seq) FROM audit")
HEADS=$(sql "SELECT count(*) FROM audit WHERE action = 'audit_head_signed'")
check "the chain is longer than six pages" yes "$([ "$TOTAL" -gt 300 ] && echo yes || echo no)"
check "  without gaps" "$TOTAL" "$(sql 'SELECT count(*) FROM audit')"
check "  with signed heads in several pages" yes "$([ "$HEADS" -ge 4 ] && echo yes || echo no)"
PAGES=$((TOTAL / 50 + 1)) # the last page is the short (or empty) one

# --- verify online, page by page ----------------------------------------------
G0=$(audit_gets)
check "online verify --signer passes" 0 "$(verify --signer "$SIGNER")"
check "  in $PAGES requests of 50 records" "$PAGES" "$(($(audit_gets) - G0))"
check "  over every record, every signed head, up to the head outside" 1 \
    "$(grep -c "intact: $TOTAL records, $HEADS signed heads, last signed record $((TOTAL - 1)), reaches the signed head of record $((TOTAL - 1)) (the server's audit_head_file)" "$WORK/out")"
cp "$WORK/out" "$WORK/out-paged"
G0=$(audit_gets)
check "one page of the default size says the same" 0 "$(BOOTGATE_AUDIT_PAGE='' verify --signer "$SIGNER")"
check "  in one request" 1 "$(($(audit_gets) - G0))"
check "  word for word" "$(cat "$WORK/out-paged")" "$(cat "$WORK/out")"
check "--json: valid" true "$(vjson .valid --signer "$SIGNER")"
check "--json: records" "$TOTAL" "$(vjson .records)"
check "offline verify --db reads the store in pages too" 0 "$(verify --db "$DB" --signer "$SIGNER")"
check "  with the same result" 1 "$(grep -c "intact: $TOTAL records, $HEADS signed heads" "$WORK/out")"
check "a bad page size is a usage error" 2 "$(BOOTGATE_AUDIT_PAGE=0 verify)"
check "  so is one beyond the server's limit" 2 "$(BOOTGATE_AUDIT_PAGE=100001 verify)"

# records appended while pages are read: the head of the first page is
# reached, the records after it are verified as they come
deny 120 &
DENY_PID=$!
ok=0
for _ in 1 2 3; do
    [ "$(BOOTGATE_AUDIT_PAGE=10 verify --signer "$SIGNER")" = 0 ] && ok=$((ok + 1))
done
wait "$DENY_PID"
check "verify in pages of 10 passes while records are appended (3 runs)" 3 "$ok"
wait_head_at_end || fail "no signed head after the concurrent batch"
TOTAL=$(sql "SELECT max(seq) FROM audit")
HEADS=$(sql "SELECT count(*) FROM audit WHERE action = 'audit_head_signed'")
check "  and afterwards reaches the newest head" 0 "$(verify --signer "$SIGNER")"
check "  over all $TOTAL records" 1 "$(grep -c "intact: $TOTAL records, $HEADS signed heads" "$WORK/out")"

# --- export and list ------------------------------------------------------------
"$BOOTGATECTL" audit export >"$WORK/export.jsonl" || fail "audit export"
check "export: every record once, in order, as stored" "$(sql "SELECT seq || ' ' || hash FROM audit ORDER BY seq")" \
    "$(jq -r '"\(.seq) \(.hash)"' "$WORK/export.jsonl")"
check "  the records whole (details as stored)" "$(sql "SELECT details FROM audit WHERE seq = 77")" \
    "$(jq -r 'select(.seq == 77) | .details' "$WORK/export.jsonl")"
check "  byte for byte what one page gives" "$(md5sum <"$WORK/export.jsonl")" \
    "$(BOOTGATE_AUDIT_PAGE=100000 "$BOOTGATECTL" audit export | md5sum)"
check "  and what export --db gives" "$(md5sum <"$WORK/export.jsonl")" "$("$BOOTGATECTL" audit export --db "$DB" | md5sum)"
check "export --since 120" "$(seq 121 "$TOTAL")" "$("$BOOTGATECTL" audit export --since 120 | jq .seq)"
check "list --limit 120: 120 rows over three pages" "$(seq 1 120)" "$("$BOOTGATECTL" audit list --limit 120 | awk '{ print $1 }')"
check "list --since 30 --limit 75 --json" "$(seq 31 105)" "$("$BOOTGATECTL" audit list --since 30 --limit 75 --json | jq '.[].seq')"
check "list --limit 0: all" "$TOTAL" "$("$BOOTGATECTL" audit list --limit 0 | wc -l)"

# --- breaks at and between page boundaries (live database, restored after) ---
sql ".backup '$WORK/bak.db'"
sql "DROP TRIGGER audit_no_delete; DROP TRIGGER audit_no_update;"
sql "DELETE FROM audit WHERE seq = 51"
check "record 51 (first of page 2) deleted: online verify fails" 1 "$(verify --signer "$SIGNER")"
check "  naming it" 51 "$(vjson .first_bad_seq --signer "$SIGNER")"
check "  as missing" 1 "$(grep -c 'record 51 is missing (next is 52)' "$WORK/err")"
check "export goes on over the gap" $((TOTAL - 1)) "$("$BOOTGATECTL" audit export | wc -l)"
sql "ATTACH '$WORK/bak.db' AS bak; INSERT INTO audit SELECT * FROM bak.audit WHERE seq = 51"
check "record 51 put back: verify passes" 0 "$(verify --signer "$SIGNER")"

sql "UPDATE audit SET details = '{}' WHERE seq = 75"
check "record 75 (middle of page 2) edited: online verify fails" 1 "$(verify --signer "$SIGNER")"
check "  naming it" 75 "$(vjson .first_bad_seq --signer "$SIGNER")"
check "  its hash" 1 "$(grep -c 'record 75: hash does not match its contents' "$WORK/err")"
check "  also offline in pages" 75 "$(vjson .first_bad_seq --db "$DB")"
sql "ATTACH '$WORK/bak.db' AS bak; UPDATE audit SET details = (SELECT details FROM bak.audit WHERE seq = 75) WHERE seq = 75"
check "record 75 restored: verify passes" 0 "$(verify --signer "$SIGNER")"

# the same edit with every later hash recomputed: the chain passes alone, the
# signed heads in later pages expose it
cp "$WORK/bak.db" "$WORK/rewritten.db"
python3 "$TESTLIB/audit_rewrite.py" "$WORK/rewritten.db" "UPDATE audit SET details = '{}' WHERE seq = 75"
check "a recomputed chain passes the hash check in pages" 0 "$(verify --db "$WORK/rewritten.db")"
check "  the signed heads of later pages expose it" 1 "$(verify --db "$WORK/rewritten.db" --signer "$SIGNER")"
check "  as a rewrite" 1 "$(grep -c 'rewritten' "$WORK/err")"
check "  bounded to <= record 75" true "$(vjson '.first_bad_seq <= 75' --db "$WORK/rewritten.db" --signer "$SIGNER")"

# the tail cut back to a page boundary: the last page is empty, the chain
# alone is intact, the signed head outside is not reached
CUT=$(((TOTAL - 2) / 50 * 50))
sql "DELETE FROM audit WHERE seq > $CUT"
check "tail cut at record $CUT: online verify fails" 1 "$(verify --signer "$SIGNER")"
check "  as truncation" 1 "$(grep -c 'truncated' "$WORK/err")"
check "  at the first missing record" $((CUT + 1)) "$(vjson .first_bad_seq)"

finish
