#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stateless replicas (issue 12): three bootgated on loopback share one
# PostgreSQL database (Debian's, started here), the KEK and the nonce secret.
# A nonce from replica A unlocks at B and is used up at C; break-glass
# approved through A is used through C; concurrent releases, policy denials
# and replays spread over all three leave one strict audit chain (audit
# verify, seqs 1..N with no gap or fork); replica B killed with SIGKILL while
# bootgate-unlock clients keep unlocking: they fail over, every release a
# client saw has exactly one audit record, the chain stays intact.
# STORE=sqlite (server_replica_sqlite.test.sh) runs the single-replica cases
# on SQLite: "A", "B" and "C" are then one bootgated.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/postgres.sh
. "$TESTLIB/postgres.sh"
STORE=${STORE:-postgresql}
for t in swtpm tpm2_createek tpm2_quote tpm2_activatecredential jq openssl cryptsetup; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done

# --- the servers --------------------------------------------------------------
bootgated_init
# every denial gets its audit row, however fast they come (the chain is the point)
SRV_EXTRA_CONF="denial_audit_burst = 100000
denial_audit_global_per_minute = 1000000"
if [ "$STORE" = postgresql ]; then
    pg_start
    bootgated_use_store "$PG_URL"
    sql() { pg_sql "$1"; }
    AUDIT_DB=$PG_URL
else
    sql() { sqlite3 "$SRV/bootgate.db" "$1"; }
    AUDIT_DB=$SRV/bootgate.db
fi
start_bootgated
URL_A=$URL
if [ "$STORE" = postgresql ]; then
    start_replica b
    start_replica c
    URL_B=${REPLICA_URL[b]}
    URL_C=${REPLICA_URL[c]}
else
    URL_B=$URL_A
    URL_C=$URL_A
fi
check "bootgated --check reads the schema of the $STORE store" 1 \
    "$("$BOOTGATED" -c "$SRV/bootgated.conf" --check 2>&1 | grep -c "store $STORE: schema [0-9]* (current)")"

# --- one node (tpm2-tools, tests/lib/node.sh), enrolled through A --------------
start_swtpm
make_node_keys
node_boot
N=$WORK/node
VOL=6f1b2c3d-0000-4000-8000-00000000abcd
head -c 64 /dev/urandom >"$N/volume.key"
node_enroll web "$VOL" "$N/volume.key"
bootgated_policy web 1 "$N/eventlog.bin"

# --- a nonce from A unlocks at B, and is used up for C --------------------------
NONCE=$(URL=$URL_A challenge)
quote "$NONCE"
unlock_body "$NONCE"
check "a nonce from replica A releases at replica B" 200 "$(URL=$URL_B api POST /v1/unlock "$WORK/unlock.json")"
SEQ_AB=$(jreply .audit_seq)
check "the release at B has its audit record" key_released "$(sql "SELECT action FROM audit WHERE seq = $SEQ_AB")"
check "replaying it at replica C is refused" 403 "$(URL=$URL_C api POST /v1/unlock "$WORK/unlock.json")"
check "  as a used nonce" nonce_reused "$(jreply .verdict)"
check "  and at A, where it was issued" nonce_reused "$(URL=$URL_A api POST /v1/unlock "$WORK/unlock.json" >/dev/null; jreply .verdict)"

# --- break-glass approved through A, used through C -----------------------------
eventlog_append "$N/eventlog.bin" "$N/eventlog-new.bin" "4:0x80000003:new kernel"
check "a boot outside the policy is denied at A" policy_denied \
    "$(URL=$URL_A EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"
CODE=$(jreply .breakglass_code)
check "break-glass request through A" 200 "$(URL=$URL_A breakglass_request "$CODE" observed 1 600)"
GRANT=$(jreply .id)
check "first approval through A" 200 "$(URL=$URL_A breakglass_approve "$GRANT" "$SRV/approver1.key")"
check "second approval through A" 200 "$(URL=$URL_A breakglass_approve "$GRANT" "$SRV/approver2.key")"
check "  the grant is active" active "$(jreply .state)"
check "the grant is used through C" 200 "$(URL=$URL_C EVENTLOG=$N/eventlog-new.bin try_unlock)"
check "  as break-glass" breakglass "$(jreply .policy.mode)"
check "its one use is gone at B as well" policy_denied \
    "$(URL=$URL_B EVENTLOG=$N/eventlog-new.bin try_unlock >/dev/null; jreply .verdict)"

# --- concurrent writers on every replica: one strict chain ----------------------
# Quotes are made first (one TPM), the requests then race: releases (policy v2
# allows the new kernel), denials (the old log does not replay to the quoted
# PCRs: an evidence failure, audited) and replays, round robin over A, B, C.
URL=$URL_B bootgated_policy web 2 "$N/eventlog-new.bin"
urls=("$URL_A" "$URL_B" "$URL_C")
K=12
for i in $(seq "$K"); do
    n=$(URL=${urls[i % 3]} challenge)
    quote "$n"
    EVENTLOG=$N/eventlog-new.bin unlock_body "$n"
    mv "$WORK/unlock.json" "$WORK/ok-$i.json"
    n=$(URL=${urls[(i + 1) % 3]} challenge)
    quote "$n"
    EVENTLOG=$N/eventlog.bin unlock_body "$n"
    mv "$WORK/unlock.json" "$WORK/deny-$i.json"
done
post() { # URL BODY OUT -> the HTTP status in OUT.status
    curl -sS -o "$3" -w '%{http_code}\n' --cacert "$SRV/ca.crt" -H 'Content-Type: application/json' \
        --data-binary "@$2" "$1/v1/unlock" >"$3.status" 2>/dev/null || echo curl-failed >"$3.status"
}
BEFORE=$(sql "SELECT max(seq) FROM audit")
START=$(date +%s%N)
posts=()
for i in $(seq "$K"); do
    post "${urls[i % 3]}" "$WORK/ok-$i.json" "$WORK/ok-$i.out" &
    posts+=($!)
    post "${urls[(i + 2) % 3]}" "$WORK/deny-$i.json" "$WORK/deny-$i.out" &
    posts+=($!)
done
wait "${posts[@]}"
posts=()
for i in $(seq "$K"); do
    # the same bodies again at the next replica: every one is a replay now
    post "${urls[(i + 1) % 3]}" "$WORK/ok-$i.json" "$WORK/replay-$i.out" &
    posts+=($!)
done
wait "${posts[@]}"
MS=$((($(date +%s%N) - START) / 1000000))
log "$((3 * K)) concurrent unlock requests in $MS ms"
check "all $K concurrent releases answered 200" "$K" "$(cat "$WORK"/ok-*.out.status | grep -c '^200$')"
check "all $K concurrent denials answered 403" "$K" "$(cat "$WORK"/deny-*.out.status | grep -c '^403$')"
check "all $K replays were refused as used nonces" "$K" \
    "$(cat "$WORK"/replay-*.out | jq -r .verdict | grep -c '^nonce_reused$')"
SEQS=$(jq -r .audit_seq "$WORK"/ok-*.out | sort -n | uniq | wc -l)
check "the releases name $K distinct audit records" "$K" "$SEQS"
check "each of them is a key_released record" "$K" "$(sql "SELECT count(*) FROM audit WHERE action = 'key_released' AND seq IN ($(jq -r .audit_seq "$WORK"/ok-*.out | paste -sd,))")"
check "the race added one record per request ($((3 * K)))" "$((3 * K))" \
    "$(sql "SELECT count(*) FROM audit WHERE seq > $BEFORE AND action IN ('key_released', 'unlock_denied')")"
check "audit seqs are 1..N: no gap, no duplicate" "yes" \
    "$(sql "SELECT CASE WHEN min(seq) = 1 AND max(seq) = count(*) AND count(DISTINCT seq) = count(*) THEN 'yes' ELSE 'no' END FROM audit")"
check "no fork: every prev_hash is the hash of the record before" 0 \
    "$(sql "SELECT count(*) FROM audit a JOIN audit p ON p.seq = a.seq - 1 WHERE a.prev_hash <> p.hash")"
check_ok "bootgatectl audit verify through replica B" \
    env BOOTGATE_ADMIN_SERVER="$URL_B" "$BOOTGATECTL" audit verify
check_ok "bootgatectl audit verify --db on the store itself" "$BOOTGATECTL" audit verify --db "$AUDIT_DB"

if [ "$STORE" != postgresql ]; then
    finish
    exit 0
fi

# --- replica B dies under load: bootgate-unlock clients fail over ---------------
# Three nodes, each its own swtpm and LUKS2 image, enrolled with the servers
# B, C, A (in that order: B is everyone's first choice), unlock --verify-only
# in loops; B gets SIGKILL while they run.
CLIENTS=3 ROUNDS=6
for i in $(seq "$CLIENTS"); do
    start_swtpm "c$i"
    eval "TCTI_$i=\$TCTI"
    eventlog_boot "$WORK/c$i.ev" "${EVENTS[@]}"
    make_luks "$WORK/c$i.img" "$WORK/c$i.vk" "$WORK/c$i.pass"
    "$BOOTGATE_UNLOCK" --config /dev/null --tcti "$TCTI" --set ca="$SRV/ca.crt" enroll \
        --server "$URL_B" --server "$URL_C" --server "$URL_A" --ca "$SRV/ca.crt" --group fleet \
        --client-cert "$SRV/enroller.crt" --client-key "$SRV/enroller.key" --key-file "$WORK/c$i.pass" \
        "$WORK/c$i.img" >"$WORK/c$i.enroll" 2>&1 || die "enroll c$i: $(cat "$WORK/c$i.enroll")"
    "$BOOTGATECTL" node approve "$(awk '/^node_id/{print $2}' "$WORK/c$i.enroll")" \
        --ek-fingerprint "$(awk '/^ek_fingerprint/{print $2}' "$WORK/c$i.enroll")" >/dev/null ||
        die "node approve c$i"
done
check "the token lists the three replicas in the order given" "[\"$URL_B\",\"$URL_C\",\"$URL_A\"]" \
    "$(cryptsetup token export --token-id 0 "$WORK/c1.img" | jq -c .servers)"
check "  and names the first as \"server\" for older clients" "$URL_B" \
    "$(cryptsetup token export --token-id 0 "$WORK/c1.img" | jq -r .server)"
bootgated_policy fleet 1 "$WORK/c1.ev" --pcrs 0-9,11
client() { # I ROUND ARGS...: one boot of node I
    local i=$1 r=$2 tcti
    shift 2
    eval "tcti=\$TCTI_$i"
    "$BOOTGATE_UNLOCK" --config /dev/null --tcti "$tcti" --set ca="$SRV/ca.crt" \
        --set event_log="$WORK/c$i.ev" --set ima_log= --set poll_interval=1 \
        --set backoff_initial_ms=100 --set backoff_max_ms=500 --timeout 60 "$@" --verify-only \
        "$WORK/c$i.img" >"$WORK/c$i-$r.out" 2>&1
}
client_loop() { # I: ROUNDS boots, each must unlock
    local r
    for r in $(seq "$ROUNDS"); do
        if client "$1" "$r"; then
            grep -o 'audit #[0-9]*' "$WORK/c$1-$r.out" | tr -dc '0-9\n' >>"$WORK/seen-$1"
        else
            echo "c$1 round $r: $(tail -2 "$WORK/c$1-$r.out")" >>"$WORK/client-failures"
        fi
    done
}
loops=()
for i in $(seq "$CLIENTS"); do
    client_loop "$i" &
    loops+=($!)
done
# B dies once every client has booted twice: the later boots all start at B
for _ in $(seq 600); do
    done_all=1
    for i in $(seq "$CLIENTS"); do
        [ "$(cat "$WORK/seen-$i" 2>/dev/null | grep -c .)" -ge 2 ] || done_all=0
    done
    [ "$done_all" = 1 ] && break
    sleep 0.1
done
kill -KILL "${REPLICA_PID[b]}"
wait "${REPLICA_PID[b]}" 2>/dev/null || true
wait "${loops[@]}"
check "replica B is gone" dead "$(kill -0 "${REPLICA_PID[b]}" 2>/dev/null && echo alive || echo dead)"
check "every boot of every client unlocked ($((CLIENTS * ROUNDS)))" "" "$(cat "$WORK/client-failures" 2>/dev/null)"
check "the clients failed over from B" yes \
    "$(grep -lq "failed over from $URL_B" "$WORK"/c*-*.out && echo yes || echo no)"
cat "$WORK"/seen-* >"$WORK/seen"
check "the clients saw $((CLIENTS * ROUNDS)) releases" "$((CLIENTS * ROUNDS))" "$(grep -c . "$WORK/seen")"
check "  with distinct audit records" "$((CLIENTS * ROUNDS))" "$(sort -u "$WORK/seen" | grep -c .)"
check "  each one a key_released record" "$((CLIENTS * ROUNDS))" \
    "$(sql "SELECT count(*) FROM audit WHERE action = 'key_released' AND seq IN ($(paste -sd, "$WORK/seen"))")"
check "after the kill: seqs still 1..N, no gap, no duplicate" "yes" \
    "$(sql "SELECT CASE WHEN min(seq) = 1 AND max(seq) = count(*) AND count(DISTINCT seq) = count(*) THEN 'yes' ELSE 'no' END FROM audit")"
check_ok "after the kill: bootgatectl audit verify through replica C" \
    env BOOTGATE_ADMIN_SERVER="$URL_C" "$BOOTGATECTL" audit verify

# a replica that hangs (SIGSTOP: it accepts connections, answers nothing)
# costs one request timeout, then the next one answers; the server list from
# unlock.conf (server = URL,URL) overrides the token's
start_replica d
kill -STOP "${REPLICA_PID[d]}"
START=$(date +%s%N)
check_ok "a hung first replica: the boot unlocks at the next" \
    client 2 hung --set server="${REPLICA_URL[d]},$URL_C" --set request_timeout=2 --set connect_timeout=1
MS=$((($(date +%s%N) - START) / 1000000))
check "  after failing over from it" 1 "$(grep -c "failed over from ${REPLICA_URL[d]}" "$WORK/c2-hung.out")"
check "  within one timeout and one more boot (${MS} ms < 6000)" yes \
    "$([ "$MS" -lt 6000 ] && echo yes || echo no)"
kill -KILL "${REPLICA_PID[d]}"

# a token written before the list (one "server") still unlocks
cryptsetup token export --token-id 0 "$WORK/c1.img" | jq --arg u "$URL_A" '.server = $u | del(.servers)' \
    >"$WORK/old-token.json"
cryptsetup token remove --token-id 0 "$WORK/c1.img"
cryptsetup token import --json-file "$WORK/old-token.json" "$WORK/c1.img"
check_ok "a token with one \"server\" and no list still unlocks" client 1 old

finish
