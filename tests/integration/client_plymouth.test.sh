#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# In the initramfs (--initrd) bootgate-unlock's messages also go to the console
# and, when plymouth runs, to plymouth's splash: a denial's explanation and its
# break-glass code must reach both, since the splash hides the console. This
# runs Debian's real plymouthd (--debug logs every request it gets, with the
# text; it writes that log when it quits), with /dev/console replaced by a FIFO that the test reads, against the
# real bootgated + swtpm. Everything runs in private network and mount
# namespaces: plymouth's socket is an abstract one (per network namespace) and
# the bind mount over /dev/console must not touch the host.
set -euo pipefail
if [ -z "${BOOTGATE_IN_NS:-}" ]; then
    command -v plymouthd >/dev/null || { echo "FAIL: plymouthd missing (ci/deps.sh)" >&2; exit 1; }
    exec env BOOTGATE_IN_NS=1 unshare --net --mount --propagation private bash "$0" "$@"
fi
ip link set lo up
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

# /dev/console -> a FIFO; the reader holds a write end too, so it never sees EOF
# between the client's open/write/close of the console.
mkfifo "$WORK/console.fifo"
: >"$WORK/console.log"
mount --bind "$WORK/console.fifo" /dev/console
exec 3<>"$WORK/console.fifo"
cat <&3 >>"$WORK/console.log" &
PIDS+=($!)

plymouthd --no-daemon --debug --debug-file="$WORK/plymouth.log" --tty=/dev/null --mode=boot \
    --no-boot-log --pid-file="$WORK/plymouthd.pid" --kernel-command-line="splash" \
    2>"$WORK/plymouthd.err" &
PLY_PID=$!
PIDS+=("$PLY_PID")
for _ in $(seq 50); do plymouth --ping 2>/dev/null && break; sleep 0.1; done
plymouth --ping || fail "plymouthd did not come up: $(tail -3 "$WORK/plymouthd.err")"
plymouth show-splash

client_server_up
enroll web

# plymouthd logs each client's command line; the log is written when it quits,
# so the lines plymouth must have got are collected and checked at the end.
PLY_WANT=()
ply_got() { grep -aF -- "display-message --text=$1" "$WORK/plymouth.log" >/dev/null; }
console_wait() { # TEXT: the FIFO reader may lag the client by a moment
    for _ in $(seq 20); do grep -aqF -- "$1" "$WORK/console.log" && return 0; sleep 0.1; done
    return 1
}

# --- unlocked: the result line on the console and on the splash
cl --initrd --verify-only "$WORK/disk.img" >"$WORK/u.out" 2>&1 || fail "unlock: $(cat "$WORK/u.out")"
line=$(grep -m1 'released key verified' "$WORK/u.out") || fail "no result line: $(cat "$WORK/u.out")"
console_wait "$line" || fail "console lacks '$line': $(cat "$WORK/console.log")"
PLY_WANT+=("$line")
pass "--initrd, unlocked: '${line#bootgate-unlock: }' on the console"

# --- denied (PCR 9 moved): explanation and break-glass code on both
eventlog_append "$WORK/eventlog.bin" "$WORK/ev2.bin" 9:0xd:initrd-EVIL
cp "$WORK/ev2.bin" "$WORK/eventlog.bin"
set +e
cl --initrd --timeout 3 --verify-only "$WORK/disk.img" >"$WORK/d.out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || fail "PCR 9 moved: exit $rc, want 1: $(cat "$WORK/d.out")"
code=$(grep -Eom1 'BG-[A-Z0-9]{4}-[A-Z0-9]{4}' "$WORK/d.out") || fail "no break-glass code: $(cat "$WORK/d.out")"
pcr_line=$(grep -m1 -i 'pcr 9' "$WORK/d.out") || fail "denial does not name PCR 9: $(cat "$WORK/d.out")"
code_line=$(grep -m1 -F "$code" "$WORK/d.out")
for l in "$pcr_line" "$code_line"; do
    console_wait "$l" || fail "console lacks '$l': $(cat "$WORK/console.log")"
    PLY_WANT+=("$l")
done
pass "--initrd, denied: PCR 9 and $code on the console"

# --- without --initrd (and no /etc/initrd-release) nothing goes to either
if [ ! -e /etc/initrd-release ]; then
    n_console=$(wc -c <"$WORK/console.log")
    bootgated_policy web 2 "$WORK/eventlog.bin" --pcrs 0-9,11
    cl --verify-only "$WORK/disk.img" >"$WORK/n.out" 2>&1 || fail "policy v2 did not unlock"
    sleep 0.3
    [ "$(wc -c <"$WORK/console.log")" = "$n_console" ] || fail "console written without --initrd"
    NOT_WANT=$(grep -m1 'released key verified' "$WORK/n.out") # audit # differs from the first
fi

plymouth quit
wait "$PLY_PID" 2>/dev/null || true
[ -s "$WORK/plymouth.log" ] || fail "plymouthd wrote no debug log"
for l in "${PLY_WANT[@]}"; do
    ply_got "$l" || fail "plymouth did not get '$l': $(grep -a display-message "$WORK/plymouth.log")"
done
pass "plymouth got all ${#PLY_WANT[@]} lines (result, PCR 9, $code)"
if [ -n "${NOT_WANT:-}" ]; then
    ! ply_got "$NOT_WANT" || fail "plymouth messaged without --initrd"
    pass "without --initrd: nothing on the console or plymouth"
fi

# --- plymouth gone (quit, or never started): the unlock neither fails nor waits
start=$(date +%s%N)
cl --initrd --verify-only "$WORK/disk.img" >"$WORK/q.out" 2>&1 || fail "unlock without plymouthd: $(cat "$WORK/q.out")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -lt 5000 ] || fail "unlock took $ms ms without plymouthd"
console_wait "released key verified" || fail "console lacks the result without plymouthd"
pass "plymouthd gone: unlocked in $ms ms, result still on the console"
finish
