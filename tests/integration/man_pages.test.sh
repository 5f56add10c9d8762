#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The man pages CMake built from man/*.scd (issue 14): each renders with
# `man --warnings` and no warning; every option that a program's --help (and
# each subcommand's --help) prints appears in its page; every key of the
# configuration tables (src/server/config.c, src/client/config.c, the admin
# connection of src/ctl/adminapi.c) appears in its page, and every kernel
# command line option (src/client/config.c, the initrd unit) in bootgate(7).
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
command -v scdoc >/dev/null || skip "scdoc not installed: no man pages built (ci/deps.sh)"
MAN=$BOOTGATE_BUILDDIR/man
SRC=$BOOTGATE_SRCDIR
PAGES="bootgated.8 bootgated.conf.5 bootgate-unlock.8 bootgate-unlock.conf.5 bootgatectl.8 bootgate.7"

for p in $PAGES; do
    [ -s "$MAN/$p" ] || {
        fail "$p was built"
        continue
    }
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$MAN/$p" >"$WORK/$p.txt" 2>"$WORK/$p.warnings" || true
    check "$p renders without warnings" "" "$(cat "$WORK/$p.warnings")"
    check "$p has a NAME section" 1 "$(grep -c '^NAME$' "$WORK/$p.txt")"
    # one long line a paragraph, no hyphenation: an option is never split
    LC_ALL=C.UTF-8 MANWIDTH=4000 man --nh --nj -E UTF-8 -l "$MAN/$p" >"$WORK/$p.flat" 2>/dev/null || true
done

# in_page PAGE WORD...: each WORD appears in PAGE as a whole word
in_page() {
    local page=$1 w missing=()
    shift
    for w in "$@"; do
        grep -qE -- "(^|[^A-Za-z0-9_.-])$(printf '%s' "$w" | sed 's/[.]/\\./g')([^A-Za-z0-9_-]|$)" "$WORK/$page.flat" ||
            missing+=("$w")
    done
    printf '%s\n' "${missing[@]}" | sed '/^$/d'
}
options() { grep -oE -- '(^|[^A-Za-z0-9-])--?[a-z][a-z0-9-]*' | grep -oE -- '--?[a-z][a-z0-9-]*' | sort -u; }

# --- options of each program's --help ---------------------------------------------
{ "$BOOTGATED" --help; } | options >"$WORK/bootgated.opts"
check "bootgated --help names options" 1 "$(grep -c -- '--check' "$WORK/bootgated.opts")"
mapfile -t opts <"$WORK/bootgated.opts"
check "bootgated(8) has every option of bootgated --help" "" "$(in_page bootgated.8 "${opts[@]}")"

{
    "$BOOTGATE_UNLOCK" --help
    "$BOOTGATE_UNLOCK" enroll --help 2>&1
    "$BOOTGATE_UNLOCK" status --help 2>&1
} | options >"$WORK/unlock.opts"
check "bootgate-unlock --help names options" 1 "$(grep -c -- '--client-cert' "$WORK/unlock.opts")"
check "bootgate-unlock(8) has every option of bootgate-unlock [enroll|status] --help" "" \
    "$(mapfile -t opts <"$WORK/unlock.opts" && in_page bootgate-unlock.8 "${opts[@]}")"

commands=$("$BOOTGATECTL" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }')
check "bootgatectl --help lists its commands" 10 "$(echo "$commands" | wc -l)"
{
    "$BOOTGATECTL" --help
    for c in $commands; do "$BOOTGATECTL" "$c" --help 2>&1 || true; done
    for s in capture predict sign verify show diff explain image-digest publish activate list what-if propose; do
        "$BOOTGATECTL" policy "$s" --help 2>&1 || true
    done
} >"$WORK/ctl.help"
# long options only: the help texts quote tpm2-tools' short ones (tpm2_quote -m)
options <"$WORK/ctl.help" | grep -- '^--' >"$WORK/ctl.opts"
check "bootgatectl's --help texts name options" 1 "$(grep -c -- '--kernel-digest' "$WORK/ctl.opts")"
mapfile -t opts <"$WORK/ctl.opts"
check "bootgatectl(8) has every option of every bootgatectl --help" "" "$(in_page bootgatectl.8 "${opts[@]}")"
# shellcheck disable=SC2086 # one word a command
check "bootgatectl(8) names every command" "" "$(in_page bootgatectl.8 $commands)"

# --- configuration keys from the tables --------------------------------------------
conf_keys() { grep -oE "CONF_[A-Z_]+\($1, \"[a-z0-9_]+\"" "$2" | sed 's/.*"\(.*\)"/\1/'; }
srv_keys=$(conf_keys srv_config "$SRC/src/server/config.c")
check "the server's table has keys" 1 "$(echo "$srv_keys" | grep -c '^denial_audit_global_per_minute$')"
check "bootgated.conf(5) has every key of src/server/config.c" "" "$(in_page bootgated.conf.5 $srv_keys)"
client_keys=$(conf_keys client_config "$SRC/src/client/config.c")
check "the client's table has keys" 1 "$(echo "$client_keys" | grep -c '^ek_type$')"
check "bootgate-unlock.conf(5) has every key of src/client/config.c" "" "$(in_page bootgate-unlock.conf.5 $client_keys)"
admin_keys=$(conf_keys admin_conf "$SRC/src/ctl/adminapi.c")
check "the admin connection's table has 4 keys" 4 "$(echo "$admin_keys" | wc -l)"
check "bootgatectl(8) has every key of the admin configuration" "" "$(in_page bootgatectl.8 $admin_keys)"
cmdline=$({
    grep -oE '\{"rd\.bootgate\.[a-z_]+"' "$SRC/src/client/config.c" | tr -d '{"'
    grep -oE 'rd\.bootgate=[0-9]' "$SRC/systemd-units/bootgate-unlock.service"
} | sort -u)
check "kernel command line options found" 3 "$(echo "$cmdline" | wc -l)"
check "bootgate(7) has every kernel command line option" "" "$(in_page bootgate.7 $cmdline)"

# --- the check itself can fail ----------------------------------------------------------
check "a missing option is reported" "--no-such-option" "$(in_page bootgated.8 --check --no-such-option)"

finish
