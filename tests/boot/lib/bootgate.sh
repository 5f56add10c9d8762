# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034 # BGB_* globals are outputs for the caller
# bootgate end-to-end boot harness: one "machine" (OVMF + swtpm + a GPT ESP with a
# UKI + a LUKS2 root disk) that boots a Debian kernel with a dracut initramfs
# carrying the 90bootgate module, against a bootgated on the host's loopback.
# Source after lib/boot.sh. Everything lives in $WORK (see bg_workdir).
#
# bootgated is tests/lib/bootgated.sh's: `bootgated_init --san IP:10.0.2.2` (the
# server certificate also for the VM's view of the host), start_bootgated [DELAY],
# wait_bootgated, stop_bootgated; $SRV, $PORT, $URL (the VM uses
# https://10.0.2.2:$PORT).
#   bgb_esp OUT EFI          GPT ESP disk with EFI as \EFI\BOOT\BOOTX64.EFI, with a
#                            fixed disk/partition GUID and size: OVMF measures the
#                            GPT into PCR 5, so every image of this machine must
#                            present the same GPT for a predicted PCR 5 to hold
#   bgb_provision GROUP      the machine's "installer" boot (OVMF, busybox UKI):
#                            LUKS2 root on $BGB_DISK, enrolls the node (approved on
#                            the host: swtpm has no EK certificate), keeps the
#                            boot's event log as $BGB_REFLOG. Sets BGB_UUID,
#                            BGB_PASS, BGB_NODE. BGB_JOURNAL=1: the root sends
#                            the initramfs's journal on every boot (bgb_journal)
#   bgb_dracut OUT [DRACUT_ARG...]
#                            dracut initramfs with 90bootgate and bootgate-unlock
#                            from the bootgate-client package $BGB_CLIENT_DEB
#                            (dpkg-deb -x; unset: from the source and build tree)
#                            (private copy of dracut's base dir; the host is not
#                            modified) and the server CA ($BGB_CA, default the
#                            init-server one) as /etc/bootgate/ca.pem
#   bgb_cmdline [EXTRA...]   the kernel command line of the image ($BGB_CMDLINE)
#   bgb_uki OUT INITRD CMDLINE   UKI + ESP disk OUT.disk (BGB_CHAIN: another chain's
#                            disk, lib/chains.sh; BGB_FIRMWARE_ARGS: e.g. --secure-boot)
#   bgb_policy NAME VERSION UKI  predict the image's baseline from $BGB_REFLOG and
#                            the final UKI (or, for `-- ARG...`, those predict
#                            arguments), sign ($BGB_SIGN_KEY, default the
#                            init-server key) into $BGB_POLICY, then publish +
#                            activate (unless BGB_PUBLISH=0)
#   bgb_boot NAME ESPDISK [--timeout S]   boot the machine (swtpm state kept)
#   bgb_boot_unlocks NAME ESPDISK   boot it; bootgate unlocks the root on the first
#                            try (no denial, no passphrase prompt), the root is the
#                            LUKS2 volume, a key_released record and no
#                            unlock_denied for $BGB_NODE (the key_released records
#                            in $WORK/NAME.released.json); the seconds to the
#                            unlock in BGB_UNLOCK_S
#   bgb_breakglass_grant NAME REASON   the break-glass code on boot NAME's console
#                            ($BGB_BG_CODE; wait for it first) gets a grant
#                            requested and approved by two approvers ($BGB_BG_ID)
#   bgb_journal NAME DIR     the initramfs's journal that boot NAME's root sent
#                            (BGB_JOURNAL=1 machines) into DIR, for journalctl -D DIR
#   bgb_audit_since SEQ ACTION   prints the audit records (JSON array) after SEQ
#                            with ACTION for $BGB_NODE
#   bgb_audit_last           highest audit seq now
#   bgb_console NAME         the console log without CRs
#   bgb_expect NAME REGEX MSG / bgb_reject NAME REGEX MSG   assert on a console log

: "${BOOTGATECTL:?}" "${BOOTGATE_UNLOCK:?}"
BGB_SRC=${BOOTGATE_SRCDIR:-$(cd "$BG_LIB/../../.." && pwd)}
BGB_MEM=1024
# Fixed identities of the test machine's ESP disk (PCR 5: EV_EFI_GPT_EVENT).
BGB_ESP_DISK_GUID=6c0e4f8a-3b2d-4e59-9a41-b007ca7e0001
BGB_ESP_PART_GUID=6c0e4f8a-3b2d-4e59-9a41-b007ca7e0002
BGB_ESP_MIB=${BGB_ESP_MIB:-96}

bgb_esp() {
    local out=$1 efi=$2 t
    t=$(mktemp -d "$WORK/esp.XXXXXX") || die "mktemp"
    mkdir -p "$t/EFI/BOOT" && cp "$efi" "$t/EFI/BOOT/BOOTX64.EFI" || die "staging $efi"
    BG_ESP_DISK_GUID=$BGB_ESP_DISK_GUID BG_ESP_PART_GUID=$BGB_ESP_PART_GUID BG_ESP_MIB=$BGB_ESP_MIB \
        bg_esp_tree "$out" "$t"
    rm -rf "$t"
}

# The TCTI library is dlopen()ed: ldd does not list it.
_bgb_tcti_libs() {
    local d=$1 f
    for f in /usr/lib/x86_64-linux-gnu/libtss2-tcti-device.so.0*; do
        bg_initramfs_add_file "$d" "$f" "$f"
    done
}

bgb_provision() {
    local group=$1 d=$WORK/prov.initramfs p rootopt=()
    bg_kernel
    BGB_UUID=$(cat /proc/sys/kernel/random/uuid)
    BGB_PASS=bootgate-test-$RANDOM$RANDOM
    BGB_DISK=$WORK/luks.img
    BGB_TPM=$WORK/tpm
    rm -f "$BGB_DISK"
    truncate -s 64M "$BGB_DISK"
    [[ ${BGB_JOURNAL:-0} != 1 ]] || rootopt=(--journal)
    bg_rootfs_busybox "$WORK/root.ext4" "${rootopt[@]}"
    rm -rf "$d"
    bg_initramfs_new "$d"
    bg_initramfs_add_file "$d" "$BG_LIB/bootgate-provision-guest.sh" /scenario.sh
    bg_initramfs_add_binary "$d" cryptsetup "$BOOTGATE_UNLOCK"
    _bgb_tcti_libs "$d"
    bg_initramfs_add_modules "$d" virtio_pci virtio_blk virtio_net dm_crypt xts ecb algif_skcipher
    bg_initramfs_add_file "$d" "$WORK/root.ext4" /root.ext4
    p=$d/etc/bootgate-prov
    mkdir -p "$p"
    echo "$BGB_UUID" >"$p/uuid"
    printf '%s' "$BGB_PASS" >"$p/pass"
    echo "https://10.0.2.2:$PORT" >"$p/server"
    echo "$group" >"$p/group"
    cp "$SRV/ca.crt" "$p/ca.pem"
    cp "$SRV/enroller.crt" "$SRV/enroller.key" "$p/"
    bg_initramfs_pack "$d" "$WORK/prov.img"
    rm -rf "$d"
    bgb_uki "$WORK/prov.efi" "$WORK/prov.img" "console=ttyS0,115200 panic=-1 quiet"
    bgb_boot provision "$WORK/prov.efi.disk" --timeout 600
    bg_qemu_wait_marker provision "BOOTGATE-MARKER: (provisioned|provision-failed)" 600
    grep -q "BOOTGATE-MARKER: provisioned" "$WORK/provision.console.log" ||
        bg_qemu_fail provision "provisioning failed in the VM"
    bg_qemu_wait_exit provision 120
    BGB_REFLOG=$WORK/reference-eventlog.bin
    bg_qemu_fetch provision eventlog "$BGB_REFLOG"
    bg_qemu_fetch provision enroll "$WORK/enroll.out"
    BGB_NODE=$(awk '/^node_id/ { print $2 }' "$WORK/enroll.out")
    local fp state
    fp=$(awk '/^ek_fingerprint/ { print $2 }' "$WORK/enroll.out")
    state=$(awk '/^state/ { print $2 }' "$WORK/enroll.out")
    [[ -n $BGB_NODE && -n $fp ]] || die "enroll output without node_id/ek_fingerprint"
    if [[ $state == pending ]]; then
        "$BOOTGATECTL" node approve "$BGB_NODE" --ek-fingerprint "$fp" >/dev/null ||
            die "node approve $BGB_NODE"
    fi
    cryptsetup luksDump "$BGB_DISK" | grep -q "bootgate" ||
        die "$BGB_DISK has no bootgate token after enrollment"
}

bgb_dracut() {
    local out=$1 mod=$WORK/dracut-modules/90bootgate etc=$WORK/etc-bootgate bindir=$WORK/bin
    shift
    rm -rf "$mod" "$etc" "$bindir"
    mkdir -p "$mod" "$etc" "$bindir"
    if [[ -n ${BGB_CLIENT_DEB:-} ]]; then
        # the packaged files, as a machine with bootgate-client installed has them
        local root=$WORK/client-deb
        rm -rf "$root"
        dpkg-deb -x "$BGB_CLIENT_DEB" "$root" || die "dpkg-deb -x $BGB_CLIENT_DEB"
        cp "$root/usr/lib/dracut/modules.d/90bootgate/"* "$mod/" || die "no 90bootgate in $BGB_CLIENT_DEB"
        cp "$root/usr/bin/bootgate-unlock" "$bindir/" || die "no bootgate-unlock in $BGB_CLIENT_DEB"
    else
        cp "$BGB_SRC/dracut-module/90bootgate/module-setup.sh" "$mod/"
        cp "$BGB_SRC/systemd-units/bootgate-unlock.service" "$mod/"
        # A copy, not a symlink: dracut would install the link's target path too.
        cp "$BOOTGATE_UNLOCK" "$bindir/bootgate-unlock" || die "copy $BOOTGATE_UNLOCK"
    fi
    cp "${BGB_CA:-$SRV/ca.crt}" "$etc/ca.pem" || die "no server CA"
    # dracut builds its PATH from DRACUT_PATH (PATH itself is ignored).
    BG_DRACUT_MODULE_DIRS=$mod DRACUT_PATH="/sbin /bin /usr/sbin /usr/bin $bindir" \
        bgb_dracut_nocache "$out" --add bootgate --include "$etc" /etc/bootgate "$@"
}

# bg_dracut_build caches by its arguments; an image with this run's CA (a path
# in $WORK) can never be reused, so its cache entry is removed again.
bgb_dracut_nocache() {
    local stamp=$WORK/dracut.stamp cache=${BOOTGATE_BUILDDIR:-${TMPDIR:-/tmp}}/boot-cache
    : >"$stamp"
    BG_DRACUT_NOCACHE=1 bg_dracut_build "$@"
    [[ -d $cache ]] && find "$cache" -maxdepth 1 -name 'dracut-*.img' -newer "$stamp" -delete
    return 0
}

bgb_cmdline() {
    BGB_CMDLINE="console=ttyS0,115200 panic=-1 rd.luks.uuid=$BGB_UUID root=/dev/mapper/luks-$BGB_UUID"
    BGB_CMDLINE+=" rootfstype=ext4 rw rd.neednet=1 ip=dhcp systemd.show_status=1"
    [[ -z ${*:-} ]] || BGB_CMDLINE+=" $*"
}

# BGB_CHAIN=uki (default) or another chain of lib/chains.sh (source it first),
# which then builds OUT.disk from the same kernel, initrd and command line.
bgb_uki() {
    local out=$1 initrd=$2 cmdline=$3
    bg_kernel
    [[ ${BGB_CHAIN:-uki} == uki ]] || { bgc_image "$out" "$initrd" "$cmdline"; return; }
    bg_uki_build "$out" "$BG_KERNEL" "$initrd" "$cmdline"
    bgb_esp "$out.disk" "$out"
}

bgb_policy() {
    local name=$1 version=$2 pol=$WORK/policy-$1-$2.json predict=(--uki "$3")
    [[ $3 != -- ]] || predict=("${@:4}")
    "$BOOTGATECTL" policy predict --reference "$BGB_REFLOG" "${predict[@]}" --name "$name" \
        --version "$version" --out "$pol" >"$WORK/predict.out" 2>&1 || {
        bg_artifact "$WORK/predict.out" "$BGB_REFLOG"
        die "policy predict: $(tail -n 3 "$WORK/predict.out")"
    }
    "$BOOTGATECTL" policy sign --key "${BGB_SIGN_KEY:-$SRV/policy-signer.key}" "$pol" \
        >/dev/null 2>&1 || die "policy sign"
    BGB_POLICY=$pol
    [[ ${BGB_PUBLISH:-1} == 1 ]] || return 0
    "$BOOTGATECTL" policy publish "$pol" >/dev/null || die "policy publish"
    "$BOOTGATECTL" policy activate "$name" "$version" >/dev/null || die "policy activate"
}

bgb_boot() {
    local name=$1 disk=$2 timeout=600
    [[ ${3:-} == --timeout ]] && timeout=$4
    # One machine: the previous VM and its swtpm are gone before the next boot.
    bg_qemu_stop
    swtpm_qemu_stop
    swtpm_qemu_start "$BGB_TPM"
    bg_qemu_start "$name" --ovmf "$disk" ${BGB_FIRMWARE_ARGS:-} --disk "$BGB_DISK" --net --tpm \
        --mem "$BGB_MEM" --timeout "$timeout"
}

bgb_boot_unlocks() {
    local name=$1 seq
    seq=$(bgb_audit_last)
    bgb_boot "$name" "$2"
    bg_qemu_wait_marker "$name" 'bootgate-unlock: .*: unlocked \(policy' 400
    BGB_UNLOCK_S=$BG_ELAPSED
    bg_qemu_wait_marker "$name" 'BOOTGATE-MARKER: root-reached' 200
    bgb_reject "$name" 'unlock DENIED' "a denial before the unlock"
    bgb_reject "$name" 'Please enter passphrase' "the passphrase was asked for although bootgate unlocked"
    bgb_expect "$name" "BOOTGATE-MARKER: root-reached .*root=/dev/mapper/luks-$BGB_UUID" \
        "the root is not the unlocked LUKS2 volume"
    bg_qemu_wait_exit "$name" 120
    bgb_audit_since "$seq" key_released >"$WORK/$name.released.json"
    [[ $(jq length "$WORK/$name.released.json") -ge 1 ]] ||
        bg_qemu_fail "$name" "no key_released audit record for node $BGB_NODE"
    [[ $(bgb_audit_since "$seq" unlock_denied | jq length) == 0 ]] ||
        bg_qemu_fail "$name" "an unlock_denied record before the unlock"
}

bgb_breakglass_grant() {
    local name=$1 k
    BGB_BG_CODE=$(bgb_console "$name" |
        sed -n 's/^bootgate-unlock: .*break-glass code: \(BG-[A-Z0-9-]*\).*/\1/p' | head -n 1)
    [[ -n $BGB_BG_CODE ]] || bg_qemu_fail "$name" "no break-glass code on the console"
    BGB_BG_ID=$("$BOOTGATECTL" breakglass request --code "$BGB_BG_CODE" --reason "$2" --json \
        --cert "$SRV/approver.crt" --key "$SRV/approver.key" | jq -r .id)
    for k in 1 2; do
        "$BOOTGATECTL" breakglass approve "$BGB_BG_ID" --approver-key "$SRV/approver$k.key" \
            --cert "$SRV/approver.crt" --key "$SRV/approver.key" >/dev/null ||
            bg_qemu_fail "$name" "breakglass approve $BGB_BG_ID with approver$k"
    done
}

bgb_journal() {
    local name=$1 dir=$2
    bg_qemu_fetch "$name" initrd-journal "$WORK/$name.journal.tgz"
    rm -rf "$dir"
    mkdir -p "$dir" || die "mkdir $dir"
    tar -xzf "$WORK/$name.journal.tgz" -C "$dir" --strip-components=1 ||
        bg_qemu_fail "$name" "the initramfs journal from $name does not unpack"
}

bgb_audit_last() {
    "$BOOTGATECTL" audit list --json | jq 'map(.seq) | max // 0'
}

bgb_audit_since() {
    "$BOOTGATECTL" audit list --json --since "$1" |
        jq --arg a "$2" --arg n "$BGB_NODE" '[.[] | select(.action == $a and .node == $n)]'
}

bgb_console() { tr -d '\r' <"$WORK/$1.console.log"; }

# grep reads a process substitution, not a pipe: with pipefail, grep -q closing
# the pipe early would fail the pipeline (SIGPIPE) although it matched.
bgb_expect() {
    grep -Eq -- "$2" < <(bgb_console "$1") || bg_qemu_fail "$1" "$3 (no '$2' on the console)"
}

bgb_reject() {
    if grep -Eq -- "$2" < <(bgb_console "$1"); then bg_qemu_fail "$1" "$3 ('$2' on the console)"; fi
}

# bgb_show NAME ACTION SEQ: with BGB_SHOW=1, the client's console lines of boot
# NAME and the ACTION audit records after SEQ (for ci/demo.sh).
bgb_show() {
    [[ ${BGB_SHOW:-0} == 1 ]] || return 0
    printf '\n--- %s: bootgate-unlock on the serial console ---\n' "$1"
    bgb_console "$1" | grep -E '^bootgate-unlock: ' | sed 's/\x1b\[[0-9;]*m//g'
    printf -- '--- %s: audit records (%s) ---\n' "$1" "$2"
    bgb_audit_since "$3" "$2" | jq -c '.[] | {seq, time, action, node, details: (.details | fromjson? // . | if type == "object" then del(.pcrs) else . end)}'
    echo
}
