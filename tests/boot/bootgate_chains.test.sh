#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgate on the other boot chains (issue 10), end to end like bootgate_boot's
# UKI chain: a provisioning boot on the chain (its event log is the reference),
# a dracut initramfs with 90bootgate, a LUKS2 root, bootgated on the host.
#   sb-grub   Secure Boot ON (OVMF_CODE_4M.secboot.fd + OVMF_VARS_4M.ms.fd, SMM):
#             Debian's signed shim -> signed GRUB (grub.cfg in \EFI\debian) ->
#             Debian's signed kernel. Scenarios:
#               good      image v1 (policy predicted from the provisioning boot with
#                         --kernel --initrd --cmdline --grub-cfg) unlocks; the reference log
#                         shows Secure Boot enabled and shim's SbatLevel
#               v2        a new kernel (another Debian version: bg_kernel2, from the
#                         archive with apt-get download; without it the same one),
#                         its initrd and a new command line get a baseline
#                         predicted, published and activated next to v1's
#                         (--into) before their first boot: unlocked on the first try
#               tamper    grub.cfg changed (one more kernel argument): denied, the
#                         explanation names PCR 8 or 9 and the GRUB event
#   sdboot    systemd-boot (Secure Boot off) -> UKI in \EFI\Linux: good (policy
#             predicted with --uki)
#
#   tests/boot/bootgate_chains.test.sh [CHAIN[:SCENARIO,...]...]
#       default: sb-grub:good,v2,tamper sdboot:good
# Prints "timing:" lines. BG_KEEP=1 keeps the work dir.
set -euo pipefail
# shellcheck disable=SC2034 # BG_NAME is read by the harness
BG_NAME=bootgate_chains
# shellcheck source=lib/boot.sh
. "$(dirname "$0")/lib/boot.sh"
# shellcheck source=lib/bootgate.sh
. "$BG_LIB/bootgate.sh"
# shellcheck source=lib/chains.sh
. "$BG_LIB/chains.sh"

RUNS=("$@")
[[ ${#RUNS[@]} -gt 0 ]] || RUNS=(sb-grub:good,v2,tamper sdboot:good)
bg_need_cmd swtpm qemu-system-x86_64 dracut cryptsetup mke2fs busybox objcopy mcopy sfdisk jq curl python3
bg_sb_need
[[ -x ${BOOTGATED:-} && -x ${BOOTGATE_UNLOCK:-} ]] || die "BOOTGATED and BOOTGATE_UNLOCK must be built"
bg_kernel
T_ALL=$(bg_now)
timing() { printf 'timing: %-40s %s\n' "$1" "$2"; }
since() { awk -v a="$1" -v b="$(bg_now)" 'BEGIN { printf "%.1fs", b - a }'; }

t=$(bg_now)
bootgated_init --san IP:10.0.2.2
start_bootgated
bgb_dracut "$WORK/initrd.img"
timing "dracut build (90bootgate)" "$(since "$t")"

# chain_setup CHAIN: provision a fresh machine (TPM, LUKS disk, node) on CHAIN.
chain_setup() {
    BGB_CHAIN=$1 GROUP=chain-$1 BGB_FIRMWARE_ARGS=
    [[ $1 != sb-grub ]] || BGB_FIRMWARE_ARGS=--secure-boot
    rm -rf "$WORK/tpm"
    t=$(bg_now)
    bgb_provision "$GROUP"
    timing "$1: provision + enroll boot" "$(since "$t")"
    cp "$BGB_REFLOG" "$WORK/$1.reference.bin"
    bgb_cmdline ""
    GOOD_CMDLINE=$BGB_CMDLINE
    bgb_uki "$WORK/$1-v1.efi" "$WORK/initrd.img" "$GOOD_CMDLINE"
    t=$(bg_now)
    if [[ $1 == sb-grub ]]; then
        bgb_policy "$GROUP" 1 -- --kernel "$BG_KERNEL" --initrd "$WORK/initrd.img" \
            --cmdline "$GOOD_CMDLINE" --grub-cfg "$WORK/$1-v1.efi.grub.cfg"
    else
        bgb_policy "$GROUP" 1 "$WORK/$1-v1.efi"
    fi
    timing "$1: predict + sign + publish + activate" "$(since "$t")"
}

# boot_unlocks NAME DISK: lib/bootgate.sh's bgb_boot_unlocks, with its timing.
boot_unlocks() {
    bgb_boot_unlocks "$1" "$2"
    timing "$1: attested unlock" "${BGB_UNLOCK_S}s"
}

scenario_good() {
    if [[ $BGB_CHAIN == sb-grub ]]; then
        # Secure Boot was really on: the firmware measured SecureBoot = 1 (PCR 7,
        # EV_EFI_VARIABLE_DRIVER_CONFIG), shim its SbatLevel, GRUB its commands.
        "$BOOTGATECTL" eventlog show "$WORK/sb-grub.reference.bin" >"$WORK/sb-grub.reference.txt"
        check_ok "Secure Boot enabled in the reference log" \
            grep -Eq 'SecureBoot: enabled' "$WORK/sb-grub.reference.txt"
        check_ok "shim measured SbatLevel" grep -q 'SbatLevel' "$WORK/sb-grub.reference.txt"
        check_ok "GRUB measured kernel_cmdline" grep -q 'kernel_cmdline: ' "$WORK/sb-grub.reference.txt"
    fi
    boot_unlocks "$BGB_CHAIN-v1" "$WORK/$BGB_CHAIN-v1.efi.disk"
    pass "$BGB_CHAIN good: image v1 unlocked"
}

# v2: new initrd (v1's plus one more cpio member: the kernel unpacks concatenated
# archives) and command line, optionally a new kernel; baseline predicted from the
# reference, added to the active policy (version 2 keeps v1's baseline).
scenario_v2() {
    local kernel=$BG_KERNEL cmdline pol=$WORK/policy-$GROUP-2.json st=$WORK/v2-extra
    mkdir -p "$st/etc"
    echo "bootgate image v2" >"$st/etc/bootgate-image"
    cmdline="$GOOD_CMDLINE quiet"
    if bg_kernel2 --modules; then
        # Another Debian kernel, its own dracut initramfs (its modules).
        local t=$(bg_now)
        BG_KERNEL=$BG_KERNEL2 BG_KVER=$BG_KVER2 bgb_dracut "$WORK/initrd-v2.base" \
            --kmoddir "$BG_KMODDIR2"
        timing "v2: dracut for $BG_KVER2" "$(since "$t")"
        kernel=$BG_KERNEL2
    else
        log "v2: no second kernel ($BG_KERNEL2_WHY): same kernel, new initrd and command line"
        cp "$WORK/initrd.img" "$WORK/initrd-v2.base"
    fi
    bg_initrd_append "$WORK/initrd-v2.img" "$WORK/initrd-v2.base" "$st"
    BG_KERNEL=$kernel bgb_uki "$WORK/v2.efi" "$WORK/initrd-v2.img" "$cmdline"
    "$BOOTGATECTL" policy predict --reference "$WORK/sb-grub.reference.bin" --kernel "$kernel" \
        --initrd "$WORK/initrd-v2.img" --cmdline "$cmdline" --grub-cfg "$WORK/v2.efi.grub.cfg" \
        --name "$GROUP" --version 2 \
        --baseline image-v2 --into "$BGB_POLICY" --out "$pol" >"$WORK/predict-v2.out" 2>&1 || {
        bg_artifact "$WORK/predict-v2.out"
        die "policy predict v2: $(tail -n 3 "$WORK/predict-v2.out")"
    }
    check_ok "v2 policy keeps v1's baseline" test "$(jq '.baselines | length' "$pol")" = 2
    "$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" "$pol" >/dev/null 2>&1 || die "policy sign"
    "$BOOTGATECTL" policy publish "$pol" >/dev/null || die "policy publish"
    "$BOOTGATECTL" policy activate "$GROUP" 2 >/dev/null || die "policy activate"
    BGB_POLICY=$pol
    local seq
    seq=$(bgb_audit_last)
    boot_unlocks sb-grub-v2 "$WORK/v2.efi.disk"
    bgb_expect sb-grub-v2 "unlocked \\(policy $GROUP v2" "v2 was not unlocked by policy version 2"
    # The new baseline (not v1's, also in version 2) is the one that matched.
    [[ $(bgb_audit_since "$seq" key_released |
        jq -r '.[-1].details | (fromjson? // .) | .evaluation.matched_baseline') == image-v2 ]] ||
        bg_qemu_fail sb-grub-v2 "the key_released record does not name the baseline image-v2"
    pass "sb-grub v2: predicted before its first boot, unlocked on the first try"
}

scenario_tamper() {
    local seq n
    # The attacker edits grub.cfg on the unencrypted ESP: one more kernel argument
    # (a short deadline, so the test does not wait for the default one).
    bgb_uki "$WORK/tamper.efi" "$WORK/initrd.img" "$GOOD_CMDLINE rd.bootgate.timeout=45"
    seq=$(bgb_audit_last)
    bgb_boot tamper "$WORK/tamper.efi.disk"
    bg_qemu_wait_marker tamper 'bootgate-unlock: .*unlock DENIED' 400
    timing "tamper: denial on the console" "${BG_ELAPSED}s"
    bg_qemu_wait_marker tamper 'break-glass code: BG-' 30
    bgb_expect tamper 'PCR (8|9) changed EV_IPL "(grub_cmd: linux|kernel_cmdline: |\(hd0,gpt1\)/EFI/debian/grub\.cfg)' \
        "the explanation does not name PCR 8 or 9 and GRUB's event"
    bg_qemu_wait_marker tamper 'Please enter passphrase|[Pp]assphrase for' 200
    bgb_reject tamper 'BOOTGATE-MARKER: root-reached' "the root was reached on a tampered boot"
    bgb_reject tamper 'bootgate-unlock: .*: unlocked' "bootgate unlocked a tampered boot"
    bg_qemu_stop
    n=$(bgb_audit_since "$seq" unlock_denied | jq length)
    [[ $n -ge 1 ]] || bg_qemu_fail tamper "no unlock_denied audit record"
    [[ $(bgb_audit_since "$seq" key_released | jq length) == 0 ]] ||
        bg_qemu_fail tamper "a key was released for the tampered boot"
    pass "sb-grub tamper: grub.cfg change denied (audit unlock_denied x$n)"
}

for run in "${RUNS[@]}"; do
    chain=${run%%:*}
    scenarios=good
    [[ $run != *:* ]] || scenarios=${run#*:}
    t0=$(bg_now)
    chain_setup "$chain"
    for s in ${scenarios//,/ }; do
        t=$(bg_now)
        "scenario_$s"
        timing "$chain: scenario $s" "$(since "$t")"
    done
    timing "$chain: total" "$(since "$t0")"
done
timing "all" "$(since "$T_ALL")"
finish
