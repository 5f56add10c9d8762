#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Evidence kept (issue 11, points 1-2): every unlock attempt whose quote
# verified is stored with its quoted PCRs, verdict, policy version and
# explanation; its logs once per distinct content. swtpm + tpm2-tools act as
# the node (tests/lib/node.sh): a release, then a boot with one more initrd
# event (denied); `bootgatectl node attempts` lists both, `node explain` of
# the denial names the PCR and the event without the machine, judged again
# from the stored logs, and a candidate policy captured from the new boot
# would release it. Retention keeps the newest attempts_keep per node, and the
# blobs no attempt names go with them. Then the volume: 1,000 attempts from
# 10 nodes (bench/loadgen's software TPM: swtpm does a quote in ~50 ms) with
# 2 distinct event logs store 2 blobs, and the storage per attempt.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_quote tpm2_pcrextend sqlite3 jq; do command -v "$t" >/dev/null || die "missing $t"; done

bootgated_init
SRV_EXTRA_CONF='attempts_keep = 4'
start_bootgated
start_swtpm
node_setup web
DB=$SRV/bootgate.db
N=$WORK/node
CTL=("$BOOTGATECTL")
sq() { sqlite3 "$DB" "$1"; }

# --- a release, then a boot with one more initrd event: denied ---
check "the enrolled boot is released" 200 "$(try_unlock)"
cp "$N/eventlog.bin" "$N/eventlog-v1.bin"
eventlog_append "$N/eventlog-v1.bin" "$N/eventlog.bin" 9:0xd:initrd-EVIL
check "the changed boot is denied" 403 "$(try_unlock)"
check "two attempts stored" 2 "$(sq 'SELECT count(*) FROM attempts')"
check "two distinct logs, two blobs" 2 "$(sq 'SELECT count(*) FROM evidence_blobs')"
check "the blobs are compressed (smaller than the logs)" 1 \
    "$(sq 'SELECT sum(length(data)) < sum(raw_size) FROM evidence_blobs')"

"${CTL[@]}" node attempts "$NODE_ID" >"$WORK/attempts.out" 2>&1 || true
cat "$WORK/attempts.out"
check "node attempts: the denial first" "denied" "$(sed -n 2p "$WORK/attempts.out" | awk '{print $3}')"
check "node attempts: the release second" "released" "$(grep -m1 released "$WORK/attempts.out" | awk '{print $3}')"
check "node attempts: the denial's verdict" 1 "$(grep -c 'denied .*pcr_mismatch\|denied .*policy' "$WORK/attempts.out")"
"${CTL[@]}" node attempts "$NODE_ID" --json >"$WORK/attempts.json"
check "--json: two attempts" 2 "$(jq '.attempts | length' "$WORK/attempts.json")"
check "--json: the denial was judged by web v1" "web 1 false" \
    "$(jq -r '.attempts[0] | "\(.policy) \(.policy_version) \(.released)"' "$WORK/attempts.json")"
DENIED=$(jq -r '.attempts[0].id' "$WORK/attempts.json")
RELEASED=$(jq -r '.attempts[1].id' "$WORK/attempts.json")
check "the attempt names its audit record" unlock_denied \
    "$(sq "SELECT action FROM audit WHERE seq = $(jq -r '.attempts[0].audit_seq' "$WORK/attempts.json")")"

# --- node explain: the denial, judged again from the stored evidence ---
set +e
"${CTL[@]}" node explain "$NODE_ID" >"$WORK/explain.out" 2>&1
rc=$?
set -e
cat "$WORK/explain.out"
check "node explain of a denial exits 1" 1 "$rc"
check_ok "node explain names PCR 9" grep -q 'PCR 9' "$WORK/explain.out"
check_ok "node explain names the event and its index" grep -qE "initrd-EVIL.*event #|event #.*initrd-EVIL" "$WORK/explain.out"
check_ok "node explain names the attempt and its policy" grep -q "attempt $DENIED of node $NODE_ID.*" "$WORK/explain.out"
"${CTL[@]}" node explain "$NODE_ID" --attempt "$DENIED" --json >"$WORK/explain.json" || true
check "--json: the new event is listed with its PCR" 9 \
    "$(jq -r '[.explanation.events[] | select(.desc | test("initrd-EVIL"))][0].pcr' "$WORK/explain.json")"
check "node explain of the release passes" 0 "$("${CTL[@]}" node explain "$NODE_ID" --attempt "$RELEASED" >/dev/null 2>&1; echo $?)"
"${CTL[@]}" policy capture --eventlog "$N/eventlog.bin" --name web --version 2 --out "$WORK/cand.json" >/dev/null
check "a candidate captured from the new boot would release it" 0 \
    "$("${CTL[@]}" node explain "$NODE_ID" --attempt "$DENIED" --policy "$WORK/cand.json" >/dev/null 2>&1; echo $?)"
check "node explain of another node's attempt is refused" 1 \
    "$("${CTL[@]}" node explain 0123456789abcdef0123456789abcdef --attempt "$DENIED" >/dev/null 2>&1; echo $?)"

# --- the admin API: roles, unknown ids, bad input ---
check "auditor may list attempts" 200 "$(api GET "/v1/admin/nodes/$NODE_ID/attempts" '' auditor)"
check "enroller may not" 403 "$(api GET "/v1/admin/nodes/$NODE_ID/attempts" '' enroller)"
check "unknown node: 404" 404 "$(api GET /v1/admin/nodes/0123456789abcdef0123456789abcdef/attempts '' admin)"
check "unknown attempt: 404" 404 "$(api GET /v1/admin/attempts/999999 '' admin)"
check "attempt id not a number: 400" 400 "$(api GET /v1/admin/attempts/x1 '' admin)"
check "evidence by a bad digest: 400" 400 "$(api GET /v1/admin/evidence/00zz '' admin)"
check "an attempt carries its logs" 200 "$(api GET "/v1/admin/attempts/$DENIED" '' auditor)"
check "the stored log is the one sent, byte for byte" "$(sha256sum <"$N/eventlog.bin" | cut -d' ' -f1)" \
    "$(jreply .eventlog | base64 -d | sha256sum | cut -d' ' -f1)"
check "evidence by digest" 200 "$(api GET "/v1/admin/evidence/$(jreply .eventlog_sha256)" '' admin)"
check "latest per node" "1 $DENIED" \
    "$([ "$(api GET '/v1/admin/attempts?group=web&latest=1' '' admin)" = 200 ] && jreply '"\(.attempts | length) \(.attempts[0].id)"')"
check "all attempts, newest first, limit" "1 $DENIED" \
    "$([ "$(api GET '/v1/admin/attempts?limit=1' '' auditor)" = 200 ] && jreply '"\(.attempts | length) \(.attempts[0].id)"')"
check "a bad limit: 400" 400 "$(api GET '/v1/admin/attempts?limit=0' '' admin)"
check "limit at its maximum (100000)" 200 "$(api GET '/v1/admin/attempts?limit=100000' '' admin)"
check "limit beyond it: 400" 400 "$(api GET '/v1/admin/attempts?limit=100001' '' admin)"
check "a node's attempts beyond the limit: 400" 400 "$(api GET "/v1/admin/nodes/$NODE_ID/attempts?limit=100001" '' admin)"
check "a forged unlock stores no attempt" 2 "$(forged_unlock_body "$WORK/forged.json"
    api POST /v1/unlock "$WORK/forged.json" >/dev/null; sq 'SELECT count(*) FROM attempts')"

# --- retention: the newest attempts_keep (4) per node; old blobs go ---
for _ in 1 2 3 4; do try_unlock >/dev/null; done
check "retention keeps the newest 4 attempts" 4 "$(sq 'SELECT count(*) FROM attempts')"
check "the first release is gone" 0 "$(sq "SELECT count(*) FROM attempts WHERE id = $RELEASED")"
check "the v1 log's blob went with its last attempt" 1 "$(sq 'SELECT count(*) FROM evidence_blobs')"
check "the audit chain still verifies" 0 "$("${CTL[@]}" audit verify >/dev/null 2>&1; echo $?)"

# --- the volume: 1,000 attempts, 10 nodes, 2 distinct logs -> 2 blobs ---
LOADGEN=$BOOTGATE_BUILDDIR/bench/loadgen
if [ -x "$LOADGEN" ]; then
    stop_bootgated
    sed -i 's/^attempts_keep = 4$/attempts_keep = 1000/' "$SRV/bootgated.conf"
    start_bootgated
    LOGS=("$BOOTGATE_SRCDIR/tests/data/captures/ovmf-uki/eventlog.bin"
        "$BOOTGATE_SRCDIR/tests/data/captures/seabios-kernel/eventlog.bin")
    bootgated_policy fleet-0 1 "${LOGS[0]}" --pcrs 0-9,11
    bootgated_policy fleet-1 1 "${LOGS[1]}" --pcrs 0-9,11
    before=$(sq 'SELECT count(*) FROM attempts')
    blobs_before=$(sq 'SELECT count(*) FROM evidence_blobs')
    # 5 nodes per log, 500 boots each (their own enrollment first)
    for g in 0 1; do
        "$LOADGEN" --url "$URL" --srv "$SRV" --eventlog "${LOGS[$g]}" --group "fleet-$g" \
            --nodes 5 --concurrency 4 --boots 500 --duration 600 --warmup 0 --floor-rounds 0 \
            >"$WORK/loadgen-$g.out" 2>&1 || fail "loadgen $g: $(tail -3 "$WORK/loadgen-$g.out")"
    done
    total=$(($(sq 'SELECT count(*) FROM attempts') - before))
    check "1,000 attempts stored" 1000 "$total"
    check "from 10 nodes" 10 "$(sq "SELECT count(DISTINCT node_id) FROM attempts WHERE grp LIKE 'fleet-%'")"
    check "2 distinct logs, 2 more blobs" 2 "$(($(sq 'SELECT count(*) FROM evidence_blobs') - blobs_before))"
    # the pages the attempts table and its indexes take (SQLite's dbstat),
    # per attempt; the blobs are shared by all of them
    rows=$(sq 'SELECT count(*) FROM attempts')
    pages=$(sq "SELECT sum(pgsize) FROM dbstat WHERE name = 'attempts' OR name LIKE 'attempts_%'")
    per=$((pages / rows))
    blob=$(sq "SELECT sum(length(data)) FROM evidence_blobs")
    raw=$(sq "SELECT sum(raw_size) FROM evidence_blobs")
    log "storage: $per bytes per attempt (table and indexes, $rows rows); blobs $blob bytes compressed ($raw raw) shared by all"
    echo "attempts-storage: rows=$rows bytes_per_attempt=$per blob_bytes=$blob blob_raw_bytes=$raw"
    check_ok "an attempt takes less than 4 KiB ($per bytes)" test "$per" -lt 4096
else
    fail "bench/loadgen not built"
fi
finish
