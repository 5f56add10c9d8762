# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# Unified kernel image and a GPT disk with an EFI system partition, built as plain
# files (no loop devices, no mounting).
#
#   bg_uki_build OUT KERNEL INITRD CMDLINE
#       systemd-stub (systemd-boot-efi) + .osrel .cmdline .linux .initrd. The stub
#       measures these sections into PCR 11 (systemd >= 252).
#   bg_esp_build OUT EFI_BINARY
#       GPT disk: one EFI system partition (FAT) at 1 MiB holding EFI_BINARY as
#       \EFI\BOOT\BOOTX64.EFI, the removable-media path OVMF boots with empty vars.
#   bg_esp_tree OUT DIR
#       GPT disk whose ESP holds the tree DIR. The disk and partition GUIDs, FAT
#       serial and size are fixed (BG_ESP_DISK_GUID, BG_ESP_PART_GUID, BG_ESP_MIB):
#       OVMF measures the GPT into PCR 5, so the images of one machine must all
#       present the same one.

BG_UKI_STUB=${BG_UKI_STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}

BG_ESP_DISK_GUID=${BG_ESP_DISK_GUID:-6c0e4f8a-3b2d-4e59-9a41-b007ca7e0001}
BG_ESP_PART_GUID=${BG_ESP_PART_GUID:-6c0e4f8a-3b2d-4e59-9a41-b007ca7e0002}
BG_ESP_MIB=${BG_ESP_MIB:-96}

_bg_align() { echo $((($1 + $2 - 1) / $2 * $2)); }

bg_uki_build() {
    local out=$1 kernel=$2 initrd=$3 cmdline=$4 tmp base size vma args=() s f
    [[ -r $BG_UKI_STUB ]] || skip "no $BG_UKI_STUB (systemd-boot-efi)"
    tmp=$(mktemp -d "${WORK:-/tmp}/uki.XXXXXX") || die "mktemp"
    printf '%s' "$cmdline" >"$tmp/cmdline"
    printf 'NAME="bootgate test"\nID=bootgate-test\nPRETTY_NAME="bootgate boot test"\n' >"$tmp/osrel"
    base=$(objdump -p "$BG_UKI_STUB" | awk '$1 == "ImageBase" { print $2 }')
    size=$(objdump -p "$BG_UKI_STUB" | awk '$1 == "SizeOfImage" { print $2 }')
    [[ -n $base && -n $size ]] || die "cannot read the PE header of $BG_UKI_STUB"
    # Sections go after the stub's image, each on a 64 KiB boundary, in this order.
    vma=$(_bg_align $((0x$base + 0x$size)) 65536)
    for s in osrel:"$tmp/osrel" cmdline:"$tmp/cmdline" linux:"$kernel" initrd:"$initrd"; do
        f=${s#*:}
        s=${s%%:*}
        args+=(--add-section ".$s=$f" --change-section-vma ".$s=$(printf '0x%x' "$vma")")
        vma=$(_bg_align $((vma + $(stat -c %s "$f"))) 65536)
    done
    objcopy "${args[@]}" "$BG_UKI_STUB" "$out" || die "objcopy UKI"
    rm -rf "$tmp"
}

bg_esp_build() {
    local out=$1 efi=$2 kib part
    # FAT size: the binary plus 25% and 8 MiB of slack, at least 40 MiB (FAT16/32 sane).
    kib=$(($(stat -c %s "$efi") / 1024 * 5 / 4 + 8192))
    ((kib < 40960)) && kib=40960
    kib=$(_bg_align "$kib" 1024)
    part=$out.part
    rm -f "$part" "$out"
    mkfs.fat -C "$part" "$kib" >/dev/null || die "mkfs.fat"
    mmd -i "$part" ::/EFI ::/EFI/BOOT || die "mmd"
    mcopy -i "$part" "$efi" ::/EFI/BOOT/BOOTX64.EFI || die "mcopy"
    # 1 MiB for the GPT, the partition, 1 MiB for the backup GPT.
    truncate -s $((kib * 1024 + 2 * 1048576)) "$out" || die "truncate"
    printf 'label: gpt\nstart=2048, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP"\n' \
        $((kib * 2)) | sfdisk -q "$out" >/dev/null || die "sfdisk"
    dd if="$part" of="$out" bs=1M seek=1 conv=notrunc status=none || die "dd ESP"
    rm -f "$part"
}

bg_esp_tree() {
    local out=$1 dir=$2 part=$1.part used
    used=$(du -sk --apparent-size "$dir" | cut -f1)
    ((used < (BG_ESP_MIB - 8) * 1024)) || die "$dir (${used} KiB) too big for the ESP"
    rm -f "$part" "$out"
    mkfs.fat -i b0071a7e -C "$part" $((BG_ESP_MIB * 1024)) >/dev/null || die "mkfs.fat"
    mcopy -s -i "$part" "$dir"/* ::/ || die "mcopy $dir"
    truncate -s $(((BG_ESP_MIB + 2) * 1048576)) "$out" || die "truncate"
    printf 'label: gpt\nlabel-id: %s\nstart=2048, size=%d, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=%s, name="ESP"\n' \
        "$BG_ESP_DISK_GUID" $((BG_ESP_MIB * 2048)) "$BG_ESP_PART_GUID" |
        sfdisk -q "$out" >/dev/null || die "sfdisk"
    dd if="$part" of="$out" bs=1M seek=1 conv=notrunc status=none || die "dd ESP"
    rm -f "$part"
}
