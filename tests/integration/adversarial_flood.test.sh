#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Adversarial suite, floods and the audit log: challenge and unlock floods from
# one source must leave the database, the audit table and the log bounded
# (a flood must not fill the disk through the log); used nonces are purged
# once expired; audit rows deleted (with or without the chain recomputed) or
# cut at the end are found, the signed head revealing the truncation.
# (server_audit_truncation and server_api hold the edit and rewrite cases.)
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/adversarial.sh
. "$TESTLIB/adversarial.sh"
for t in python3 sqlite3; do command -v "$t" >/dev/null || die "missing $t"; done
SRV_EXTRA_CONF="audit_sign_interval = 1" start_bootgated
DB=$SRV/bootgate.db
dbsize() { stat -c %s "$DB"; }
walsize() { stat -c %s "$DB-wal" 2>/dev/null || echo 0; }
logsize() { wc -c <"$WORK/bootgated.log"; }
RSS0=$(rss_kb)
sleep 1 # the first signed head

# --- challenge flood --------------------------------------------------------------
echo '{"node_id":"0123456789abcdef0123456789abcdef"}' >"$WORK/ch.json"
ROWS0=$(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE action != 'audit_head_signed'") DB0=$(dbsize) LOG0=$(logsize)
out=$(raw flood 3000 --path /v1/challenge --body "$WORK/ch.json")
log "challenge flood: $out"
acase "a flood of 3000 challenges from one source is served" 3000 "$(echo "$out" | jq '.statuses["200"]')"
acase "it writes no audit row (challenges are stateless)" "$ROWS0" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM audit WHERE action != 'audit_head_signed'")"
acase "it grows the database by < 64 KiB" yes "$([ $(($(dbsize) - DB0)) -lt 65536 ] && echo yes || echo no)"
acase "it writes < 4 KiB of log" yes "$([ $(($(logsize) - LOG0)) -lt 4096 ] && echo yes || echo no)"

# --- unlock flood, forged nonces -------------------------------------------------------
jq -n '{node_id:"0123456789abcdef0123456789abcdef", volume_uuid:"11111111-2222-3333-4444-555555555555",
    nonce:"", ak_public:"AAEC", attest:"AAEC", signature:"AAEC", pcr_bank:"sha256",
    pcrs:({} | . as $o | reduce range(0;12) as $i ($o; .["\($i)"] = ("00" * 32))), event_log:"AAEC"}' |
    jq --arg n "$(head -c 32 /dev/urandom | base64 -w0)" '.nonce = $n' >"$WORK/forged.json"
ROWS0=$(audit_rows unlock_denied) DB0=$(dbsize) LOG0=$(logsize)
out=$(raw flood 2000 --path /v1/unlock --body "$WORK/forged.json")
log "forged-nonce unlock flood: $out"
ROWS1=$(audit_rows unlock_denied)
acase "2000 unlocks with a forged nonce are all denied" 2000 "$(echo "$out" | jq '.statuses["403"]')"
acase "their audit rows are bounded by the per-source bucket (burst 10 + refill): $((ROWS1 - ROWS0)) rows" yes \
    "$([ $((ROWS1 - ROWS0)) -ge 1 ] && [ $((ROWS1 - ROWS0)) -le 20 ] && echo yes || echo no)"
api GET /metrics >/dev/null
acase "the rest are counted in /metrics" yes \
    "$(awk '/^bootgate_denials_unaudited_total/ { print ($2 >= 1980) ? "yes" : "no" }' "$WORK/reply")"
acase "the database grows by < 256 KiB" yes "$([ $(($(dbsize) - DB0)) -lt 262144 ] && echo yes || echo no)"
acase "the log grows by < 16 KiB (rate-limited, with a count of lines left out)" yes \
    "$([ $(($(logsize) - LOG0)) -lt 16384 ] && echo yes || echo no)"

# --- unlock flood, fresh valid nonces of an unknown node -----------------------------------
# each nonce is used once (a used_nonces row) and then denied: node_unknown
ROWS0=$(audit_rows unlock_denied) N0=$(sqlite3 "$DB" "SELECT count(*) FROM used_nonces") DB0=$(dbsize) LOG0=$(logsize)
out=$(raw flood 500 --path /v1/unlock --body "$WORK/forged.json" --fresh-nonce 0123456789abcdef0123456789abcdef)
log "fresh-nonce unlock flood: $out"
acase "500 unlocks with fresh nonces of an unknown node are all denied" 500 "$(echo "$out" | jq '.statuses["403"]')"
acase "each used nonce is one row, no more" 500 "$(($(sqlite3 "$DB" "SELECT count(*) FROM used_nonces") - N0))"
acase "audit rows stay bounded (<= 20)" yes \
    "$([ $(($(audit_rows unlock_denied) - ROWS0)) -le 20 ] && echo yes || echo no)"
acase "the database grows by < 256 KiB ($(($(dbsize) - DB0)) bytes)" yes "$([ $(($(dbsize) - DB0)) -lt 262144 ] && echo yes || echo no)"
acase "its write-ahead log stays under 8 MiB (checkpoints every 1000 pages; $(walsize) bytes)" yes \
    "$([ "$(walsize)" -lt 8388608 ] && echo yes || echo no)"
acase "the log grows by < 16 KiB" yes "$([ $(($(logsize) - LOG0)) -lt 16384 ] && echo yes || echo no)"
# the next line that goes out (the log bucket refills one line a second)
sleep 1.2
raw flood 1 --path /v1/unlock --body "$WORK/forged.json" >/dev/null
acase "the next log line names how many lines were left out" yes \
    "$(grep -q 'BOOTGATE_LOG_SUPPRESSED=[1-9]' "$WORK/bootgated.log" && echo yes || echo no)"
# rows of nonces that expired long ago (as a day-old flood leaves them)
sqlite3 "$DB" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
    INSERT INTO used_nonces (nonce, expires) SELECT randomblob(32), 1000 + i FROM n"
raw flood 1 --path /v1/unlock --body "$WORK/forged.json" --fresh-nonce 0123456789abcdef0123456789abcdef >/dev/null
acase "the next used nonce purges the expired rows" 0 "$(sqlite3 "$DB" "SELECT count(*) FROM used_nonces WHERE expires < 100000")"
serving "after the floods"
rss_bounded "after the floods" $((RSS0 + 65536))

# --- the audit log, edited behind the server's back ---------------------------------------------
sleep 2 # a signed head over the flood's records
HEADF=$DB.audit-head
LAST=$(jq .record_seq "$HEADF")
stop_bootgated
verify() { "$BOOTGATECTL" audit verify --db "$1" --signer "$SRV/audit-signer.pub" --json 2>/dev/null; }
acase "control: the untouched log verifies against its signed head" true "$(verify "$DB" | jq .valid)"
cp "$DB" "$WORK/del.db"
sqlite3 "$WORK/del.db" "DROP TRIGGER IF EXISTS audit_no_delete; DELETE FROM audit WHERE seq = 3"
cp "$HEADF" "$WORK/del.db.audit-head"
acase "a deleted middle row: verify fails at that row" "false 3" "$(verify "$WORK/del.db" | jq -r '"\(.valid) \(.first_bad_seq)"')"
cp "$DB" "$WORK/delrw.db"
python3 "$TESTLIB/audit_rewrite.py" "$WORK/delrw.db" "DELETE FROM audit WHERE seq = 3"
cp "$HEADF" "$WORK/delrw.db.audit-head"
acase "a deleted row with the chain recomputed: the signed head exposes it" false "$(verify "$WORK/delrw.db" | jq .valid)"
cp "$DB" "$WORK/cut.db"
sqlite3 "$WORK/cut.db" "DROP TRIGGER IF EXISTS audit_no_delete; DELETE FROM audit WHERE seq >= $((LAST - 1))"
acase "the log cut at the end passes on its own (why the head is kept outside)" true \
    "$("$BOOTGATECTL" audit verify --db "$WORK/cut.db" --json 2>/dev/null | jq .valid)"
cp "$HEADF" "$WORK/cut.db.audit-head"
acase "the signed head reveals the truncation, naming the first missing record" "false $((LAST - 1)) yes" \
    "$(verify "$WORK/cut.db" | jq -r '"\(.valid) \(.first_bad_seq) \(if (.reason // "" | test("truncat")) then "yes" else "no" end)"')"
acase_finish
