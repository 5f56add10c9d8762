#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian packages (issue 14): dpkg-buildpackage -us -uc -b on a copy of the
# sources builds bootgate-server, bootgate-client, bootgate-tools (and their
# -dbgsym) into $BOOTGATE_BUILDDIR/debs/, where the boot test installs the
# client from (ctest fixture "debs"). Then: lintian reports no error; the
# packages hold what they should and never the test tools; they install into a
# fresh root (dpkg --root, maintainer scripts run with DPKG_ROOT) where the
# sysusers.d/tmpfiles.d entries made the bootgate user and /var/lib/bootgate;
# bootgated --check passes from the installed files (and refuses a bad
# configuration); installing bootgate-client builds no initramfs, and purging
# it leaves no dracut module behind.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

for c in dpkg-buildpackage dh lintian dpkg-deb scdoc; do
    command -v "$c" >/dev/null || skip "$c not installed (ci/deps.sh)"
done
[ "$(id -u)" = 0 ] || skip "dpkg --root needs root"

OUT=$BOOTGATE_BUILDDIR/debs
rm -rf "$OUT"
mkdir -p "$OUT/src"
# the sources as they are (uncommitted changes too), without build trees
tar -C "$BOOTGATE_SRCDIR" --exclude='./build*' --exclude=./.git --exclude='./obj-*' \
    --exclude=./tests/boot/work --exclude=./out --exclude=./debian/tmp \
    --exclude='./debian/bootgate-*/' --exclude=./debian/.debhelper -cf - . | tar -C "$OUT/src" -xf -

t0=$(date +%s)
# nocheck: ctest runs the unit tests of this tree anyway
if ! (cd "$OUT/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"
    die "dpkg-buildpackage -us -uc -b failed (log: $OUT/build.log)"
fi
log "dpkg-buildpackage took $(($(date +%s) - t0)) s"
rm -rf "$OUT/src"

deb() { echo "$OUT/$1"_*_"$(dpkg --print-architecture)".deb; }
for p in bootgate-server bootgate-client bootgate-tools; do
    check "$p built" 1 "$(find "$OUT" -maxdepth 1 -name "${p}_*.deb" | wc -l)"
    check "$p-dbgsym built" 1 "$(find "$OUT" -maxdepth 1 -name "${p}-dbgsym_*.deb" | wc -l)"
done

# lintian: no errors; warnings are printed (and listed in the issue note)
lintian --fail-on error --tag-display-limit 0 "$OUT"/*.changes >"$WORK/lintian" 2>&1 || true
sed -n '/^[EW]:/p' "$WORK/lintian"
check "lintian: no errors" 0 "$(grep -c '^E:' "$WORK/lintian" || true)"

contents() { dpkg-deb -c "$(deb "$1")" | awk '{ print $6 }' | sed 's|^\./|/|'; }
has() { # PACKAGE PATH...
    local p=$1 f
    shift
    for f in "$@"; do
        if contents "$p" | grep -qx "$f"; then pass "$p ships $f"; else fail "$p ships $f"; fi
    done
}
has bootgate-server /usr/sbin/bootgated /lib/systemd/system/bootgated.service \
    /usr/lib/sysusers.d/bootgate.conf /usr/lib/tmpfiles.d/bootgate.conf \
    /usr/share/doc/bootgate-server/examples/bootgated.conf.example \
    /usr/share/doc/bootgate-server/examples/bootgate-alerts.yml \
    /usr/share/doc/bootgate-server/examples/bootgate-dashboard.json \
    /usr/share/man/man8/bootgated.8.gz /usr/share/man/man5/bootgated.conf.5.gz
has bootgate-client /usr/bin/bootgate-unlock /usr/lib/dracut/modules.d/90bootgate/module-setup.sh \
    /usr/lib/dracut/modules.d/90bootgate/bootgate-unlock.service \
    /usr/share/bash-completion/completions/bootgate-unlock \
    /usr/share/man/man8/bootgate-unlock.8.gz /usr/share/man/man5/bootgate-unlock.conf.5.gz \
    /usr/share/man/man7/bootgate.7.gz
has bootgate-tools /usr/bin/bootgatectl /usr/share/bash-completion/completions/bootgatectl \
    /usr/share/man/man8/bootgatectl.8.gz
check "no package ships the test tools" 0 \
    "$(for p in bootgate-server bootgate-client bootgate-tools; do contents $p; done |
        grep -c 'unlock-test\|testtool\|/tests/' || true)"
check "the unit file is packaged as it is in systemd-units/" "$(sha256sum <"$BOOTGATE_SRCDIR/systemd-units/bootgated.service")" \
    "$(dpkg-deb --fsys-tarfile "$(deb bootgate-server)" | tar -xOf - ./lib/systemd/system/bootgated.service | sha256sum)"

# the initramfs client's messages reach the journal with its unit: the unit
# sends both streams to the journal (and the console), and the module pulls in
# dracut's systemd module, which brings systemd-journald into the initrd. Here
# only the packaged files; boot.bootgate_boot's good scenario reads the entries
# back from a booted initramfs's journal.
client_file() { dpkg-deb --fsys-tarfile "$(deb bootgate-client)" | tar -xOf - "./usr/lib/dracut/modules.d/90bootgate/$1"; }
check "the initrd unit logs to journal+console" 2 \
    "$(client_file bootgate-unlock.service | grep -cxE 'Standard(Output|Error)=journal\+console')"
check "the dracut module depends on systemd (journald in the initrd)" 1 \
    "$(client_file module-setup.sh | sed -n '/^depends()/,/^}/p' | grep -c '^ *echo .*\bsystemd\b')"

# bootgate-client: nothing in its scripts or triggers rebuilds an initramfs
mkdir -p "$WORK/client-control"
dpkg-deb -e "$(deb bootgate-client)" "$WORK/client-control"
check "bootgate-client activates no trigger" "" "$(cat "$WORK/client-control/triggers" 2>/dev/null)"
check "bootgate-client scripts call neither dracut nor update-initramfs" 0 \
    "$(cat "$WORK"/client-control/{preinst,postinst,prerm,postrm} 2>/dev/null | grep -c 'dracut\|initramfs' || true)"

# a fresh root: an empty dpkg database, maintainer scripts run outside a
# chroot with DPKG_ROOT (systemd-sysusers/-tmpfiles --root); the libraries
# the packages depend on are the host's (--force-depends)
ROOT=$WORK/root
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$ROOT/etc" "$ROOT/boot"
touch "$ROOT/var/lib/dpkg/status" "$ROOT/var/lib/dpkg/available"
helper_state=/var/lib/systemd/deb-systemd-helper-enabled
before=$(find "$helper_state" 2>/dev/null | sort | sha256sum)
rootdpkg() { dpkg --root="$ROOT" --force-depends --force-script-chrootless --log=/dev/null "$@"; }
if ! rootdpkg -i "$(deb bootgate-server)" "$(deb bootgate-client)" "$(deb bootgate-tools)" \
    >"$WORK/dpkg-install.log" 2>&1; then
    cat "$WORK/dpkg-install.log"
    die "dpkg --root -i failed"
fi
check "installed: 3 packages" 3 "$(rootdpkg -l 'bootgate-*' | grep -c '^ii')"
check "the host's systemd state is untouched" "$before" "$(find "$helper_state" 2>/dev/null | sort | sha256sum)"
uid=$(awk -F: '$1 == "bootgate" { print $3 }' "$ROOT/etc/passwd" 2>/dev/null)
check_ok "sysusers.d made the system user bootgate" test -n "$uid"
check "tmpfiles.d made /var/lib/bootgate 0700 bootgate" "700 $uid" \
    "$(stat -c '%a %u' "$ROOT/var/lib/bootgate" 2>/dev/null)"
check "the unit is neither enabled nor started" 0 \
    "$(find "$ROOT/etc/systemd" -name 'bootgated.service' 2>/dev/null | wc -l)"
check "no initramfs was built on install" "" "$(ls -A "$ROOT/boot")"

# bootgated --check from the installed files, with init-server's config
"$ROOT/usr/bin/bootgatectl" init-server --port 0 "$WORK/etc" >/dev/null
sed -i "s|^db = .*|db = $ROOT/var/lib/bootgate/bootgate.db|" "$WORK/etc/bootgated.conf"
check_ok "installed bootgated --check passes" "$ROOT/usr/sbin/bootgated" -c "$WORK/etc/bootgated.conf" --check
echo "no_such_key = 1" >>"$WORK/etc/bootgated.conf"
set +e
"$ROOT/usr/sbin/bootgated" -c "$WORK/etc/bootgated.conf" --check >/dev/null 2>"$WORK/check.err"
rc=$?
set -e
check "installed bootgated --check refuses an unknown key" 1 "$((rc != 0))"
check "the refusal names the key" 1 "$(grep -c 'no_such_key' "$WORK/check.err")"
check "installed bootgate-unlock runs" 0 "$("$ROOT/usr/bin/bootgate-unlock" --version >/dev/null; echo $?)"

# purge: the dracut module goes with the package
check_ok "dpkg --purge bootgate-client" rootdpkg --purge bootgate-client
check "no dracut module left behind" "" "$(ls -A "$ROOT/usr/lib/dracut/modules.d" 2>/dev/null)"
check_ok "dpkg --purge bootgate-server bootgate-tools" rootdpkg --purge bootgate-server bootgate-tools
check "no bootgate file left in /usr" "" "$(find "$ROOT/usr" "$ROOT/lib" -name '*bootgate*' 2>/dev/null)"
check "the host's systemd state is untouched after the purge" "$before" \
    "$(find "$helper_state" 2>/dev/null | sort | sha256sum)"

finish
