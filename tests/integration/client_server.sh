# SPDX-License-Identifier: LGPL-2.1-or-later
# Kept for tests written against it (sourced after client_common.sh): the
# client-against-bootgated setup lives in tests/lib/client.sh and
# tests/lib/bootgated.sh now. These are the old names for it.
: "${BOOTGATED:?bootgated not built}" "${BOOTGATECTL:?BOOTGATECTL not set}"

server_init() { bootgated_init; }
start_server() { start_bootgated "$@"; } # [DELAY]
wait_server() { wait_bootgated; }
stop_server() { stop_bootgated; }
boot() { eventlog_boot "$WORK/eventlog.bin" "$@"; } # EVENTS...
policy() { bootgated_policy "$1" "$2" "$WORK/eventlog.bin" --pcrs 0-9,11; }
# shellcheck disable=SC2034 # S: the old name of $SRV (bootgated_init puts it there)
S=$WORK/srv
