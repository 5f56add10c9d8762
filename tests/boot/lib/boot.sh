# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# bootgate boot-test harness. Scripts do:
#   . "$(dirname "$0")/lib/boot.sh"
# See each part for its functions: common.sh (tests/lib/harness.sh: log, cleanup,
# assertions, swtpm, bootgated; artifacts),
# initramfs.sh (busybox initramfs + guest side), uki.sh (UKI + ESP disk), qemu.sh.
BG_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BG_LIB/common.sh"
. "$BG_LIB/initramfs.sh"
. "$BG_LIB/uki.sh"
. "$BG_LIB/qemu.sh"
. "$BG_LIB/luks.sh"
