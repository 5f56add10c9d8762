# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# A node's firmware log that its TPM agrees with (sourced by harness.sh): the log
# from tests/lib/eventlog.py, and each of its events extended into the running
# swtpm (TPM2TOOLS_TCTI) with tpm2_pcrextend, so that the log replays to the PCRs.
#
#   eventlog_boot OUT PCR:TYPE:DATA...          a new log (Spec ID header first)
#   eventlog_append LOG OUT PCR:TYPE:DATA...    LOG's records, then these events
#   ima_boot OUT PATH:CONTENT...                an IMA log (ima-ng) of these files,
#                                               extended into PCR 10
# DATA is text, or hex:HEX for bytes; TYPE a number (13, 0x80000003).

# the "PCR DIGEST" lines of eventlog.py, extended into the swtpm
_eventlog_extend() {
    local pcr d
    while read -r pcr d; do tpm2_pcrextend "$pcr:sha256=$d" || die "tpm2_pcrextend $pcr"; done <"$1"
}

eventlog_boot() {
    local out=$1
    shift
    python3 "$TESTLIB/eventlog.py" "$out" "$@" >"$out.extends" || die "eventlog.py $*"
    _eventlog_extend "$out.extends"
}

eventlog_append() {
    local in=$1 out=$2
    shift 2
    python3 "$TESTLIB/eventlog.py" "$out" --append "$in" "$@" >"$out.extends" || die "eventlog.py $*"
    _eventlog_extend "$out.extends"
}

ima_boot() {
    local out=$1
    shift
    python3 "$TESTLIB/eventlog.py" --ima "$out" "$@" >"$out.extends" || die "eventlog.py --ima $*"
    _eventlog_extend "$out.extends"
}
