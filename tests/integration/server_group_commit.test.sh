#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Group commit (issue 12, point 3): a transaction commits under the store
# lock without waiting for its log to reach the disk, then waits outside the
# lock until one sync covers its commit (SQLite: an fdatasync of the WAL;
# PostgreSQL: a synchronous commit of a barrier row on a second connection);
# concurrent releases share that sync. Counted by bootgate_store_fsyncs_total. One boot at a time: one
# fsync per release (nothing to share, and none skipped). Many at once on 8
# workers: fewer fsyncs than releases. Either way every release the clients
# saw has its key_released record (a key leaves only after its record is
# committed and synced) and the chain verifies. bench/loadgen's software TPM
# drives the boots (swtpm: one quote in ~50 ms).
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
LOADGEN=${BOOTGATE_BUILDDIR:?}/bench/loadgen
[ -x "$LOADGEN" ] || die "bench/loadgen not built"
command -v sqlite3 >/dev/null || die "missing sqlite3"

bootgated_init
SRV_EXTRA_CONF='workers = 8'
sed -i '/^workers = /d' "$SRV/bootgated.conf"
start_bootgated
LOG=$BOOTGATE_SRCDIR/tests/data/captures/ovmf-uki/eventlog.bin
bootgated_policy web 1 "$LOG" --pcrs 0-9,11
metric() { curl -sf --cacert "$SRV/ca.crt" "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
released() { sql "SELECT count(*) FROM audit WHERE action = 'key_released'"; }
sql() { sqlite3 "$SRV/bootgate.db" "$1"; }

# run NAME CONCURRENCY BOOTS: the boots' fsyncs and releases
run() {
    local f0 r0
    f0=$(metric bootgate_store_fsyncs_total) r0=$(released)
    "$LOADGEN" --url "$URL" --srv "$SRV" --eventlog "$LOG" --nodes "$2" --concurrency "$2" \
        --boots "$3" --duration 300 --warmup 0 --floor-rounds 0 >"$WORK/$1.out" 2>&1 ||
        fail "loadgen $1: $(tail -3 "$WORK/$1.out")"
    FSYNCS=$(($(metric bootgate_store_fsyncs_total) - f0))
    RELEASES=$(($(released) - r0))
    OK=$(sed -n 's/^bootgate: \([0-9]*\) ok .*/\1/p' "$WORK/$1.out")
    log "$1: $RELEASES releases, $FSYNCS fsyncs (enrollment of $2 nodes included)"
}

run serial 1 40
check "one at a time: every boot released" 40 "$OK"
check "  each with its key_released record" 40 "$RELEASES"
# the enrollment (node, activation, approval) commits too: at least one
# fsync per release, none shared
check_ok "  at least one fsync per release ($FSYNCS for $RELEASES)" test "$FSYNCS" -ge "$RELEASES"

run concurrent 16 600
check "16 at once: every boot released" 600 "$OK"
check "  each with its key_released record" 600 "$RELEASES"
check_ok "  concurrent releases share fsyncs ($FSYNCS for $RELEASES, enrollment included)" \
    test "$FSYNCS" -lt "$RELEASES"
echo "group-commit: SQLite, concurrency 16, 8 workers: $FSYNCS fsyncs for $RELEASES releases"
check "the audit chain verifies" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"

# --- PostgreSQL: the same on one replica (skipped where PostgreSQL is absent) ---
# shellcheck source=../lib/postgres.sh
. "$TESTLIB/postgres.sh"
if pg_available; then
    stop_bootgated
    pg_start
    bootgated_use_store "$PG_URL"
    sql() { pg_sql "$1"; }
    start_bootgated
    bootgated_policy web 1 "$LOG" --pcrs 0-9,11
    run pg-concurrent 16 600
    check "PostgreSQL, 16 at once: every boot released" 600 "$OK"
    check "  each with its key_released record" 600 "$RELEASES"
    check_ok "  concurrent releases share flushes ($FSYNCS for $RELEASES, enrollment included)" \
        test "$FSYNCS" -lt "$RELEASES"
    echo "group-commit: PostgreSQL, concurrency 16, 8 workers: $FSYNCS flushes for $RELEASES releases"
    check "  the audit chain verifies" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
    # an immediate stop is a crash: every release the clients saw was flushed
    pg_stop
    pg_restart
    check "  a database crash loses no released key's record" 600 "$(released)"
else
    log "PostgreSQL binaries absent: the PostgreSQL half is not run"
fi
finish
