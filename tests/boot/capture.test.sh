#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Live proof on the day: boot the OVMF + UKI capture in QEMU now (tests/boot/capture.sh
# into a temp dir) and check that the firmware and IMA logs replay to the PCRs the
# guest's TPM reported (tpm2_eventlog and bootgatectl eventlog replay), and that
# changed logs do not. Prints the boot time.
set -euo pipefail
export BG_NAME=capture.test
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/pcrcheck.sh"

bg_need_cmd swtpm qemu-system-x86_64 tpm2_eventlog jq
[[ -r /usr/share/OVMF/OVMF_CODE_4M.fd ]] || skip "OVMF not installed"
out=$WORK/captures
t0=$(bg_now)
bash "$(dirname "$0")/capture.sh" -o "$out" ovmf-uki || die "capture.sh failed"
log "ovmf-uki: boot to power-off $(cat "$out/ovmf-uki/boot-seconds")s," \
    "with image build $(awk -v a="$t0" -v b="$(bg_now)" 'BEGIN { printf "%.1f", b - a }')s"

bg_check_capture_tpm2 "$out/ovmf-uki" || die "live capture: tpm2_eventlog replay differs"
bg_check_capture_bootgate "$out/ovmf-uki" || die "live capture: bootgatectl replay differs"
bg_check_capture_tamper "$out/ovmf-uki" || die "live capture: tampered logs accepted"
# The UKI path: systemd-stub measured its sections into PCR 11.
pcr11=$(jq -r '.["11"]' "$out/ovmf-uki/pcrs-sha256.json")
[[ $pcr11 =~ ^[0-9a-f]{64}$ && $pcr11 != 0000000000000000000000000000000000000000000000000000000000000000 ]] ||
    die "PCR 11 was not measured (systemd-stub): $pcr11"
finish
