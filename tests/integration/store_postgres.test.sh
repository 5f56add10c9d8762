#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The PostgreSQL store (issue 12) on Debian's PostgreSQL, started here: the
# store unit test (tests/unit/test_store.c) against it; bootgatectl db
# status|migrate; bootgated --check connects and checks the schema version
# (and refuses a newer one); TLS with sslmode=verify-full against a server
# certificate made here (and refused with another CA or host name).
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/postgres.sh
. "$TESTLIB/postgres.sh"
TEST_STORE=${BOOTGATE_BUILDDIR:?}/tests/test_store
[ -x "$TEST_STORE" ] || die "test_store not built"

pg_start unit
check_ok "test_store passes on PostgreSQL" env BOOTGATE_TEST_STORE_URL="$PG_URL" "$TEST_STORE"

# --- bootgatectl db on an empty database ----------------------------------------
createdb() { _pg_as "$PG_BIN/createdb" -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$1"; }
createdb fresh
FRESH="postgresql:///fresh?host=$PG_SOCK&port=$PG_PORT&user=postgres"
check "db status of an empty database: needs a migration (exit 1)" "1 needs-migration 0" \
    "$("$BOOTGATECTL" db status --store "$FRESH" --json >"$WORK/st.json"; echo "$? $(jq -r '"\(.state) \(.schema_version)"' "$WORK/st.json")")"
LATEST=$(jq .latest "$WORK/st.json")
check "db migrate" "migrated schema 0 -> $LATEST" "$("$BOOTGATECTL" db migrate --store "$FRESH")"
check "db migrate again: nothing to do" "schema $LATEST is current; nothing to do" "$("$BOOTGATECTL" db migrate --store "$FRESH")"
check "db status: current (exit 0)" "0 postgresql current" \
    "$("$BOOTGATECTL" db status --store "$FRESH" --json >"$WORK/st.json"; echo "$? $(jq -r '"\(.backend) \(.state)"' "$WORK/st.json")")"
check "the audit log refuses UPDATE" 1 \
    "$(PG_DB=fresh pg_sql "INSERT INTO audit VALUES (1,'t','a','b','','{}','','')" >/dev/null; PG_DB=fresh pg_sql "UPDATE audit SET actor = 'x'" >/dev/null 2>&1 && echo 0 || echo 1)"
check "  and TRUNCATE" 1 "$(PG_DB=fresh pg_sql "TRUNCATE audit" >/dev/null 2>&1 && echo 0 || echo 1)"

# --- bootgated --check -----------------------------------------------------------
bootgated_init
createdb srv
bootgated_use_store "postgresql:///srv?host=$PG_SOCK&port=$PG_PORT&user=postgres"
check "bootgated --check on an empty database: it migrates at start" 1 \
    "$("$BOOTGATED" -c "$SRV/bootgated.conf" --check 2>&1 | grep -c "store postgresql: schema 0 (bootgated migrates it at start)")"
check "  and --check itself changed nothing" 0 "$(PG_DB=srv pg_sql "SELECT count(*) FROM pg_tables WHERE tablename = 'audit'")"
start_bootgated
check "bootgated migrated and wrote its first record" server_start \
    "$(PG_DB=srv pg_sql "SELECT action FROM audit ORDER BY seq LIMIT 1")"
stop_bootgated
check "bootgated --check: current" 1 \
    "$("$BOOTGATED" -c "$SRV/bootgated.conf" --check 2>&1 | grep -c "schema $LATEST (current)")"
PG_DB=srv pg_sql "INSERT INTO schema_version VALUES (99)" >/dev/null
check "bootgated --check refuses a newer schema (exit 1)" 1 \
    "$("$BOOTGATED" -c "$SRV/bootgated.conf" --check >"$WORK/check.out" 2>&1; echo $?)"
check "  naming it" 1 "$(grep -c 'database schema 99 is newer than this bootgated' "$WORK/check.out")"
check "bootgated does not start on it" 1 "$("$BOOTGATED" -c "$SRV/bootgated.conf" >/dev/null 2>&1; echo $?)"
PG_DB=srv pg_sql "DELETE FROM schema_version WHERE version = 99" >/dev/null
check "bootgated --check: a server that is not there (exit 1)" 1 \
    "$(sed -i 's|^store = .*|store = postgresql://127.0.0.1:1/x?connect_timeout=3|' "$SRV/bootgated.conf"
       "$BOOTGATED" -c "$SRV/bootgated.conf" --check >"$WORK/check.out" 2>&1; echo $?)"
check "  naming the connection" 1 "$(grep -c 'postgresql: cannot connect' "$WORK/check.out")"

# --- TLS: sslmode=verify-full with the test's own CA -------------------------------
pg_enable_tls "$WORK/pgtls"
TLS_URL="postgresql://postgres@localhost:$PG_PORT/srv?sslmode=verify-full&sslrootcert=$PG_TLS_CA"
bootgated_use_store "$TLS_URL"
check "bootgated --check over TLS (verify-full)" 0 "$("$BOOTGATED" -c "$SRV/bootgated.conf" --check >"$WORK/check.out" 2>&1; echo $?)"
start_bootgated
check "bootgated serves over a TLS store" 200 "$(api GET /v1/admin/audit '' auditor)"
check "  its connection is TLS" t "$(PG_DB=srv pg_sql "SELECT bool_and(ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = 'srv' AND a.client_addr IS NOT NULL")"
stop_bootgated
check "without TLS the server refuses the connection" 1 \
    "$("$BOOTGATECTL" db status --store "postgresql://postgres@localhost:$PG_PORT/srv?sslmode=disable" >/dev/null 2>&1; [ $? = 3 ] && echo 1 || echo 0)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other \
    -keyout "$WORK/other.key" -out "$WORK/other.crt" 2>/dev/null
check "verify-full with another CA is refused" 3 \
    "$("$BOOTGATECTL" db status --store "${TLS_URL/sslrootcert=*/sslrootcert=$WORK/other.crt}" >/dev/null 2>"$WORK/err"; echo $?)"
check "  naming the certificate" yes "$(grep -qi 'certificate' "$WORK/err" && echo yes || echo no)"
check "verify-full with a host name the certificate lacks is refused" 3 \
    "$("$BOOTGATECTL" db status --store "${TLS_URL/localhost/wrong.example}&hostaddr=127.0.0.1" >/dev/null 2>"$WORK/err"; echo $?)"
check "  naming the host name" 1 "$(grep -c 'does not match host name' "$WORK/err")"
finish
