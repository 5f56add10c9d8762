# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034 # BG_* globals are outputs for the caller
# A LUKS2-encrypted busybox root, provisioned inside a VM (the host has no
# device-mapper), and a full dracut (systemd) initramfs to boot it.
#
#   bg_rootfs_busybox OUT [--journal]
#                                  ext4 image (mke2fs -d, no mounting) with busybox
#                                  and an /sbin/init that prints "BOOTGATE-MARKER:
#                                  root-reached", fetches http://HOST:PORT/index.html
#                                  for bootgate.http=HOST:PORT ("net-ok BODY") and
#                                  powers off; --journal: before that it sends the
#                                  initramfs's journal (/run/log/journal, a tar.gz)
#                                  as data block "initrd-journal" (~1.3 s under TCG)
#   bg_luks_provision DISK UUID PASS ROOTIMG
#                                  boots a busybox initramfs with cryptsetup (SeaBIOS,
#                                  -kernel) that luksFormats DISK (LUKS2, pbkdf2 1000
#                                  iterations: fast under TCG, test only) with UUID and
#                                  PASS and copies ROOTIMG into it. Sets BG_ELAPSED.
#   bg_dracut_build OUT [DRACUT_ARG...]
#                                  dracut --no-hostonly with systemd, networkd, crypt
#                                  and the virtio drivers, for $BG_KVER, into OUT
#                                  (never /boot). BG_DRACUT_PROFILE=lean (default:
#                                  explicit module list, zstd) or full (--add, every
#                                  module that applies). Cached in
#                                  $BOOTGATE_BUILDDIR/boot-cache/ by a key over the
#                                  arguments, package versions and the files under
#                                  BG_DRACUT_KEY_PATHS (BG_DRACUT_NOCACHE=1: rebuild).
#                                  Sets BG_DRACUT_SECONDS (0 when cached).
#                                  BG_DRACUT_MODULE_DIRS="DIR..." : dracut module
#                                  directories from the tree (e.g. dracut-module/
#                                  90bootgate), used from a private copy of
#                                  /usr/lib/dracut (dracutbasedir), never installed;
#                                  add them with --add NAME. BG_DRACUT_PATH: prepended
#                                  to PATH for dracut (e.g. the build dir, for
#                                  require_binaries bootgate-unlock). Both are part
#                                  of the cache key.

bg_rootfs_busybox() {
    local out=$1 d
    d=$(mktemp -d "${WORK:-/tmp}/rootfs.XXXXXX") || die "mktemp"
    # /run: switch-root moves the initramfs's /run (its journal) here
    mkdir -p "$d"/{bin,sbin,lib,proc,sys,dev,run,tmp,etc}
    cp "$(command -v busybox)" "$d/bin/busybox" || die "copy busybox"
    local a
    for a in sh mount cut grep sed nc tail printf sync poweroff cat echo ls tr tar gzip base64; do
        ln -s busybox "$d/bin/$a"
    done
    cp "$BG_LIB/guest/root-init" "$d/sbin/init" && chmod 0755 "$d/sbin/init"
    if [[ ${2:-} == --journal ]]; then
        cp "$BG_LIB/guest/lib.sh" "$d/lib/bootgate-guest.sh" || die "copy guest lib.sh"
        mkdir -p "$d/etc/bootgate-test" && : >"$d/etc/bootgate-test/send-journal"
    fi
    # systemd's switch-root refuses a /sysroot without os-release.
    printf 'NAME="bootgate test root"\nID=bootgate-test-root\n' >"$d/etc/os-release"
    rm -f "$out"
    mke2fs -q -t ext4 -L bgroot -d "$d" "$out" 16M >/dev/null || die "mke2fs $out"
    rm -rf "$d"
}

bg_luks_provision() {
    local disk=$1 uuid=$2 pass=$3 rootimg=$4 d
    bg_kernel
    d=$WORK/provision.initramfs
    rm -rf "$d"
    bg_initramfs_new "$d"
    bg_initramfs_add_file "$d" "$BG_LIB/guest/provision-scenario.sh" /scenario.sh
    bg_initramfs_add_binary "$d" cryptsetup
    bg_initramfs_add_modules "$d" virtio_pci virtio_blk dm_crypt xts ecb algif_skcipher
    bg_initramfs_pack "$d" "$WORK/provision.img"
    rm -rf "$d"
    bg_qemu_start provision --seabios --kernel "$BG_KERNEL" --initrd "$WORK/provision.img" \
        --append "console=ttyS0,115200 panic=-1 quiet bootgate.luks_uuid=$uuid bootgate.luks_pass=$pass" \
        --disk "$disk" --disk "$rootimg" --mem 512
    bg_qemu_wait_marker provision "BOOTGATE-MARKER: (provisioned|provision-failed)"
    grep -q "BOOTGATE-MARKER: provisioned" "$WORK/provision.console.log" ||
        bg_qemu_fail provision "LUKS2 provisioning failed in the VM"
    bg_qemu_wait_exit provision
}

bg_dracut_build() {
    local out=$1 t0 key cache args
    shift
    bg_kernel
    bg_need_cmd dracut
    if [[ ${BG_DRACUT_PROFILE:-lean} == full ]]; then
        # Every dracut module that applies and every storage/network driver: ~57 MB.
        args=(--add "systemd network systemd-networkd crypt"
            --add-drivers "virtio_blk virtio_pci virtio_net dm_crypt ext4 xts ecb")
    else
        # Only what a systemd initrd with networkd and LUKS needs; the network
        # module still pulls in every NIC driver (kernel-network-modules): ~26 MB.
        args=(-m "systemd systemd-initrd systemd-networkd network crypt dm kernel-modules rootfs-block udev-rules base fs-lib dracut-systemd"
            --drivers "virtio_blk virtio_pci virtio_net dm_crypt ext4 xts ecb" --compress zstd)
    fi
    args+=(--no-hostonly --no-hostonly-cmdline --kver "$BG_KVER" "$@")
    # Cache by everything that goes in: arguments, kernel, package versions, and
    # the files under BG_DRACUT_KEY_PATHS (e.g. a dracut module being developed).
    key=$({
        printf '%s\n' "${args[@]}"
        dpkg-query -W dracut dracut-core systemd cryptsetup-bin "linux-image-$BG_KVER" 2>/dev/null
        local p
        for p in ${BG_DRACUT_KEY_PATHS:-} ${BG_DRACUT_MODULE_DIRS:-}; do
            find "$p" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
        done
        echo "${BG_DRACUT_PATH:-}"
        if [[ -n ${BG_DRACUT_PATH:-} ]]; then
            find ${BG_DRACUT_PATH//:/ } -maxdepth 1 -type f -perm -u+x -print0 2>/dev/null |
                LC_ALL=C sort -z | xargs -0 -r sha256sum
        fi
    } | sha256sum | cut -c1-16)
    cache=${BOOTGATE_BUILDDIR:-${TMPDIR:-/tmp}}/boot-cache/dracut-$key.img
    if [[ -s $cache && ${BG_DRACUT_NOCACHE:-0} != 1 ]]; then
        cp "$cache" "$out" || die "copy $cache"
        BG_DRACUT_SECONDS=0
        log "dracut initramfs from cache $cache"
        return 0
    fi
    local base='' m env=()
    if [[ -n ${BG_DRACUT_MODULE_DIRS:-} ]]; then
        base=$WORK/dracutbase
        rm -rf "$base"
        cp -a /usr/lib/dracut "$base" || die "copy /usr/lib/dracut"
        for m in $BG_DRACUT_MODULE_DIRS; do
            cp -r "$m" "$base/modules.d/" || die "copy dracut module $m"
        done
        env+=(dracutbasedir="$base")
    fi
    [[ -z ${BG_DRACUT_PATH:-} ]] || env+=(PATH="$BG_DRACUT_PATH:$PATH")
    t0=$(bg_now)
    env "${env[@]}" dracut --force --tmpdir "$WORK" "${args[@]}" "$out" >"$WORK/dracut.log" 2>&1 || {
        bg_artifact "$WORK/dracut.log"
        die "dracut failed"
    }
    BG_DRACUT_SECONDS=$(awk -v a="$t0" -v b="$(bg_now)" 'BEGIN { printf "%.1f", b - a }')
    mkdir -p "${cache%/*}" && cp "$out" "$cache.tmp" && mv "$cache.tmp" "$cache" || true
}
