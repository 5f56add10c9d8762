#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Real measured boots in QEMU (TCG) with swtpm, captured as test data.
#
#   tests/boot/capture.sh [-o OUTDIR] [-k] [CASE...]
#
# CASEs (default: all):
#   ovmf-uki      OVMF (UEFI) boots a UKI (systemd-stub) from a GPT ESP; the stub
#                 measures its sections into PCR 11; IMA tcb + a runtime policy
#                 (ima-ng, ima-sig for exec, ima-buf for the kernel_version
#                 critical data).
#   ovmf-uki-kernel the same UKI handed to OVMF by QEMU (-kernel, fw_cfg): no GPT
#                 event, no disk; sha256-only PCR banks (swtpm_setup --pcr-banks).
#   ovmf-sb-grub  Secure Boot on (OVMF with Microsoft's keys): Debian's signed shim
#                 -> signed GRUB (grub.cfg in \EFI\debian) -> signed kernel from a GPT
#                 ESP; GRUB measures its commands (PCR 8) and files (PCR 9)
#   ovmf-sb-grub-cmdline, -initrd, -kernel, -cfg   the same with one change: the
#                 command line, the initrd, another Debian kernel version (downloaded,
#                 bg_kernel2), grub.cfg (one more command). Each writes grub.cfg too;
#                 -k also keeps inputs/vmlinuz and inputs/initrd.img
#   ovmf-sdboot-uki systemd-boot (Secure Boot off) starts the UKI from \EFI\Linux
#   seabios-kernel SeaBIOS with -kernel/-initrd; IMA with the ima-sig template.
#   seabios-tpm12  the same with a TPM 1.2: legacy SHA-1 event log (no Spec ID
#                  event), one sha1 bank.
# Each case writes OUTDIR/<case>/ (default tests/data/captures/<case>/):
#   eventlog.bin (binary_bios_measurements), ima.bin (binary_runtime_measurements),
#   pcrs-<bank>.json ({"0":"hex",...,"23":"hex"} as the guest's TPM reported them),
#   cmdline, uname-r, README (how it was made), boot-seconds.
set -euo pipefail
export BG_NAME=capture
. "$(dirname "$0")/lib/boot.sh"
. "$BG_LIB/chains.sh"

OUT=${BOOTGATE_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/data/captures
KEEP_INPUTS=0
while getopts ko: opt; do
    case $opt in
    o) OUT=$OPTARG ;;
    k) KEEP_INPUTS=1 ;;
    *) echo "usage: $0 [-o OUTDIR] [-k] [CASE...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
CASES=("$@")
[[ ${#CASES[@]} -gt 0 ]] || CASES=(ovmf-uki ovmf-uki-kernel seabios-kernel seabios-tpm12)

bg_need_cmd swtpm qemu-system-x86_64 objcopy mkfs.fat mcopy sfdisk cpio jq
bg_kernel

# The initramfs is the same for every case: the capture scenario plus the files
# it makes IMA measure.
stage=$WORK/initramfs
bg_initramfs_new "$stage"
bg_initramfs_add_file "$stage" "$BG_LIB/guest/capture-scenario.sh" /scenario.sh
bg_initramfs_add_file "$stage" "$BG_LIB/guest/ima-policy" /etc/bootgate/ima-policy
bg_initramfs_add_file "$stage" "$BG_LIB/guest/hello.sh" /etc/bootgate/hello.sh 0755
printf 'bootgate capture, measured file %s\n' one two >"$stage/etc/bootgate/measure-1"
printf 'a second measured file\n' >"$stage/etc/bootgate/measure-2"
bg_initramfs_pack "$stage" "$WORK/initrd.img"

CONSOLE="console=ttyS0,115200 panic=-1 quiet"

# pcrs_json BANK < "bank index hex" lines -> {"0":"hex",...}
pcrs_json() {
    awk -v b="$1" '$1 == b { printf "%s\"%s\":\"%s\"", n++ ? "," : "{", $2, tolower($3) }
                   END { if (n) print "}" }' | jq . 2>/dev/null ||
        return 1
}

# The Secure Boot GRUB cases: the reference and one change each. Sets cmdline,
# how, and sb_inputs (kernel initrd grub.cfg) for the case directory.
SB_CMDLINE="$CONSOLE ima_policy=tcb|critical_data ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
sb_grub_case() {
    local c=$1 kernel=$BG_KERNEL initrd=$WORK/initrd.img change
    cmdline=$SB_CMDLINE
    case $c in
    ovmf-sb-grub) change="reference" ;;
    ovmf-sb-grub-cmdline)
        cmdline="$SB_CMDLINE loglevel=4"
        change="kernel command line + loglevel=4"
        ;;
    ovmf-sb-grub-initrd)
        # The kernel unpacks concatenated cpio archives: one more file.
        local st=$WORK/initrd2
        mkdir -p "$st/etc" && echo "changed initrd" >"$st/etc/bootgate-changed"
        (cd "$st" && echo etc/bootgate-changed | cpio -o -H newc --quiet) | cat "$WORK/initrd.img" - >"$WORK/initrd2.img"
        initrd=$WORK/initrd2.img
        change="initrd + one cpio member"
        ;;
    ovmf-sb-grub-kernel)
        bg_kernel2 || { log "$c: no second kernel ($BG_KERNEL2_WHY), case skipped"; return 1; }
        kernel=$BG_KERNEL2
        change="kernel $BG_KVER2 (Debian, side by side) instead of $BG_KVER"
        ;;
    ovmf-sb-grub-cfg) change="grub.cfg: one more command (set pager=1)" ;;
    *) die "unknown case $c" ;;
    esac
    bg_sb_grub_cfg "$WORK/$c.grub.cfg" "$cmdline"
    [[ $c != ovmf-sb-grub-cfg ]] || sed -i '1a set pager=1' "$WORK/$c.grub.cfg"
    bg_sb_esp "$WORK/$c.disk" "$kernel" "$initrd" "$WORK/$c.grub.cfg"
    sb_inputs=("$kernel" "$initrd" "$WORK/$c.grub.cfg")
    swtpm_qemu_start "$WORK/$c.tpm"
    bg_qemu_start "$c" --ovmf "$WORK/$c.disk" --secure-boot --tpm
    how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) Secure Boot ($(basename "$BG_OVMF_SB_CODE"), $(basename "$BG_OVMF_SB_VARS")) + swtpm, shim $(dpkg-query -W -f '${Version}' shim-signed 2>/dev/null) -> GRUB $(dpkg-query -W -f '${Version}' grub-efi-amd64-signed 2>/dev/null) -> kernel, GPT ESP ($change)"
}

run_case() {
    local sb_inputs=()
    local c=$1 dir=$OUT/$1 cmdline how t bank
    case $c in
    ovmf-uki)
        cmdline="$CONSOLE ima_policy=tcb|critical_data ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        bg_uki_build "$WORK/$c.efi" "$BG_KERNEL" "$WORK/initrd.img" "$cmdline"
        bg_esp_build "$WORK/$c.disk" "$WORK/$c.efi"
        swtpm_qemu_start "$WORK/$c.tpm"
        bg_qemu_start "$c" --ovmf "$WORK/$c.disk" --tpm
        how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) + swtpm, UKI (systemd-stub $(dpkg-query -W -f '${Version}' systemd-boot-efi 2>/dev/null)) as \\EFI\\BOOT\\BOOTX64.EFI on a GPT ESP"
        ;;
    ovmf-sb-grub | ovmf-sb-grub-*)
        sb_grub_case "$c" || return 0
        ;;
    ovmf-sdboot-uki)
        cmdline="$CONSOLE ima_policy=tcb|critical_data ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        bg_uki_build "$WORK/$c.efi" "$BG_KERNEL" "$WORK/initrd.img" "$cmdline"
        bg_sdboot_esp "$WORK/$c.disk" "$WORK/$c.efi"
        swtpm_qemu_start "$WORK/$c.tpm"
        bg_qemu_start "$c" --ovmf "$WORK/$c.disk" --tpm
        how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) (Secure Boot off) + swtpm, systemd-boot $(dpkg-query -W -f '${Version}' systemd-boot-efi 2>/dev/null) -> UKI in \\EFI\\Linux, GPT ESP"
        ;;
    ovmf-uki-kernel)
        cmdline="$CONSOLE ima_policy=tcb ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        bg_uki_build "$WORK/$c.efi" "$BG_KERNEL" "$WORK/initrd.img" "$cmdline"
        swtpm_qemu_start "$WORK/$c.tpm" sha256
        bg_qemu_start "$c" --ovmf-kernel "$WORK/$c.efi" --tpm
        how="OVMF $(dpkg-query -W -f '${Version}' ovmf 2>/dev/null) + swtpm (sha256 bank only), UKI (systemd-stub $(dpkg-query -W -f '${Version}' systemd-boot-efi 2>/dev/null)) as QEMU -kernel"
        ;;
    seabios-kernel)
        cmdline="$CONSOLE ima_policy=tcb ima_template=ima-sig ima_hash=sha256 bootgate.ima_policy=file"
        swtpm_qemu_start "$WORK/$c.tpm"
        bg_qemu_start "$c" --seabios --kernel "$BG_KERNEL" --initrd "$WORK/initrd.img" \
            --append "$cmdline" --tpm
        how="SeaBIOS (QEMU $(qemu-system-x86_64 --version | awk 'NR==1 { print $4 }')) + swtpm, -kernel/-initrd"
        ;;
    seabios-tpm12)
        cmdline="$CONSOLE ima_policy=tcb ima_template=ima-ng ima_hash=sha256 bootgate.ima_policy=file"
        swtpm_qemu_start "$WORK/$c.tpm" tpm12
        bg_qemu_start "$c" --seabios --kernel "$BG_KERNEL" --initrd "$WORK/initrd.img" \
            --append "$cmdline" --tpm
        how="SeaBIOS (QEMU $(qemu-system-x86_64 --version | awk 'NR==1 { print $4 }')) + swtpm TPM 1.2, -kernel/-initrd"
        ;;
    *) die "unknown case $c" ;;
    esac
    bg_qemu_wait_marker "$c" 'BOOTGATE-MARKER: capture-done'
    bg_qemu_wait_exit "$c"
    t=$BG_ELAPSED
    swtpm_qemu_stop
    mkdir -p "$dir"
    bg_qemu_fetch "$c" eventlog "$dir/eventlog.bin"
    bg_qemu_fetch "$c" ima "$dir/ima.bin"
    bg_qemu_fetch "$c" cmdline "$dir/cmdline"
    bg_qemu_fetch "$c" uname-r "$dir/uname-r"
    bg_qemu_fetch "$c" pcrs "$WORK/$c.pcrs"
    bg_qemu_fetch "$c" pcrs-after "$WORK/$c.pcrs-after"
    cmp -s "$WORK/$c.pcrs" "$WORK/$c.pcrs-after" ||
        bg_qemu_fail "$c" "PCRs moved while the logs were read (something was measured)"
    rm -f "$dir"/pcrs-*.json
    for bank in sha1 sha256 sha384 sha512; do
        grep -q "^$bank " "$WORK/$c.pcrs" || continue
        pcrs_json "$bank" <"$WORK/$c.pcrs" >"$dir/pcrs-$bank.json" ||
            bg_qemu_fail "$c" "bad PCR dump"
    done
    [[ -s $dir/pcrs-sha256.json || -s $dir/pcrs-sha1.json ]] ||
        bg_qemu_fail "$c" "no sha1/sha256 PCRs from the guest"
    echo "$t" >"$dir/boot-seconds"
    if [[ ${#sb_inputs[@]} -gt 0 ]]; then
        cp "${sb_inputs[2]}" "$dir/grub.cfg"
        # -k: the kernel and initrd too (for predictions; not committed: big)
        if ((KEEP_INPUTS)); then
            mkdir -p "$dir/inputs"
            cp "${sb_inputs[0]}" "$dir/inputs/vmlinuz" && cp "${sb_inputs[1]}" "$dir/inputs/initrd.img"
        fi
    fi
    printf '%s: %s; kernel %s (Debian), busybox initramfs (IMA: see cmdline, runtime policy tests/boot/lib/guest/ima-policy), tests/boot/capture.sh %s, %s.\n' \
        "$c" "$how" "$(cat "$dir/uname-r")" "$c" "$(date -u +%Y-%m-%d)" >"$dir/README"
    log "$c: captured into $dir (boot to power-off ${t}s)"
}

for c in "${CASES[@]}"; do
    run_case "$c"
done
