#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The client's unlock path once under valgrind memcheck: bootgate-unlock
# against swtpm + bootgated (enrolled, policy active) unlocks a LUKS2 image
# with --verify-only, and memcheck counts zero errors (invalid reads/writes,
# uses of uninitialised values, definite leaks). A denied attempt (the PCR
# moved) is checked the same way: the error paths free what they hold too.
# Skips without valgrind and in sanitizer builds (the two do not mix).
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

command -v valgrind >/dev/null || skip "valgrind is not installed"
grep -qa __asan_init "$BOOTGATE_UNLOCK" && skip "bootgate-unlock is built with ASan"

client_server_up
enroll web

REAL_UNLOCK=$BOOTGATE_UNLOCK
# memcheck_unlock NAME ARGS...: cl under valgrind, its report in $WORK/vg-NAME.log;
# prints bootgate-unlock's exit status
memcheck_unlock() {
    local name=$1 rc=0
    shift
    BOOTGATE_UNLOCK="valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
        --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30
        --log-file=$WORK/vg-$name.log $REAL_UNLOCK"
    # shellcheck disable=SC2086 # the valgrind command line, split on purpose
    cl "$@" >"$WORK/$name.out" 2>&1 || rc=$?
    BOOTGATE_UNLOCK=$REAL_UNLOCK
    echo $rc
}
unlock() {
    # shellcheck disable=SC2086
    $BOOTGATE_UNLOCK --config /dev/null --tcti "$TCTI" "$@"
}

start=$(date +%s)
rc=$(memcheck_unlock ok --verify-only "$WORK/disk.img")
log "unlock under memcheck: $(($(date +%s) - start)) s"
check "memcheck ran bootgate-unlock" 1 "$(grep -c "Command: $REAL_UNLOCK " "$WORK/vg-ok.log")"
check "under memcheck: unlock --verify-only succeeds (exit 0)" 0 "$rc"
check "... the released key opens the header" 1 "$(grep -c 'released key verified' "$WORK/ok.out")"
check "... memcheck: ERROR SUMMARY: 0 errors" 1 "$(grep -c 'ERROR SUMMARY: 0 errors' "$WORK/vg-ok.log")"
check "... definitely lost: none" 0 "$(grep -c 'definitely lost: [1-9]' "$WORK/vg-ok.log")"

eventlog_append "$WORK/eventlog.bin" "$WORK/ev2.bin" 9:0xd:initrd-EVIL
cp "$WORK/ev2.bin" "$WORK/eventlog.bin"
rc=$(memcheck_unlock denied --timeout 8 --verify-only "$WORK/disk.img")
check "under memcheck: PCR 9 moved, denied (exit 1)" 1 "$rc"
check "... memcheck: ERROR SUMMARY: 0 errors" 1 "$(grep -c 'ERROR SUMMARY: 0 errors' "$WORK/vg-denied.log")"
for f in ok denied; do
    grep -q 'ERROR SUMMARY: 0 errors' "$WORK/vg-$f.log" || sed -n '/== [A-Z].*:/,+25p' "$WORK/vg-$f.log" | head -60
done

finish
