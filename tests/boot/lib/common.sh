# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# bootgate boot-test harness: common helpers (logging, work dir, cleanup stack,
# artifacts). Source tests/boot/lib/boot.sh, not this file directly.
#
#   bg_log MSG...            message to stderr, prefixed with the script name
#   bg_die MSG...            bg_log + exit 1
#   bg_skip MSG...           bg_log + exit 77 (only for a truly absent optional input)
#   bg_need_cmd CMD...       bg_skip unless every CMD is on PATH
#   bg_on_exit CMD           push a cleanup command (run in reverse order on EXIT)
#   bg_workdir               create $BG_WORK (removed on exit unless BG_KEEP=1)
#   bg_artifact FILE...      copy FILEs to $BOOTGATE_BUILDDIR/test-artifacts/<script>/
#   bg_now                   seconds since the epoch with milliseconds (for timings)

BG_LIB=${BG_LIB:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
BG_NAME=${BG_NAME:-$(basename "$0" .sh)}
BG_CLEANUP=()

bg_log() { printf '%s: %s\n' "$BG_NAME" "$*" >&2; }
bg_die() {
    bg_log "FAIL: $*"
    exit 1
}
bg_skip() {
    bg_log "SKIP: $*"
    exit 77
}

bg_need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || bg_skip "$c not installed"
    done
}

bg_now() { date +%s.%3N; }

# Cleanup commands run last-pushed-first so a QEMU dies before its swtpm and the
# work dir goes last.
bg_on_exit() { BG_CLEANUP+=("$1"); }

_bg_run_cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    for ((i = ${#BG_CLEANUP[@]} - 1; i >= 0; i--)); do
        eval "${BG_CLEANUP[i]}" || true
    done
    exit "$rc"
}
trap _bg_run_cleanup EXIT
trap 'exit 130' INT TERM

bg_workdir() {
    BG_WORK=$(mktemp -d "${TMPDIR:-/tmp}/bootgate-boot.XXXXXX") || bg_die "mktemp"
    if [[ ${BG_KEEP:-0} == 1 ]]; then
        bg_log "keeping work dir $BG_WORK"
    else
        bg_on_exit "rm -rf '$BG_WORK'"
    fi
}

bg_artifact() {
    local dir=${BOOTGATE_BUILDDIR:-${BG_WORK:-/tmp}}/test-artifacts/$BG_NAME f
    mkdir -p "$dir" || return 0
    for f in "$@"; do
        [[ -e $f ]] && cp -f "$f" "$dir/" && bg_log "artifact: $dir/$(basename "$f")"
    done
    return 0
}
