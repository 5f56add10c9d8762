# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# A node's firmware log that its TPM agrees with (sourced by harness.sh): the log
# from tests/lib/eventlog.py, and each of its events extended into the running
# swtpm (TPM2TOOLS_TCTI) with tpm2_pcrextend, so that the log replays to the PCRs.
#
#   eventlog_boot OUT PCR:TYPE:DATA...          a new log (Spec ID header first)
#   eventlog_append LOG OUT PCR:TYPE:DATA...    LOG's records, then these events
# DATA is text, or hex:HEX for bytes; TYPE a number (13, 0x80000003).

eventlog_boot() {
    local out=$1 pcr d
    shift
    python3 "$TESTLIB/eventlog.py" "$out" "$@" >"$out.extends" || die "eventlog.py $*"
    while read -r pcr d; do tpm2_pcrextend "$pcr:sha256=$d" || die "tpm2_pcrextend $pcr"; done <"$out.extends"
}

eventlog_append() {
    local in=$1 out=$2 pcr d
    shift 2
    python3 "$TESTLIB/eventlog.py" "$out" --append "$in" "$@" >"$out.extends" || die "eventlog.py $*"
    while read -r pcr d; do tpm2_pcrextend "$pcr:sha256=$d" || die "tpm2_pcrextend $pcr"; done <"$out.extends"
}
