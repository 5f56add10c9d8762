#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion (issue 14): completions/bootgatectl and
# completions/bootgate-unlock, sourced after bash-completion's own library,
# complete commands, subcommands, options and option values; and every option
# that each --help prints is offered where it applies (so a new option without
# a completion fails here).
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
BC=/usr/share/bash-completion/bash_completion
[ -r "$BC" ] || skip "bash-completion not installed (ci/deps.sh)"
# bash_completion reads unset variables and returns non-zero on purpose
set +eu
# shellcheck disable=SC1090
. "$BC"
. "$BOOTGATE_SRCDIR/completions/bootgatectl"
. "$BOOTGATE_SRCDIR/completions/bootgate-unlock"
set -eu

# complete "LINE": the candidates for the last word of LINE (a trailing space
# starts a new, empty word), one a line, sorted
complete_line() {
    local line=$1 fn
    read -ra COMP_WORDS <<<"$line"
    [[ $line == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$line
    COMP_POINT=${#line}
    COMPREPLY=()
    fn=$(complete -p "${COMP_WORDS[0]}" | sed 's/.*-F \([^ ]*\) .*/\1/')
    set +eu
    "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    set -eu
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}
words() { printf '%s\n' "$@" | sort; }

check "bootgatectl is completed by _bootgatectl" 1 "$(complete -p bootgatectl | grep -c _bootgatectl)"
check "bootgate-unlock is completed by _bootgate_unlock" 1 "$(complete -p bootgate-unlock | grep -c _bootgate_unlock)"

check "bootgatectl <TAB>: the commands" \
    "$(words --help audit breakglass credential db eventlog init-server node policy quote report)" \
    "$(complete_line 'bootgatectl ')"
check "bootgatectl po<TAB>" policy "$(complete_line 'bootgatectl po')"
check "bootgatectl policy <TAB>: its subcommands" \
    "$(words activate capture diff explain image-digest list predict propose publish show sign verify what-if)" \
    "$(complete_line 'bootgatectl policy ')"
check "bootgatectl policy capture --e<TAB>" --eventlog "$(complete_line 'bootgatectl policy capture --e')"
check "bootgatectl policy capture --mode <TAB>" "$(words audit enforce)" \
    "$(complete_line 'bootgatectl policy capture --mode ')"
check "bootgatectl eventlog replay --bank sha<TAB>" "$(words sha1 sha256 sha384 sha512)" \
    "$(complete_line 'bootgatectl eventlog replay --bank sha')"
check "bootgatectl breakglass request --scope <TAB>" "$(words any observed)" \
    "$(complete_line 'bootgatectl breakglass request --scope ')"
check "bootgatectl audit v<TAB>" verify "$(complete_line 'bootgatectl audit v')"
check "bootgatectl node --admin<TAB>" --admin-config "$(complete_line 'bootgatectl node --admin')"

check "bootgate-unlock <TAB>: the commands" "$(words enroll status)" "$(complete_line 'bootgate-unlock ')"
check "bootgate-unlock --ver<TAB>" "$(words --verbose --verify-only --version)" "$(complete_line 'bootgate-unlock --ver')"
check "bootgate-unlock enroll --client<TAB>" "$(words --client-cert --client-key)" \
    "$(complete_line 'bootgate-unlock enroll --client')"
check "bootgate-unlock --set ti<TAB>: a config key" timeout= "$(complete_line 'bootgate-unlock --set ti')"
check "bootgate-unlock --set: every key of unlock.conf" \
    "$(grep -oE 'CONF_[A-Z_]+\(client_config, "[a-z0-9_]+"' "$BOOTGATE_SRCDIR/src/client/config.c" |
        sed 's/.*"\(.*\)"/\1=/' | sort)" \
    "$(complete_line 'bootgate-unlock --set ')"

# every option of a --help is offered by the completion of that command
long_opts() { grep -oE -- '(^|[^A-Za-z0-9-])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
missing() { comm -23 <(echo "$1") <(echo "$2"); }
check "bootgate-unlock --<TAB> offers every option of --help" "" \
    "$(missing "$("$BOOTGATE_UNLOCK" --help | sed '/^Usage/,/^$/d' | long_opts)" "$(complete_line 'bootgate-unlock --')")"
check "bootgate-unlock enroll --<TAB> offers every option of enroll --help" "" \
    "$(missing "$("$BOOTGATE_UNLOCK" enroll --help 2>&1 | long_opts)" "$(complete_line 'bootgate-unlock enroll --')")"
for c in eventlog quote credential node audit breakglass init-server db report; do
    check "bootgatectl $c --<TAB> offers every option of its --help" "" \
        "$(missing "$("$BOOTGATECTL" "$c" --help 2>&1 | long_opts)" "$(complete_line "bootgatectl $c --")")"
done
for s in capture predict sign verify show diff explain publish activate list what-if propose; do
    check "bootgatectl policy $s --<TAB> offers every option of its --help" "" \
        "$(missing "$("$BOOTGATECTL" policy "$s" --help 2>&1 | long_opts)" "$(complete_line "bootgatectl policy $s --")")"
done

finish
