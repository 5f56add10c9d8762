# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest scenario of bg_bootgate_provision (tests/boot/lib/bootgate.sh), run by the
# busybox /init of a UKI that OVMF boots from the same kind of ESP disk the
# final image uses. It is the "installer" of the machine:
#   1. formats /dev/vdb as LUKS2 (UUID and test passphrase from /etc/bootgate-prov/)
#      and copies the busybox root image (/root.ext4) into it;
#   2. brings up virtio-net (QEMU user net: 10.0.2.15, the host is 10.0.2.2) and
#      enrolls the node: bootgate-unlock enroll against bootgated with the
#      enroller certificate, which writes the bootgate LUKS2 token;
#   3. sends this boot's UEFI event log (the image builder's reference log) and
#      the enroll output to the host on the data port.
P=/etc/bootgate-prov
uuid=$(cat $P/uuid)
server=$(cat $P/server)
dev=/dev/vdb

step() { bg_marker "provision: $*"; }
fail() {
    bg_marker "provision-failed: $*"
    return 1
}

provision() {
    # Fast key derivation: TCG emulation makes argon2's default cost take minutes.
    cryptsetup luksFormat --batch-mode --type luks2 --uuid "$uuid" \
        --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file $P/pass $dev ||
        fail "luksFormat" || return 1
    cryptsetup open --key-file $P/pass $dev root || fail "luksOpen" || return 1
    dd if=/root.ext4 of=/dev/mapper/root bs=1M 2>/dev/null && sync || fail "copy root" || return 1
    cryptsetup close root || fail "luksClose" || return 1
    step "luks2 root written"

    ip link set lo up
    ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 &&
        ip route add default via 10.0.2.2 || fail "network" || return 1
    # The node's clock decides whether the server certificate is valid yet.
    step "enrolling at $server (time $(date -u +%FT%TZ))"
    bootgate-unlock --tcti device:/dev/tpmrm0 enroll --server "$server" --ca $P/ca.pem \
        --group "$(cat $P/group)" --client-cert $P/enroller.crt --client-key $P/enroller.key \
        --key-file $P/pass $dev >/tmp/enroll.out 2>/tmp/enroll.err
    rc=$?
    cat /tmp/enroll.err >/dev/console
    bg_emit enroll /tmp/enroll.out
    [ $rc = 0 ] || fail "enroll exit $rc" || return 1
    bg_emit eventlog /sys/kernel/security/tpm0/binary_bios_measurements
    bg_marker "provisioned $uuid"
}
provision
