# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# bootgate boot-test harness: tests/lib/harness.sh (work dir $WORK, cleanup with
# on_exit, log/die/skip and pass/fail/check/finish, swtpm_qemu_start, the
# bootgated starter) plus what only boots need. Source tests/boot/lib/boot.sh,
# not this file directly (tests/integration/captures_replay.test.sh sources it
# for pcrcheck.sh).
#
#   bg_need_cmd CMD...       skip unless every CMD is on PATH
#   bg_artifact FILE...      copy FILEs to $BOOTGATE_BUILDDIR/test-artifacts/<script>/
#   bg_now                   seconds since the epoch with milliseconds (for timings)
#
# $WORK holds images of gigabytes: it goes at exit also when the test failed (the
# logs worth keeping are artifacts), unless BG_KEEP=1.

BG_LIB=${BG_LIB:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
BG_NAME=${BG_NAME:-$(basename "$0" .sh)}
TEST_NAME=$BG_NAME
WORK_KEEP_ON_FAIL=0
if [[ ${BG_KEEP:-0} == 1 ]]; then KEEP_WORK=1; fi
# shellcheck source=../../lib/harness.sh
. "$BG_LIB/../../lib/harness.sh"

bg_need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || skip "$c not installed"
    done
}

bg_now() { date +%s.%3N; }

bg_artifact() {
    local dir=${BOOTGATE_BUILDDIR:-${WORK:-/tmp}}/test-artifacts/$BG_NAME f
    mkdir -p "$dir" || return 0
    for f in "$@"; do
        [[ -e $f ]] && cp -f "$f" "$dir/" && log "artifact: $dir/$(basename "$f")"
    done
    return 0
}
