# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# A tiny busybox-static initramfs whose /init runs one scenario script.
#
#   bg_kernel                      sets BG_KERNEL (newest /boot/vmlinuz-*) and BG_KVER
#                                  (override with BG_KERNEL=path BG_KVER=version)
#   bg_initramfs_new DIR           skeleton: busybox, /init, /lib/bootgate-guest.sh
#   bg_initramfs_add_file DIR SRC DST [MODE]
#   bg_initramfs_add_modules DIR MODULE...
#                                  copies each module and its dependencies (modprobe
#                                  --show-depends for $BG_KVER; built-in ones are
#                                  skipped) and lists them in load order for /init
#   bg_initramfs_add_binary DIR BIN...
#                                  copies each host binary (PATH lookup) to /bin and
#                                  its shared libraries (ldd) to their host paths
#   bg_initramfs_pack DIR OUT      newc cpio, gzip; prints nothing
#   bg_initramfs_busybox OUT SCENARIO [MODULE...]
#                                  all of the above in one call: SCENARIO is a
#                                  shell script (sourced by /init as /scenario.sh)
#
# The guest side (/lib/bootgate-guest.sh, sourced before the scenario) gives the
# scenario: bg_marker TEXT (serial console line "BOOTGATE-MARKER: TEXT"),
# bg_emit NAME FILE (base64 of FILE on the data port /dev/ttyS1, read back on the
# host with bg_qemu_fetch), bg_emit_text NAME TEXT, and bg_cmdline_arg KEY.
# /init mounts proc, sysfs, devtmpfs, securityfs, loads the listed modules, runs
# the scenario, then powers off (QEMU runs with -no-reboot, so it exits).

bg_kernel() {
    if [[ -z ${BG_KERNEL:-} ]]; then
        BG_KERNEL=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n1)
        [[ -n $BG_KERNEL ]] || skip "no kernel in /boot (linux-image-amd64)"
    fi
    [[ -r $BG_KERNEL ]] || skip "$BG_KERNEL not readable"
    BG_KVER=${BG_KVER:-${BG_KERNEL##*/vmlinuz-}}
}

bg_initramfs_new() {
    local d=$1 bb
    bb=$(command -v busybox) || skip "busybox-static not installed"
    # A dynamic busybox would need its libraries in the initramfs.
    ldd "$bb" >/dev/null 2>&1 && skip "$bb is not static (busybox-static)"
    mkdir -p "$d"/{bin,dev,proc,sys,run,tmp,etc,lib/modules,mnt,newroot} || die "mkdir $d"
    cp "$bb" "$d/bin/busybox" || die "copy busybox"
    ln -sf busybox "$d/bin/sh"
    cp "$BG_LIB/guest/init" "$d/init" && chmod 0755 "$d/init" || die "copy init"
    cp "$BG_LIB/guest/lib.sh" "$d/lib/bootgate-guest.sh" || die "copy guest lib"
    : >"$d/etc/modules.load"
}

bg_initramfs_add_file() {
    local d=$1 src=$2 dst=$3 mode=${4:-}
    mkdir -p "$d/$(dirname "$dst")" && cp -L "$src" "$d/$dst" || die "add $src"
    [[ -z $mode ]] || chmod "$mode" "$d/$dst"
}

bg_initramfs_add_modules() {
    local d=$1 line ko rel
    shift
    [[ $# -gt 0 ]] || return 0
    bg_kernel
    while read -r line; do
        case $line in
        insmod\ *)
            ko=${line#insmod }
            ko=${ko%% *}
            rel=${ko##*/}
            [[ -e $d/lib/modules/$rel ]] && continue
            case $ko in
            *.xz) xz -dc "$ko" >"$d/lib/modules/${rel%.xz}" || die "unxz $ko"; rel=${rel%.xz} ;;
            *.zst) zstd -qdc "$ko" >"$d/lib/modules/${rel%.zst}" || die "unzstd $ko"; rel=${rel%.zst} ;;
            *) cp "$ko" "$d/lib/modules/$rel" || die "copy $ko" ;;
            esac
            grep -qx "$rel" "$d/etc/modules.load" || echo "$rel" >>"$d/etc/modules.load"
            ;;
        builtin\ *) ;;
        *) die "modprobe --show-depends: unexpected '$line'" ;;
        esac
    done < <(modprobe -S "$BG_KVER" -a --show-depends "$@" 2>&1 || echo "failed")
}

bg_initramfs_add_binary() {
    local d=$1 b path lib
    shift
    for b in "$@"; do
        path=$(command -v "$b") || die "no $b on the host"
        cp -L "$path" "$d/bin/${path##*/}" || die "copy $path"
        while read -r lib; do
            [[ -e $d$lib ]] && continue
            mkdir -p "$d$(dirname "$lib")" && cp -L "$lib" "$d$lib" || die "copy $lib"
        done < <(ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
    done
}

bg_initramfs_pack() {
    local d=$1 out=$2
    (cd "$d" && find . -print0 | LC_ALL=C sort -z |
        cpio --null -o -H newc --owner=0:0 --quiet) | gzip -6 >"$out" ||
        die "pack initramfs $out"
}

bg_initramfs_busybox() {
    local out=$1 scenario=$2 d
    shift 2
    d=$(mktemp -d "${WORK:-/tmp}/initramfs.XXXXXX") || die "mktemp"
    bg_initramfs_new "$d"
    bg_initramfs_add_file "$d" "$scenario" /scenario.sh
    bg_initramfs_add_modules "$d" "$@"
    bg_initramfs_pack "$d" "$out"
    rm -rf "$d"
}
