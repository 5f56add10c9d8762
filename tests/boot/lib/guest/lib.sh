# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=dash
# Guest side of the bootgate boot harness (busybox sh).
# Data leaves the VM on the second serial port (/dev/ttyS1), never on the console,
# so kernel messages cannot interleave with it.

BG_DATA=/dev/ttyS1

bg_marker() { echo "BOOTGATE-MARKER: $*" >/dev/console; }

# bg_emit NAME FILE: one base64 block; bg_qemu_fetch on the host decodes it.
bg_emit() {
    {
        echo "BOOTGATE-BEGIN $1"
        base64 "$2"
        echo "BOOTGATE-END $1"
    } >"$BG_DATA"
}

# bg_emit_text NAME TEXT: same, from a string (through a pipe: no file is opened,
# so an IMA policy measuring files on the rootfs sees nothing new).
bg_emit_text() {
    {
        echo "BOOTGATE-BEGIN $1"
        printf '%s\n' "$2" | base64
        echo "BOOTGATE-END $1"
    } >"$BG_DATA"
}

# bg_cmdline_arg KEY: value of KEY=value on the kernel command line.
bg_cmdline_arg() {
    local a
    for a in $(cat /proc/cmdline); do
        case $a in "$1"=*) echo "${a#*=}" ;; esac
    done
}
