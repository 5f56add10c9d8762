#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2154 # dracut sets moddir, initdir, dracutsysrootdir, ...
#
# dracut module for bootgate: unlocks LUKS2 volumes that carry a "bootgate"
# token in the initramfs, after the network is up and before
# systemd-cryptsetup runs. Add it to an image with
#   dracut --add bootgate ...        or
#   add_dracutmodules+=" bootgate "  in /etc/dracut.conf.d/bootgate.conf
# The client configuration and the pinned server CA come from /etc/bootgate
# of the system the image is built for (written by `bootgate-unlock enroll`);
# an image builder can also add them with --include DIR /etc/bootgate.

check() {
    require_binaries bootgate-unlock || return 1
    # Only when asked for: an image builder opts in explicitly.
    return 255
}

depends() {
    # Not tpm2-tss: its dependency on systemd-udevd brings udev's hwdb (13 MB)
    # and it installs tpm2-tools and FAPI, none of which bootgate-unlock uses.
    # The client's own libraries come with it (ldd); the TCTI it dlopen()s is
    # installed by name below.
    echo crypt network systemd
    return 0
}

installkernel() {
    # The TPM drivers (tpm_tis, tpm_crb, ...): the TPM must be there before
    # the unit starts, whatever the host the image was built on has.
    hostonly='' instmods '=drivers/char/tpm'
}

install() {
    local _arch=${DRACUT_ARCH:-$(uname -m)} _bin

    # Always /usr/bin in the image (the unit's ExecStart), wherever the
    # builder found it (DRACUT_PATH may point at a build tree).
    _bin=$(find_binary bootgate-unlock) || return 1
    inst_binary "$_bin" /usr/bin/bootgate-unlock
    # tss2-tctildr dlopen()s the TCTI named in the config; dracut's library
    # scan cannot see a dlopen, so install the TCTIs by name.
    inst_libdir_file {"tls/$_arch/",tls/,"$_arch/",}"libtss2-tcti-device.so*"
    inst_libdir_file {"tls/$_arch/",tls/,"$_arch/",}"libtss2-tctildr.so*"

    # Client configuration and the pinned server CA written by
    # `bootgate-unlock enroll` (the CA's hash is also in the LUKS2 token).
    if [ -d "$dracutsysrootdir/etc/bootgate" ]; then
        inst_dir /etc/bootgate
        for f in "$dracutsysrootdir"/etc/bootgate/unlock.conf "$dracutsysrootdir"/etc/bootgate/*.pem; do
            [ -e "$f" ] && inst_simple "${f#"$dracutsysrootdir"}"
        done
    fi

    inst_simple "$moddir/bootgate-unlock.service" "$systemdsystemunitdir/bootgate-unlock.service"
    # cryptsetup-pre.target is passive: nothing pulls it in unless a unit
    # wants it, so the unit is wanted by cryptsetup.target (which the initrd
    # always reaches) and orders itself before cryptsetup-pre.target.
    $SYSTEMCTL -q --root "$initdir" add-wants cryptsetup.target bootgate-unlock.service

    # The unlock needs the network in the initramfs.
    mkdir -p "$initdir/etc/cmdline.d"
    echo "rd.neednet=1" >"$initdir/etc/cmdline.d/90bootgate.conf"
}
