# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# The other boot chains of a test machine, built from Debian's packages as plain
# files (no loop devices, no mounting):
#
#   Secure Boot: OVMF (Microsoft keys enrolled) -> shim (shim-signed) -> GRUB
#   (grub-efi-amd64-signed) -> Debian's signed kernel + an initramfs. Boot with
#   bg_qemu_start --ovmf DISK --secure-boot.
#   systemd-boot: OVMF (Secure Boot off) -> systemd-boot (systemd-boot-efi) -> a UKI
#   in \EFI\Linux (boot loader specification type #2, found without an entry).
#
#   bg_sb_need                   skip unless shim, GRUB and the SB firmware are installed
#   bg_sb_grub_cfg OUT CMDLINE   grub.cfg: linux + initrd from \EFI\debian, no menu
#                                (every command GRUB runs is measured into PCR 8)
#   bg_sb_esp OUT KERNEL INITRD GRUBCFG
#                                GPT disk: \EFI\BOOT\BOOTX64.EFI = shim,
#                                \EFI\BOOT\grubx64.efi = GRUB (shim loads it from
#                                its own directory), \EFI\debian\grub.cfg (Debian's
#                                signed GRUB has prefix /EFI/debian built in, see
#                                its embedded config), \EFI\debian\vmlinuz and
#                                \EFI\debian\initrd.img
#   bg_sdboot_esp OUT UKI        GPT disk: \EFI\BOOT\BOOTX64.EFI = systemd-boot,
#                                \EFI\Linux\bootgate.efi = UKI, \loader\loader.conf
#                                (timeout 0)
#   bgc_image OUT INITRD CMDLINE
#                                for lib/bootgate.sh's bgb_uki when BGB_CHAIN is
#                                sb-grub or sdboot: OUT.disk with $BG_KERNEL (and for
#                                sb-grub OUT.grub.cfg; sdboot: OUT is the UKI)
#   bg_initrd_append OUT BASE DIR
#                                BASE + DIR's files as one more (uncompressed) cpio
#                                archive: the kernel unpacks concatenated archives,
#                                each starting on a 4-byte boundary (BASE is padded)
#   bg_kernel2                   another Debian kernel version, side by side: the
#                                signed vmlinuz of linux-image-6.1.0-N-amd64 (the
#                                newest N other than $BG_KVER's, or $BG_KVER2), fetched
#                                with apt-get download (Debian's archive) into
#                                $BOOTGATE_BUILDDIR/boot-cache/kernel2/. Sets
#                                BG_KERNEL2, BG_KVER2; returns 1 (BG_KERNEL2_WHY) when
#                                it cannot be had. bg_kernel2 --modules also unpacks
#                                its modules (depmod'ed) and sets BG_KMODDIR2, for
#                                dracut --kmoddir
#   (the disks are lib/uki.sh's bg_esp_tree: a fixed GPT, PCR 5)
# The files placed on the ESP are measured by GRUB into PCR 9 by their path, so
# the paths are fixed too (BG_SB_KERNEL_PATH, BG_SB_INITRD_PATH).

BG_SB_SHIM=${BG_SB_SHIM:-/usr/lib/shim/shimx64.efi.signed}
BG_SB_GRUB=${BG_SB_GRUB:-/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed}
BG_SDBOOT=${BG_SDBOOT:-/usr/lib/systemd/boot/efi/systemd-bootx64.efi}
BG_SB_KERNEL_PATH=/EFI/debian/vmlinuz
BG_SB_INITRD_PATH=/EFI/debian/initrd.img

bg_sb_need() {
    local f
    for f in "$BG_SB_SHIM" "$BG_SB_GRUB" "${BG_OVMF_SB_CODE:?}" "${BG_OVMF_SB_VARS:?}"; do
        [[ -r $f ]] || skip "no $f (shim-signed, grub-efi-amd64-signed, ovmf)"
    done
}

# GRUB's script syntax: a word with characters such as | ; & < > $ or quotes is
# single-quoted (GRUB measures the command after expansion, without the quotes).
bg_sb_grub_cfg() {
    local out=$1 w words=()
    for w in $2; do
        if [[ $w =~ ^[A-Za-z0-9_.,:=/+@%-]*$ ]]; then
            words+=("$w")
        else
            [[ $w != *"'"* ]] || die "bg_sb_grub_cfg: a single quote in '$w'"
            words+=("'$w'")
        fi
    done
    printf 'set timeout=0\nlinux %s %s\ninitrd %s\nboot\n' \
        "$BG_SB_KERNEL_PATH" "${words[*]}" "$BG_SB_INITRD_PATH" >"$out"
}

bg_sb_esp() {
    local out=$1 kernel=$2 initrd=$3 cfg=$4 t
    bg_sb_need
    t=$(mktemp -d "${WORK:-/tmp}/sbesp.XXXXXX") || die "mktemp"
    mkdir -p "$t/EFI/BOOT" "$t/EFI/debian"
    cp "$BG_SB_SHIM" "$t/EFI/BOOT/BOOTX64.EFI" && cp "$BG_SB_GRUB" "$t/EFI/BOOT/grubx64.efi" &&
        cp "$cfg" "$t/EFI/debian/grub.cfg" && cp "$kernel" "$t$BG_SB_KERNEL_PATH" &&
        cp "$initrd" "$t$BG_SB_INITRD_PATH" || die "staging the Secure Boot ESP"
    bg_esp_tree "$out" "$t"
    rm -rf "$t"
}

bg_sdboot_esp() {
    local out=$1 uki=$2 t
    [[ -r $BG_SDBOOT ]] || skip "no $BG_SDBOOT (systemd-boot-efi)"
    t=$(mktemp -d "${WORK:-/tmp}/sdesp.XXXXXX") || die "mktemp"
    mkdir -p "$t/EFI/BOOT" "$t/EFI/Linux" "$t/loader"
    cp "$BG_SDBOOT" "$t/EFI/BOOT/BOOTX64.EFI" && cp "$uki" "$t/EFI/Linux/bootgate.efi" ||
        die "staging the systemd-boot ESP"
    # No menu wait; the entry is the UKI's (type #2: its .osrel names it).
    printf 'timeout 0\ndefault bootgate*\n' >"$t/loader/loader.conf"
    bg_esp_tree "$out" "$t"
    rm -rf "$t"
}

bgc_image() {
    local out=$1 initrd=$2 cmdline=$3
    bg_kernel
    case ${BGB_CHAIN:-} in
    sb-grub)
        bg_sb_grub_cfg "$out.grub.cfg" "$cmdline"
        bg_sb_esp "$out.disk" "$BG_KERNEL" "$initrd" "$out.grub.cfg"
        ;;
    sdboot)
        bg_uki_build "$out" "$BG_KERNEL" "$initrd" "$cmdline"
        bg_sdboot_esp "$out.disk" "$out"
        ;;
    *) die "bgc_image: unknown BGB_CHAIN '${BGB_CHAIN:-}'" ;;
    esac
}

bg_kernel2() {
    local cache=${BOOTGATE_BUILDDIR:-${TMPDIR:-/tmp}}/boot-cache/kernel2 deb mods=0
    [[ ${1:-} != --modules ]] || mods=1
    bg_kernel
    if [[ -z ${BG_KVER2:-} ]]; then
        BG_KVER2=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
            awk '{ print $1 }' | sed 's/^linux-image-//' | grep -vx "$BG_KVER" | sort -V | tail -n 1)
    fi
    if [[ -z $BG_KVER2 ]]; then
        BG_KERNEL2_WHY="apt-cache knows no other linux-image-6.1.0-*-amd64"
        return 1
    fi
    BG_KERNEL2=$cache/vmlinuz-$BG_KVER2
    BG_KMODDIR2=$cache/root-$BG_KVER2/lib/modules/$BG_KVER2
    [[ -s $BG_KERNEL2 ]] && { ((!mods)) || [[ -s $BG_KMODDIR2/modules.dep ]]; } && return 0
    mkdir -p "$cache"
    deb=$(ls "$cache"/linux-image-"$BG_KVER2"_*.deb 2>/dev/null | head -n 1)
    if [[ -z $deb ]]; then
        (cd "$cache" && apt-get download "linux-image-$BG_KVER2") >"$cache/download.log" 2>&1 || {
            BG_KERNEL2_WHY="apt-get download linux-image-$BG_KVER2 failed: $(tail -n 1 "$cache/download.log")"
            return 1
        }
        deb=$(ls "$cache"/linux-image-"$BG_KVER2"_*.deb | head -n 1)
    fi
    dpkg-deb --fsys-tarfile "$deb" | tar -xO "./boot/vmlinuz-$BG_KVER2" >"$BG_KERNEL2.tmp" &&
        mv "$BG_KERNEL2.tmp" "$BG_KERNEL2" || {
        BG_KERNEL2_WHY="no ./boot/vmlinuz-$BG_KVER2 in $deb"
        return 1
    }
    if ((mods)); then
        rm -rf "$cache/root-$BG_KVER2"
        mkdir -p "$cache/root-$BG_KVER2"
        dpkg-deb -x "$deb" "$cache/root-$BG_KVER2" && depmod -b "$cache/root-$BG_KVER2" "$BG_KVER2" || {
            BG_KERNEL2_WHY="unpacking the modules of $deb failed"
            return 1
        }
    fi
    rm -f "$deb" # 70 MB; what is needed is unpacked
}

bg_initrd_append() {
    local out=$1 base=$2 dir=$3 size
    size=$(stat -c %s "$base")
    {
        cat "$base"
        head -c $(((4 - size % 4) % 4)) /dev/zero
        (cd "$dir" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet)
    } >"$out" || die "bg_initrd_append $out"
}
