#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Faults of the database under a running bootgated (issue 13, fault suite),
# with the SQLite file on its own small ext4 file system (a loop mount):
#   locked     another process holds the write lock longer than the busy timeout
#   disk full  the file system has no free block left
#   gone       the database file is moved away (and back)
#   read-only  the file system turns read-only on an error (errors=remount-ro)
# For each: every unlock answers 200 with its audit record committed or 503
# with a clear reason and nothing released; the log names the cause; once the
# fault ends the same node unlocks, and `audit verify` passes.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_quote sqlite3 python3 mkfs.ext4 e2fsck; do
    command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }
done
[ "$(id -u)" = 0 ] || skip "needs root for a loop-mounted file system"

FS=$WORK/fs
truncate -s 24M "$WORK/fs.img"
mkfs.ext4 -q -m 0 "$WORK/fs.img"
mkdir -p "$FS"
mount -o loop,errors=remount-ro "$WORK/fs.img" "$FS" 2>"$WORK/mount.err" ||
    skip "cannot loop-mount a file system here: $(cat "$WORK/mount.err")"
on_exit "umount -l '$FS' 2>/dev/null || true"
DB=$FS/bootgate.db

bootgated_init
sed -i "s|^db = .*|db = $DB|" "$SRV/bootgated.conf"
start_swtpm
start_bootgated
node_setup web
sql() { sqlite3 -readonly -cmd '.timeout 10000' "$DB" "$@"; } # never creates the file
released() { sql "SELECT count(*) FROM audit WHERE action = 'key_released'"; }
log_has() { grep -c -- "$1" "$WORK/bootgated.log" || true; }

check "before any fault: released" 200 "$(try_unlock)"
check "  one key_released record" 1 "$(released)"

# try_unlock under a fault: 503, no key, a reason (and no record, unless
# NO_COUNT: the database is not where it was)
unlock_refused() {
    local name=$1 before status
    [ -n "${NO_COUNT:-}" ] || before=$(released)
    status=$(try_unlock)
    check "$name: 503" 503 "$status"
    check "$name: error unavailable" unavailable "$(jreply .error)"
    check "$name: no wrapped key in the answer" null "$(jreply .wrapped_key)"
    [ -n "${NO_COUNT:-}" ] || check "$name: no key_released record" "$before" "$(released)"
}

# --- locked: a writer holds the lock for longer than the 5 s busy timeout -----
python3 - "$DB" "$WORK/locked" <<'PY' &
import sqlite3, sys, time, os
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(9)
c.execute("ROLLBACK")
os.unlink(sys.argv[2])
PY
LOCKER=$!
for _ in $(seq 50); do [ -e "$WORK/locked" ] && break; sleep 0.1; done
unlock_refused "database locked"
check "database locked: the log names it" 1 "$(log_has 'store unavailable.*database is locked' | grep -c '^[1-9]')"
check "database locked: /readyz still answers (reads work in WAL)" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" "$URL/readyz")"
wait "$LOCKER"
check "after the lock is released: released" 200 "$(try_unlock)"

# --- disk full -----------------------------------------------------------------
# Until the first 503: the WAL may still have room for a few commits, each of
# which must then be complete. Every 200 has its record, every 503 none.
dd if=/dev/zero of="$FS/fill" bs=64k 2>/dev/null || true
sync
n_ok=0 n_full=0
for i in $(seq 60); do
    before=$(released)
    status=$(try_unlock)
    case $status in
    200) n_ok=$((n_ok + 1))
         [ "$(released)" = $((before + 1)) ] || fail "disk full: release $i answered 200 without its record" ;;
    503) n_full=$((n_full + 1))
         [ "$(jreply .wrapped_key)" = null ] || fail "disk full: a 503 carried a key"
         [ "$(released)" = "$before" ] || fail "disk full: a 503 left a key_released record"
         break ;;
    *) fail "disk full: unlock $i answered $status: $(cat "$WORK/reply")"; break ;;
    esac
done
log "disk full: $n_ok releases fitted in the WAL, then 503"
check "disk full: unlocks are refused once nothing fits" 1 "$n_full"
check "disk full: the log names it" 1 "$(log_has 'store unavailable.*full' | grep -c '^[1-9]')"
unlock_refused "disk full, again"
rm -f "$FS/fill"
sync
check "after space is freed: released" 200 "$(try_unlock)"

# --- gone: the file is moved away, then back ----------------------------------
rows=$(sql "SELECT count(*) FROM audit")
mv "$DB" "$DB.moved"
NO_COUNT=1 unlock_refused "database file gone"
check "database file gone: the log names the file" 1 \
    "$(log_has "store unavailable.*$DB was removed or replaced" | grep -c '^[1-9]')"
check "database file gone: /readyz says not ready" 503 \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" "$URL/readyz")"
mv "$DB.moved" "$DB"
check "database file gone: nothing was written to it meanwhile" "$rows" "$(sql "SELECT count(*) FROM audit")"
check "after the file is back: released" 200 "$(try_unlock)"
check "  /readyz ready again" 200 "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$SRV/ca.crt" "$URL/readyz")"
# a copy put in its place (a restore under a running server) is not written to
# either (its WAL stays the original's: only the main file is swapped)
rows=$(sql "SELECT count(*) FROM audit")
mv "$DB" "$FS/orig.db"
cp "$FS/orig.db" "$DB"
NO_COUNT=1 unlock_refused "database file replaced by a copy"
rm -f "$DB"
mv "$FS/orig.db" "$DB"
check "  nothing was written meanwhile" "$rows" "$(sql "SELECT count(*) FROM audit")"
check "after the original is back: released" 200 "$(try_unlock)"

# --- read-only: an ext4 error turns the file system read-only -------------------
before_ro=$(released)
dev=$(findmnt -no SOURCE "$FS")
echo "bootgate fault test" >"/sys/fs/ext4/${dev##*/}/trigger_fs_error" ||
    die "cannot trigger an ext4 error on $dev"
unlock_refused "file system read-only"
check "file system read-only: the log names an I/O or read-only error" 1 \
    "$(grep -cE 'store unavailable.*(I/O|readonly|read-only)' "$WORK/bootgated.log" | grep -c '^[1-9]')"
# the operator's repair: stop, check the file system, mount again, start
stop_bootgated
umount "$FS"
e2fsck -fy "$WORK/fs.img" >/dev/null 2>&1 || true
mount -o loop,errors=remount-ro "$WORK/fs.img" "$FS"
start_bootgated
check "after repair and restart: released" 200 "$(try_unlock)"
check "  the releases before the fault survived" $((before_ro + 1)) "$(released)"

# --- the log after all this --------------------------------------------------------
check "audit verify passes" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
check "every key_released record is in a contiguous chain" "$(sql "SELECT max(seq) FROM audit")" \
    "$(sql "SELECT count(*) FROM audit")"
lines=$(grep -c 'store unavailable' "$WORK/bootgated.log" || true)
check "store errors are rate-limited in the log (< 40 lines)" 1 "$([ "$lines" -lt 40 ] && echo 1 || echo 0)"
finish
