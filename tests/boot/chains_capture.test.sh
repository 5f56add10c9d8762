#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Secure Boot shim -> GRUB -> kernel chain, captured live (tests/boot/capture.sh
# -k): the reference image and four changed ones (command line, initrd, another
# Debian kernel version, grub.cfg), and a dbx update on a machine with the snakeoil
# keys (capture.sh ovmf-sb-grub-dbx: applied from inside the guest through
# efivarfs, predicted with --dbx-update). For each boot:
#  - the firmware log replays to the TPM's PCRs (tpm2_eventlog and bootgatectl,
#    PCRs 0-9, 11 and 14: shim's MOK lists), tampered logs do not;
#  - bootgatectl policy predict from the REFERENCE's log with the new image's
#    kernel, initrd and grub.cfg equals the PCRs 0-9, 11 the TPM reported on the
#    new image's first boot; the change shows where it should (PCR 4/8/9).
# The other kernel is fetched from Debian's archive (apt-get download, cached in
# build/boot-cache/kernel2); without it that case is skipped, the others run.
# Prints the boot times. BG_KEEP=1 keeps the captures (e.g. to commit them).
set -euo pipefail
export BG_NAME=chains_capture
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/pcrcheck.sh"

bg_need_cmd swtpm qemu-system-x86_64 tpm2_eventlog jq
[[ -r /usr/lib/shim/shimx64.efi.signed && -r /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed ]] ||
    skip "shim-signed / grub-efi-amd64-signed not installed"
out=$WORK/captures
cases=(ovmf-sb-grub ovmf-sb-grub-cmdline ovmf-sb-grub-initrd ovmf-sb-grub-kernel ovmf-sb-grub-cfg
    ovmf-sb-grub-dbx)
t0=$(bg_now)
bash "$(dirname "$0")/capture.sh" -k -o "$out" "${cases[@]}" || die "capture.sh failed"
log "captures with image builds: $(awk -v a="$t0" -v b="$(bg_now)" 'BEGIN { printf "%.1f", b - a }')s"

ref=$out/ovmf-sb-grub
[[ -s $ref/eventlog.bin ]] || die "no reference capture"
gated='with_entries(select(.key | IN("0","1","2","3","4","5","6","7","8","9","11")))'
for c in "${cases[@]}" ovmf-sb-grub-dbx-ref; do
    d=$out/$c
    # The dbx machine has its own keys: its reference is its boot before the update.
    r=$ref dbx=()
    [[ $c != ovmf-sb-grub-dbx ]] || r=$out/ovmf-sb-grub-dbx-ref dbx=(--dbx-update "$d/dbx-update.auth")
    [[ $c != ovmf-sb-grub-dbx-ref ]] || r=$d
    if [[ ! -s $d/eventlog.bin ]]; then
        [[ $c == ovmf-sb-grub-kernel ]] || die "$c: no capture"
        log "$c: skipped (no second kernel)"
        continue
    fi
    log "$c: boot to power-off $(cat "$d/boot-seconds")s"
    bg_check_capture_tpm2 "$d" || die "$c: tpm2_eventlog replay differs"
    bg_check_capture_bootgate "$d" || die "$c: bootgatectl replay differs"
    bg_check_capture_tamper "$d" || die "$c: tampered logs accepted"
    r14=$("$BOOTGATECTL" eventlog replay --json --bank sha256 "$d/eventlog.bin" |
        jq -r '(.sha256 // .banks.sha256 // .)["14"] // empty')
    check "$c: PCR 14 (shim's MOK lists) replays" "$(jq -r '.["14"]' "$d/pcrs-sha256.json")" "$r14"
    "$BOOTGATECTL" policy predict --reference "$r/eventlog.bin" --name sb --version 1 "${dbx[@]}" \
        --kernel "$d/inputs/vmlinuz" --initrd "$d/inputs/initrd.img" --grub-cfg "$d/grub.cfg" \
        --out "$WORK/$c.policy.json" 2>"$WORK/$c.predict.err" ||
        die "$c: predict from the reference: $(cat "$WORK/$c.predict.err")"
    check "$c: predicted from the reference = the TPM's PCRs 0-9, 11 on its first boot" \
        "$(jq -c "$gated" "$d/pcrs-sha256.json")" "$(jq -c '.baselines[0].pcrs' "$WORK/$c.policy.json")"
done
# The changes are where they should be (and nowhere else).
differs() { # case -> the gated PCRs that differ from the reference
    jq -r --slurpfile r "$ref/pcrs-sha256.json" "$gated"' | to_entries |
        map(select(.value != $r[0][.key])) | map(.key) | join(",")' "$out/$1/pcrs-sha256.json"
}
check "command line changes PCRs 8 (grub_cmd, kernel_cmdline) and 9 (grub.cfg)" "8,9" "$(differs ovmf-sb-grub-cmdline)"
check "initrd changes PCR 9 only" "9" "$(differs ovmf-sb-grub-initrd)"
check "grub.cfg changes PCRs 8 and 9" "8,9" "$(differs ovmf-sb-grub-cfg)"
differs_dbx() {
    jq -r --slurpfile r "$out/ovmf-sb-grub-dbx-ref/pcrs-sha256.json" "$gated"' | to_entries |
        map(select(.value != $r[0][.key])) | map(.key) | join(",")' "$out/ovmf-sb-grub-dbx/pcrs-sha256.json"
}
# (the reference boot carried the update in its initrd: PCR 9 differs too)
check "the dbx update changes PCR 7 (and 9: the applying initrd)" "7,9" "$(differs_dbx)"
check_ok "the firmware measured the appended dbx" grep -q 'dbx: 2 entries (2 SHA-256)' \
    <("$BOOTGATECTL" eventlog show "$out/ovmf-sb-grub-dbx/eventlog.bin")
[[ ! -s $out/ovmf-sb-grub-kernel/eventlog.bin ]] ||
    check "another kernel changes PCRs 4 and 9" "4,9" "$(differs ovmf-sb-grub-kernel)"
finish
