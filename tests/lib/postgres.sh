# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# A throwaway PostgreSQL from Debian's packages for the store tests (sourced
# by the tests that need it, after harness.sh). initdb/pg_ctl run as user
# postgres (runuser) when the test runs as root, else as the test user; the
# cluster lives in its own temporary directory (the postgres user cannot
# enter $WORK), listens on a Unix socket there and on a free loopback port,
# and is stopped and removed at exit.
#
#   PG_BIN                    /usr/lib/postgresql/15/bin unless set
#   pg_available              0 when initdb and pg_ctl are there (else: skip 77)
#   pg_start [DB]             initdb + start; creates DB (default bootgate);
#                             sets PG_DIR, PG_SOCK, PG_PORT and PG_URL (a store URL
#                             over the socket: postgresql:///DB?host=SOCK&port=N&user=postgres)
#   pg_enable_tls CA_DIR      a CA and a server certificate (CN/SAN localhost) made
#                             here, ssl=on, TCP only with TLS; sets PG_TLS_CA and
#                             PG_TLS_URL (postgresql://postgres@localhost:N/DB with
#                             sslmode=verify-full&sslrootcert=CA)
#   pg_sql SQL                psql -At on the database (prints the rows)
#   pg_stop                   stops the server (at exit anyway; -m immediate: a crash)
#   pg_restart                starts the stopped server again (same data, port, socket)

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DB=bootgate

pg_available() { [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] && [ -x "$PG_BIN/postgres" ]; }

_pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
    PG_DB=${1:-bootgate}
    pg_available || skip "PostgreSQL server binaries not in $PG_BIN"
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bootgate-pg.XXXXXX")
    on_exit pg_cleanup
    [ "$(id -u)" != 0 ] || chown postgres: "$PG_DIR"
    PG_SOCK=$PG_DIR
    PG_PORT=$(free_port)
    _pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$PG_DIR/initdb.log" 2>&1 || die "initdb: $(tail -3 "$PG_DIR/initdb.log")"
    cat >>"$PG_DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 60
shared_buffers = 16MB
CONF
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 start >/dev/null ||
        die "pg_ctl start: $(tail -5 "$PG_DIR/server.log")"
    _pg_as "$PG_BIN/createdb" -h "$PG_SOCK" -p "$PG_PORT" -U postgres "$PG_DB" ||
        die "createdb $PG_DB"
    PG_URL="postgresql:///$PG_DB?host=$PG_SOCK&port=$PG_PORT&user=postgres"
}

pg_sql() {
    "$PG_BIN/psql" -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d "$PG_DB" -At -v ON_ERROR_STOP=1 -c "$1"
}

pg_enable_tls() {
    local d=$1 data=$PG_DIR/data
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=bootgate test PostgreSQL CA" -keyout "$d/pg-ca.key" -out "$d/pg-ca.crt" \
        >/dev/null 2>&1 || die "PostgreSQL CA"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$data/server.key" -out "$d/pg-server.csr" >/dev/null 2>&1 || die "PostgreSQL CSR"
    openssl x509 -req -in "$d/pg-server.csr" -CA "$d/pg-ca.crt" -CAkey "$d/pg-ca.key" \
        -CAcreateserial -days 2 -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n') \
        -out "$data/server.crt" >/dev/null 2>&1 || die "PostgreSQL server certificate"
    chmod 600 "$data/server.key"
    [ "$(id -u)" != 0 ] || chown postgres: "$data/server.key" "$data/server.crt"
    echo "ssl = on" >>"$data/postgresql.conf"
    # TCP only with TLS; the socket stays for the test's own psql
    cat >"$data/pg_hba.conf" <<HBA
local   all all           trust
hostssl all all 127.0.0.1/32 trust
hostnossl all all 0.0.0.0/0 reject
HBA
    _pg_as "$PG_BIN/pg_ctl" -D "$data" -l "$PG_DIR/server.log" -w -t 30 restart >/dev/null ||
        die "pg_ctl restart with TLS: $(tail -5 "$PG_DIR/server.log")"
    PG_TLS_CA=$d/pg-ca.crt
    PG_TLS_URL="postgresql://postgres@localhost:$PG_PORT/$PG_DB?sslmode=verify-full&sslrootcert=$PG_TLS_CA"
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] && [ -e "$PG_DIR/data/postmaster.pid" ] || return 0
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
}

pg_restart() {
    _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 start >/dev/null ||
        die "pg_ctl start: $(tail -5 "$PG_DIR/server.log")"
}

pg_cleanup() {
    pg_stop
    if [ -n "${KEEP_WORK:-}" ]; then echo "PostgreSQL dir kept: $PG_DIR" >&2; else rm -rf "$PG_DIR"; fi
}
