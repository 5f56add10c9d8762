# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=dash
# Guest scenario: provision a LUKS2 root (the host has no device-mapper).
# /dev/vda: blank disk that becomes LUKS2 (UUID bootgate.luks_uuid=, passphrase
# bootgate.luks_pass= -- a test secret, never a real one); /dev/vdb: the ext4 root
# image the host built with mke2fs -d, copied into the opened volume.
uuid=$(bg_cmdline_arg bootgate.luks_uuid)
pass=$(bg_cmdline_arg bootgate.luks_pass)
# Fast key derivation: TCG emulation makes argon2's default cost take minutes.
if printf '%s' "$pass" | cryptsetup luksFormat --batch-mode --type luks2 --uuid "$uuid" \
    --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file - /dev/vda &&
    printf '%s' "$pass" | cryptsetup open --key-file - /dev/vda root &&
    dd if=/dev/vdb of=/dev/mapper/root bs=1M 2>/dev/null && sync &&
    cryptsetup close root; then
    bg_marker "provisioned $uuid"
else
    bg_marker "provision-failed"
fi
