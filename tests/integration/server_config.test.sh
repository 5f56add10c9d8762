#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgated.conf through the real binary: store = URL and its alias db, and
# the messages and exit code of a bad configuration (src/lib/conf.c).
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

C=$WORK/chk
"$BOOTGATECTL" init-server --port 0 "$C" >/dev/null
bg_check() { "$BOOTGATED" -c "$1" --check >"$WORK/check.out" 2>&1; }

# store = sqlite:///abs/path: the database is opened there
sed "s|^db = .*|store = sqlite://$C/store.db|" "$C/bootgated.conf" >"$C/store.conf"
check "store = sqlite:///path is accepted" 0 "$(bg_check "$C/store.conf"; echo $?)"
check "... and the database is created at that path" 1 "$([ -s "$C/store.db" ] && echo 1 || echo 0)"

# db = PATH (init-server's spelling) still works
check "db = PATH is still accepted" 0 "$(bg_check "$C/bootgated.conf"; echo $?)"
check "... relative to the config file" 1 "$([ -s "$C/bootgate.db" ] && echo 1 || echo 0)"

cp "$C/bootgated.conf" "$C/both.conf"
echo "store = sqlite://$C/other.db" >>"$C/both.conf"
check "store and db both set: exit 1" 1 "$(bg_check "$C/both.conf"; echo $?)"
check "... saying so" 1 "$(grep -c 'store and db both set' "$WORK/check.out")"

sed "s|^db = .*|store = mysql://db.example/bootgate|" "$C/bootgated.conf" >"$C/my.conf"
check "another backend: exit 1" 1 "$(bg_check "$C/my.conf"; echo $?)"
check "... with file:line and the backends named" 1 \
    "$(grep -c "my.conf:[0-9]*: store: unsupported backend 'mysql' (this build has: sqlite, postgresql)" "$WORK/check.out")"

cp "$C/bootgated.conf" "$C/port.conf"
echo "port = 65536" >>"$C/port.conf"
check "a number out of range: exit 1" 1 "$(bg_check "$C/port.conf"; echo $?)"
check "... naming key, value and range" 1 \
    "$(grep -c "port.conf:[0-9]*: port: '65536' is not a number in 0..65535" "$WORK/check.out")"

# bootgatectl's admin.conf goes through the same parser
cp "$C/admin.conf" "$C/admin-bad.conf"
echo "sever = https://127.0.0.1:1" >>"$C/admin-bad.conf"
rc=0
env -u BOOTGATE_ADMIN_SERVER -u BOOTGATE_ADMIN_CONFIG "$BOOTGATECTL" node list \
    --admin-config "$C/admin-bad.conf" >"$WORK/ctl.out" 2>&1 || rc=$?
check "admin.conf with an unknown key: usage exit" 2 "$rc"
check "... naming file:line and the key" 1 \
    "$(grep -c "admin-bad.conf:[0-9]*: unknown key 'sever'" "$WORK/ctl.out")"

finish
