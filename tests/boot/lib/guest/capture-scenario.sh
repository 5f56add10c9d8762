# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=dash
# Guest scenario for tests/boot/capture.sh: make IMA measure a few files, then send
# the firmware event log, the IMA log and every PCR of every active bank to the host.
#
# The kernel command line turns IMA on (ima_policy=..., ima_template=...). With
# bootgate.ima_policy=file the scenario replaces the boot policy (once; the kernel
# has no CONFIG_IMA_WRITE_POLICY) with /etc/bootgate/ima-policy, which measures reads
# and executions on the initramfs (tcb excludes ramfs/tmpfs, so it measures nothing
# here) and excludes the pseudo file systems the dump reads, so nothing is measured
# while PCRs and logs are read.
SEC=/sys/kernel/security

if [ "$(bg_cmdline_arg bootgate.ima_policy)" = file ]; then
    cat /etc/bootgate/ima-policy >$SEC/ima/policy || bg_marker "ima-policy-write-failed"
fi
# Things for IMA to measure: file reads (FILE_CHECK) and a script run (BPRM_CHECK).
for f in /etc/bootgate/measure-*; do
    cat "$f" >/dev/null
done
/etc/bootgate/hello.sh >/dev/null

bg_emit cmdline /proc/cmdline
bg_emit uname-r /proc/sys/kernel/osrelease
if [ -r $SEC/tpm0/binary_bios_measurements ]; then
    bg_emit eventlog $SEC/tpm0/binary_bios_measurements
fi
pcrs() {
    local b i
    # TPM 1.2: one SHA-1 bank, "PCR-00: 3A 3F ..." lines.
    if [ -r /sys/class/tpm/tpm0/pcrs ]; then
        sed -n 's/^PCR-\([0-9]*\): *//p; ' /sys/class/tpm/tpm0/pcrs | tr -d ' ' |
            awk '{ printf "sha1 %d %s\n", NR - 1, tolower($0) }'
    fi
    for b in sha1 sha256 sha384 sha512; do
        [ -d /sys/class/tpm/tpm0/pcr-$b ] || continue
        for i in $(seq 0 23); do
            echo "$b $i $(cat /sys/class/tpm/tpm0/pcr-$b/$i)"
        done
    done
}
bg_emit_text pcrs "$(pcrs)"
if [ -r $SEC/ima/binary_runtime_measurements ]; then
    bg_emit ima $SEC/ima/binary_runtime_measurements
fi
# PCR 10 again: if anything was measured while the logs were read, the host sees
# the mismatch and rejects the capture instead of storing an inconsistent one.
bg_emit_text pcrs-after "$(pcrs)"
bg_emit_text dmesg-tpm "$(dmesg | grep -i -E 'tpm|ima' | head -n 40)"
bg_marker "capture-done"
# Variable updates to apply after the capture (capture.sh ovmf-sb-grub-dbx):
# /etc/bootgate/apply/NAME-GUID.var holds the 4 attribute bytes and an
# authenticated update, written in one write(2) as efivarfs wants it. db and dbx
# are immutable in efivarfs until chattr -i.
for f in /etc/bootgate/apply/*.var; do
    [ -e "$f" ] || continue
    v=/sys/firmware/efi/efivars
    grep -q " $v " /proc/mounts || mount -t efivarfs efivarfs $v || bg_marker "efivarfs-mount-failed"
    n=$(basename "$f" .var)
    [ -e "$v/$n" ] && chattr -i "$v/$n"
    if dd if="$f" of="$v/$n" bs=1M conv=notrunc 2>/dev/console; then
        bg_marker "applied ${n%%-*}"
    else
        bg_marker "apply-failed ${n%%-*}"
    fi
done
