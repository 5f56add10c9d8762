# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# The one harness of bootgate's shell tests (integration, boot, bench): sourced
# first, it gives a work directory, cleanup at exit, the assertions, and (from
# the files beside it) swtpm, bootgated, event logs, the node and the client.
#
#   $WORK               a fresh temporary directory; removed at exit unless the
#                       test failed or KEEP_WORK=1 (WORK_KEEP_ON_FAIL=0: removed
#                       on failure too, for tests whose work dir is gigabytes)
#   PIDS+=(PID)         background processes: killed at exit, with their children
#   on_exit CMD         more cleanup, run last-pushed-first before the PIDS die
#   stop_pid PID        kill one process (and the children of a delayed start)
#
# Assertions: every one prints a line; a failed one makes the test fail even if
# the script goes on (the EXIT trap turns any recorded failure into exit 1, also
# one recorded in a subshell).
#   pass MSG                     "ok   - MSG"
#   fail MSG                     "FAIL - MSG", recorded; the test goes on
#   check NAME EXPECTED ACTUAL   pass or fail by string equality
#   check_ok NAME CMD...         pass when CMD exits 0, fail otherwise
#   die MSG                      fail and exit now (setup the rest cannot do without)
#   skip MSG                     exit 77, ctest's "skipped": only for an absent optional input
#   log MSG                      "TEST_NAME: MSG" on stderr
#   finish                       checks the bootgated of the test (alive, no
#                                sanitizer report), then the verdict: exit 1 on any failure
set -euo pipefail
# an unexpected failure names its command instead of ending the test silently
# (not one under `set +e`, where the test looks at the exit code itself)
_harness_err() { [[ $- != *e* ]] || echo "error: $2:$3: $4 exited $1" >&2; }
trap '_harness_err $? "${BASH_SOURCE[0]##*/}" $LINENO "$BASH_COMMAND"' ERR

TESTLIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
TEST_NAME=${TEST_NAME%.test}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bootgate-$TEST_NAME.XXXXXX")
PIDS=()
FAILS=0
PASSES=0
_HARNESS_CLEANUP=()
_HARNESS_FAILS=$WORK/.failed-checks
_HARNESS_SHELL=$BASHPID

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

pass() {
    echo "ok   - $*"
    PASSES=$((PASSES + 1))
}
fail() {
    echo "FAIL - $*"
    FAILS=$((FAILS + 1))
    # a subshell's counter is lost with it; the file is not
    echo "$*" >>"$_HARNESS_FAILS"
}
check() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (expected '$2', got '$3')"; fi; }
check_ok() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
die() {
    fail "$*"
    exit 1
}
skip() {
    echo "SKIP - $*"
    exit 77
}
# failed checks so far, also those recorded in subshells
failed_checks() { if [ -e "$_HARNESS_FAILS" ]; then wc -l <"$_HARNESS_FAILS"; else echo 0; fi; }

finish() {
    # the server must have survived every request, and stop cleanly without
    # sanitizer reports (a -DBOOTGATE_SANITIZE=ON build aborts on the first one)
    if [ -n "${SRV_PID:-}" ]; then
        if kill -0 "$SRV_PID" 2>/dev/null; then pass "bootgated survived the run"; else fail "bootgated survived the run"; fi
        stop_bootgated
    fi
    # the test's bootgated and its replicas (start_replica)
    local logs=("$WORK"/bootgated*.log)
    if [ ${#logs[@]} -gt 0 ] && [ -e "${logs[0]}" ]; then
        if grep -qE 'Sanitizer|runtime error' "${logs[@]}"; then
            fail "no sanitizer reports"
            grep -E -A20 'Sanitizer|runtime error' "${logs[@]}" | head -60
        else
            pass "no sanitizer reports"
        fi
    fi
    local n
    n=$(failed_checks)
    if [ "$n" -ne 0 ]; then
        echo "$n assertion(s) failed"
        exit 1
    fi
    echo "all assertions passed"
}

on_exit() { _HARNESS_CLEANUP+=("$1"); }

stop_pid() {
    [ -n "${1:-}" ] || return 0
    # a delayed start is a subshell sleeping before its exec: its child goes too
    pkill -P "$1" 2>/dev/null || true
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

_harness_exit() {
    local rc=$? i p
    trap - EXIT INT TERM ERR
    # only the test's own shell cleans up (not a subshell that exits)
    [ "$BASHPID" = "$_HARNESS_SHELL" ] || exit "$rc"
    for ((i = ${#_HARNESS_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${_HARNESS_CLEANUP[i]}" || true
    done
    for p in "${PIDS[@]}"; do
        pkill -P "$p" 2>/dev/null || true # a delayed start's sleep
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [ "$rc" -eq 0 ] && [ "$(failed_checks)" -ne 0 ]; then
        echo "$(failed_checks) assertion(s) failed"
        rc=1
    fi
    cd / # the test may have gone into $WORK
    if [ -n "${KEEP_WORK:-}" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "${WORK_KEEP_ON_FAIL:-1}" = 1 ]; }; then
        echo "work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap _harness_exit EXIT
trap 'exit 130' INT TERM

# shellcheck source=swtpm.sh
. "$TESTLIB/swtpm.sh"
# shellcheck source=bootgated.sh
. "$TESTLIB/bootgated.sh"
# shellcheck source=eventlog.sh
. "$TESTLIB/eventlog.sh"
# shellcheck source=node.sh
. "$TESTLIB/node.sh"
# shellcheck source=client.sh
. "$TESTLIB/client.sh"
