#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The image-builder path of bootgate, as one command: build the boot image of a
# machine and the signed policy for exactly that image, before it ever boots.
#
#   tests/boot/image-build.sh --ca CA.pem --reference LOG --cmdline STR \
#       --name POLICY --version V --sign-key KEY.pem --out DIR \
#       [--kernel VMLINUZ] [--publish]
#
#   1. dracut initramfs for the kernel with the 90bootgate module of this source
#      tree (a private copy of /usr/lib/dracut: the build host is not modified),
#      bootgate-unlock ($BOOTGATE_UNLOCK) and the server CA as /etc/bootgate/ca.pem
#   2. UKI (systemd-stub + kernel + initramfs + STR) and a GPT ESP disk image
#   3. bootgatectl policy predict --reference LOG --uki UKI: the baseline of the new
#      image from the event log of an earlier boot of the same machine (firmware,
#      GPT, boot variables are taken from LOG; PCR 4/9/11 are recomputed from the
#      UKI), signed with KEY; --publish also uploads and activates it
#      (BOOTGATE_ADMIN_SERVER / BOOTGATE_ADMIN_CONFIG)
# Writes DIR/initrd.img, DIR/bootx64.efi, DIR/esp.img, DIR/policy.json(.sig).
# Needs BOOTGATECTL and BOOTGATE_UNLOCK (the build tree's binaries).
set -euo pipefail
# shellcheck disable=SC2034 # BG_*/BGB_* are inputs of the sourced harness
BG_NAME=image-build
# shellcheck source=lib/boot.sh
. "$(dirname "$0")/lib/boot.sh"
# shellcheck source=lib/bootgate.sh
. "$BG_LIB/bootgate.sh"

usage() {
    sed -n '/^#   tests/,/^#       \[--kernel/p' "$0" | sed 's/^# \{0,3\}//'
    exit "${1:-2}"
}
ca='' reflog='' cmdline='' name='' version='' key='' out='' publish=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --ca) ca=$2; shift ;;
    --reference) reflog=$2; shift ;;
    --cmdline) cmdline=$2; shift ;;
    --name) name=$2; shift ;;
    --version) version=$2; shift ;;
    --sign-key) key=$2; shift ;;
    --out) out=$2; shift ;;
    --kernel) BG_KERNEL=$2; shift ;;
    --publish) publish=1 ;;
    -h | --help) usage 0 ;;
    *) echo "image-build: unknown option $1" >&2; usage ;;
    esac
    shift
done
[[ -n $ca && -n $reflog && -n $cmdline && -n $name && -n $version && -n $key && -n $out ]] ||
    usage
bg_need_cmd dracut objcopy mkfs.fat mcopy sfdisk
mkdir -p "$out"
bg_kernel
BGB_CA=$ca BGB_REFLOG=$reflog BGB_SIGN_KEY=$key BGB_PUBLISH=$publish
bgb_dracut "$out/initrd.img"
log "initramfs $out/initrd.img ($(stat -c %s "$out/initrd.img") bytes, ${BG_DRACUT_SECONDS}s)"
bgb_uki "$out/bootx64.efi" "$out/initrd.img" "$cmdline"
mv "$out/bootx64.efi.disk" "$out/esp.img"
log "UKI $out/bootx64.efi, ESP disk $out/esp.img"
bgb_policy "$name" "$version" "$out/bootx64.efi"
mv "$BGB_POLICY" "$out/policy.json"
mv "$BGB_POLICY.sig" "$out/policy.json.sig"
log "policy $out/policy.json (+ .sig)$([[ $publish == 1 ]] && echo ', published and activated')"
