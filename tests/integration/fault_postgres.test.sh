#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PostgreSQL store goes away under two running replicas (issue 13, fault
# suite): the database server crashes (pg_ctl stop -m immediate) and comes
# back. While it is gone every unlock and admin change answers 503 with the
# store's reason in the log, nothing is released, /readyz says not ready; once
# it is back both replicas reconnect by themselves and release again, and the
# chain verifies with no record lost or doubled.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/postgres.sh
. "$TESTLIB/postgres.sh"
for t in swtpm tpm2_quote jq; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done

bootgated_init
pg_start
bootgated_use_store "$PG_URL"
start_bootgated
URL_A=$URL
start_replica b
URL_B=${REPLICA_URL[b]}
start_swtpm
node_setup web
released() { pg_sql "SELECT count(*) FROM audit WHERE action = 'key_released'"; }
ready() { curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" "$1/readyz"; }

check "before the fault: released at A" 200 "$(URL=$URL_A try_unlock)"
check "before the fault: released at B" 200 "$(URL=$URL_B try_unlock)"
before=$(released)

# --- the database server crashes -----------------------------------------------------
pg_stop
for u in "$URL_A" "$URL_B"; do
    check "database gone: unlock at ${u##*:} answers 503" 503 "$(URL=$u try_unlock)"
    check "  error unavailable" unavailable "$(jreply .error)"
    check "  no wrapped key" null "$(jreply .wrapped_key)"
    check "  /readyz says not ready" 503 "$(ready "$u")"
done
jq -n '{}' >"$WORK/empty.json"
check "database gone: a node revoke answers 503" 503 \
    "$(URL=$URL_A api POST "/v1/admin/nodes/$NODE_ID/revoke" "$WORK/empty.json" admin)"
check "the log names the store's failure" 1 \
    "$(cat "$WORK"/bootgated*.log | grep -c 'store unavailable.*postgresql' | grep -c '^[1-9]')"

# --- it comes back: the replicas reconnect by themselves ---------------------------------
pg_restart
check "nothing was released while it was gone" "$before" "$(released)"
check "the node was not revoked" 2 "$(pg_sql "SELECT state FROM nodes WHERE id = '$NODE_ID'")"
for u in "$URL_A" "$URL_B"; do
    ok=0
    for _ in 1 2 3; do # the first request may find its connection broken
        [ "$(URL=$u try_unlock)" = 200 ] && { ok=1; break; }
        sleep 0.5
    done
    check "database back: released at ${u##*:}" 1 "$ok"
    check "  /readyz ready" 200 "$(ready "$u")"
done
check "two more key_released records" $((before + 2)) "$(released)"
check "the chain has no gap" "$(pg_sql "SELECT max(seq) FROM audit")" "$(pg_sql "SELECT count(*) FROM audit")"
check "audit verify passes" 0 "$(URL=$URL_A "$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
finish
