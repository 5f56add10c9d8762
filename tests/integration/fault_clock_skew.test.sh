#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Clock skew between replicas (issue 13, fault suite). Replica A keeps the
# host's time, replica B runs 15 minutes ahead (libfaketime), both on one
# PostgreSQL database. Asserted: a nonce from A is expired at B and a nonce
# from B is refused at A, each with a clear reason and an audit record, never
# released; B's clock cannot move the shared used-nonce horizon, so a nonce
# used at A stays used (no replay after B purged); once B's clock is right
# again, nonces cross between the replicas at once; the chain verifies.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/postgres.sh
. "$TESTLIB/postgres.sh"
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -e "$FAKETIME_LIB" ] || { echo "missing libfaketime (package faketime)"; exit 1; }
for t in swtpm tpm2_quote jq; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done

bootgated_init
SRV_EXTRA_CONF="denial_audit_burst = 100000
denial_audit_global_per_minute = 1000000"
pg_start
bootgated_use_store "$PG_URL"
start_bootgated
URL_A=$URL
# B: the same configuration, its clock 15 minutes ahead (monotonic clocks stay
# real); in a sanitizer build ASan must accept a library preloaded before it
skewed_replica() {
    LD_PRELOAD=$FAKETIME_LIB FAKETIME="${1}" FAKETIME_DONT_FAKE_MONOTONIC=1 \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" start_replica b
}
skewed_replica +15m
URL_B=${REPLICA_URL[b]}
check "replica B's clock really runs ahead" 1 "$(
    LD_PRELOAD=$FAKETIME_LIB FAKETIME=+15m date +%s | awk -v now="$(date +%s)" '{print ($1 - now > 800) ? 1 : 0}')"

start_swtpm
make_node_keys
node_boot
VOL=6f1b2c3d-0000-4000-8000-00000000abcd
node_enroll web
bootgated_policy web 1 "$WORK/node/eventlog.bin"
denials() { pg_sql "SELECT count(*) FROM audit WHERE action = 'unlock_denied' AND details LIKE '%$1%'"; }
released() { pg_sql "SELECT count(*) FROM audit WHERE action = 'key_released'"; }

check "A's nonce at A: released" 200 "$(URL=$URL_A try_unlock)"

# --- a nonce from A at B (B ahead): expired there -----------------------------------
before=$(denials nonce_expired)
NONCE=$(URL=$URL_A challenge)
quote "$NONCE"
unlock_body "$NONCE"
check "A's nonce at B (15 min ahead): refused" 403 "$(URL=$URL_B api POST /v1/unlock "$WORK/unlock.json")"
check "  as nonce_expired" nonce_expired "$(jreply .verdict)"
check "  with an audit record" $((before + 1)) "$(denials nonce_expired)"
check "  no wrapped key" null "$(jreply .wrapped_key)"

# --- a nonce from B at A: it would live 15 minutes too long there ------------------
NONCE=$(URL=$URL_B challenge)
quote "$NONCE"
unlock_body "$NONCE"
rel=$(released)
check "B's nonce at A: refused" 403 "$(URL=$URL_A api POST /v1/unlock "$WORK/unlock.json")"
check "  as nonce_expired" nonce_expired "$(jreply .verdict)"
check "  the explanation names the clocks" 1 "$(jreply '.explanation[]' | grep -c "clock is ahead")"
check "  nothing released" "$rel" "$(released)"
check "B's own nonce at B: released (its own clock)" 200 "$(URL=$URL_B api POST /v1/unlock "$WORK/unlock.json")"

# --- B's clock cannot make a used nonce usable again at A ---------------------------
NONCE=$(URL=$URL_A challenge)
quote "$NONCE"
unlock_body "$NONCE"
cp "$WORK/unlock.json" "$WORK/used.json"
check "a nonce from A used at A" 200 "$(URL=$URL_A api POST /v1/unlock "$WORK/used.json")"
# B purges on its next use (one advance a second)
sleep 1.1
check "B serves another unlock meanwhile" 200 "$(URL=$URL_B try_unlock)"
check "the horizon stays behind the database's clock" 1 \
    "$(pg_sql "SELECT (cutoff <= extract(epoch from now())::bigint - 300)::int FROM nonce_horizon")"
rel=$(released)
check "the used nonce replayed at A: refused" 403 "$(URL=$URL_A api POST /v1/unlock "$WORK/used.json")"
check "  as nonce_reused (its row was not purged)" nonce_reused "$(jreply .verdict)"
check "  nothing released" "$rel" "$(released)"

# --- the fault ends: B's clock is right again ------------------------------------------
stop_pid "${REPLICA_PID[b]}"
start_replica b
URL_B=${REPLICA_URL[b]}
NONCE=$(URL=$URL_A challenge)
quote "$NONCE"
unlock_body "$NONCE"
check "clocks agree again: A's nonce releases at B" 200 "$(URL=$URL_B api POST /v1/unlock "$WORK/unlock.json")"
NONCE=$(URL=$URL_B challenge)
quote "$NONCE"
unlock_body "$NONCE"
check "  and B's at A" 200 "$(URL=$URL_A api POST /v1/unlock "$WORK/unlock.json")"

check "audit verify passes" 0 "$(URL=$URL_A "$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
finish
