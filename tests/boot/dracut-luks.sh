#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The issue-5 boot pipeline, end to end, with timings:
#   1. a busybox root (ext4) and a blank disk; a provisioning VM formats the disk as
#      LUKS2 and copies the root into it (no device-mapper on the host)
#   2. a full dracut initramfs (systemd, systemd-networkd, crypt) in a UKI on a GPT
#      ESP; OVMF + swtpm + virtio-net (user; the host is 10.0.2.2) boots it with
#      rd.luks.uuid= rd.neednet=1 ip=dhcp; the harness types the passphrase at the
#      systemd-cryptsetup prompt on the serial console; the root's init fetches a
#      page from a server on the host and reports.
#
#   tests/boot/dracut-luks.sh [-i DRACUT_INITRD]   (-i: reuse a built initramfs)
# Prints one "timing:" line per step. BG_KEEP=1 keeps the work dir.
# BG_PCR_BANKS (default sha256) selects the swtpm's active PCR banks;
# BG_BOOT_FROM=esp boots the UKI from a GPT ESP instead of -kernel.
set -euo pipefail
export BG_NAME=dracut-luks
. "$(dirname "$0")/lib/boot.sh"

initrd=
while getopts i: opt; do
    case $opt in
    i) initrd=$OPTARG ;;
    *) echo "usage: $0 [-i DRACUT_INITRD]" >&2; exit 2 ;;
    esac
done
bg_need_cmd swtpm qemu-system-x86_64 dracut cryptsetup mke2fs busybox objcopy mcopy sfdisk
bg_kernel

timing() { printf 'timing: %-28s %s\n' "$1" "$2"; }

# Host web server the guest reaches as 10.0.2.2 (random free port, 127.0.0.1 only).
mkdir -p "$WORK/www"
echo "bootgate-host-reached" >"$WORK/www/index.html"
for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + RANDOM % 40000))
    ss -ltn | awk '{ print $4 }' | grep -q ":$port\$" && continue
    busybox httpd -f -p "127.0.0.1:$port" -h "$WORK/www" &
    httpd_pid=$!
    sleep 0.3
    kill -0 "$httpd_pid" 2>/dev/null && break
done
on_exit "kill $httpd_pid 2>/dev/null || true"

# 1. Provisioning.
uuid=$(cat /proc/sys/kernel/random/uuid)
pass=bootgate-test-$RANDOM$RANDOM
bg_rootfs_busybox "$WORK/root.ext4"
truncate -s 64M "$WORK/luks.img"
bg_luks_provision "$WORK/luks.img" "$uuid" "$pass" "$WORK/root.ext4"
timing "provision boot (SeaBIOS)" "${BG_ELAPSED}s"
cryptsetup luksDump "$WORK/luks.img" | grep -q "^UUID:.*$uuid" ||
    die "luks.img is not the LUKS2 volume $uuid"

# 2. dracut initramfs + UKI.
if [[ -z $initrd ]]; then
    initrd=$WORK/initrd-dracut.img
    bg_dracut_build "$initrd"
    timing "dracut build" "${BG_DRACUT_SECONDS}s"
fi
timing "dracut initramfs size" "$(stat -c %s "$initrd") bytes"
cmdline="console=ttyS0,115200 panic=-1 rd.luks.uuid=$uuid root=/dev/mapper/luks-$uuid rootfstype=ext4 rw"
cmdline+=" rd.neednet=1 ip=dhcp systemd.show_status=1 bootgate.http=10.0.2.2:$port"
bg_uki_build "$WORK/dracut.efi" "$BG_KERNEL" "$initrd" "$cmdline"
# BG_BOOT_FROM=esp: read the UKI from a GPT ESP as a real machine does (slow under
# TCG: ~25 s for 34 MB); default: QEMU hands it to OVMF (-kernel).
if [[ ${BG_BOOT_FROM:-fwcfg} == esp ]]; then
    bg_esp_build "$WORK/dracut.disk" "$WORK/dracut.efi"
    boot=(--ovmf "$WORK/dracut.disk")
else
    boot=(--ovmf-kernel "$WORK/dracut.efi")
fi
timing "UKI size" "$(stat -c %s "$WORK/dracut.efi") bytes"

swtpm_qemu_start "$WORK/tpm" "${BG_PCR_BANKS:-sha256}"
bg_qemu_start unlock "${boot[@]}" --disk "$WORK/luks.img" --net --tpm \
    --mem 1024 --timeout 600
bg_qemu_wait_marker unlock 'Linux version' 300
timing "kernel started" "${BG_ELAPSED}s"
bg_qemu_wait_marker unlock 'dracut-initqueue|Starting.*initqueue' 300
timing "dracut initqueue" "${BG_ELAPSED}s"
bg_qemu_wait_marker unlock 'Please enter passphrase|[Pp]assphrase for' 300
timing "passphrase prompt" "${BG_ELAPSED}s"
# A wrong passphrase first: the volume must refuse it and ask again.
bg_qemu_type unlock "not-$pass"
bg_qemu_wait_count unlock 2 'Please enter passphrase|[Pp]assphrase for' 120
timing "second prompt (wrong passphrase)" "${BG_ELAPSED}s"
grep -q 'BOOTGATE-MARKER: root-reached' "$WORK/unlock.console.log" &&
    bg_qemu_fail unlock "root reached with a wrong passphrase"
bg_qemu_type unlock "$pass"
bg_qemu_wait_marker unlock 'Switching root|Reached target.*Switch Root' 300
timing "switch_root" "${BG_ELAPSED}s"
bg_qemu_wait_marker unlock 'BOOTGATE-MARKER: root-reached' 120
timing "root init (LUKS2 root)" "${BG_ELAPSED}s"
timing "  guest uptime at root init" \
    "$(tr -d '\r' <"$WORK/unlock.console.log" | sed -n 's/.*root-reached uptime=\([0-9.]*\).*/\1/p')s"
bg_qemu_wait_marker unlock 'BOOTGATE-MARKER: net-(ok|failed)' 60
grep -q 'BOOTGATE-MARKER: net-ok bootgate-host-reached' "$WORK/unlock.console.log" ||
    bg_qemu_fail unlock "the root could not reach the host at 10.0.2.2:$port"
timing "host reached over virtio-net" "${BG_ELAPSED}s"
bg_qemu_wait_exit unlock 60
timing "power off" "${BG_ELAPSED}s"
bg_artifact "$WORK/unlock.console.log"
finish
