#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The committed real-boot captures (tests/data/captures/*, made by
# tests/boot/capture.sh in QEMU with swtpm) replay to the PCRs the guest's TPM
# reported: the firmware log with tpm2_eventlog (independent) and with
# `bootgatectl eventlog replay --ima` (PCRs 0-9, 11.. and PCR 10 from IMA), for
# sha1 and sha256 (and every other bank bootgatectl prints). Changed logs must not.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../boot/lib/pcrcheck.sh
. "$BOOTGATE_SRCDIR/tests/boot/lib/pcrcheck.sh"

command -v jq >/dev/null || die "jq not installed (ci/deps.sh)"
command -v tpm2_eventlog >/dev/null || die "tpm2_eventlog not installed (tpm2-tools)"
[[ -x $BOOTGATECTL ]] || die "no bootgatectl at '$BOOTGATECTL'"

n=0
for dir in "$BOOTGATE_TEST_DATA"/captures/*/; do
    dir=${dir%/}
    for f in eventlog.bin ima.bin; do
        [[ -s $dir/$f ]] || die "$dir/$f missing"
    done
    [[ -s $dir/pcrs-sha1.json || -s $dir/pcrs-sha256.json ]] || die "$dir: no pcrs-sha*.json"
    bg_check_capture_tpm2 "$dir" || die "$dir: firmware log does not replay (tpm2_eventlog)"
    bg_check_capture_bootgate "$dir" || die "$dir: bootgatectl replay differs from the TPM"
    bg_check_capture_tamper "$dir" || die "$dir: tampered logs were accepted"
    n=$((n + 1))
done
((n >= 4)) || die "expected at least 4 captures in $BOOTGATE_TEST_DATA/captures, found $n"
pass "$n captures"
finish
