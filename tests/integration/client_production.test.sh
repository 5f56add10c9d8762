#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bootgate-unlock that is installed (and that the dracut module puts in
# the initramfs) has no test drivers: `debug` and the driver commands are a
# usage error (exit 2), and neither their code, symbols nor usage text are in
# the binary; they live in bootgate-unlock-test, which `cmake --install`
# does not install and the dracut module does not pick up.
source "$(dirname "$0")/client_common.sh"
: "${BOOTGATE_BUILDDIR:?}"
command -v strings >/dev/null || { echo "binutils (strings) missing"; exit 77; }
cd "$T" # no file named like a command

# Present in the test driver, so that their absence below means something.
MARKS=(testtool_activate testtool_keys testtool_http "tpm2_makecredential file"
    "not a tpm2-tools credential file" "credential-file" "bootgate-unlock-test")
# (strings to a file: `strings | grep -q` fails under pipefail when grep stops early)
strings -a "$BOOTGATE_UNLOCK_TEST" >"$T/strings"
for m in "${MARKS[@]}"; do
    grep -qF -- "$m" "$T/strings" || fail "'$m' not in the test driver"
done

no_drivers() { # BINARY WHAT
    local m c rc
    strings -a "$1" >"$T/strings"
    grep -q 'client_unlock_main' "$T/strings" || fail "$2: no symbols to check"
    for m in "${MARKS[@]}" client_debug_main debug_activate "debug COMMAND"; do
        ! grep -qF -- "$m" "$T/strings" || fail "$2 contains '$m'"
    done
    for c in debug keys quote activate luks http; do
        set +e
        "$1" --config /dev/null --tcti "$TCTI" $c --help >"$T/out" 2>"$T/err"
        rc=$?
        set -e
        [ $rc -eq 2 ] && grep -q "unknown command '$c'" "$T/err" ||
            fail "$2 $c: exit $rc (want 2): $(cat "$T/err")"
    done
    set +e
    "$1" --config /dev/null --tcti "$TCTI" debug activate --credential-file /dev/null >/dev/null 2>&1
    rc=$?
    set -e
    [ $rc -eq 2 ] || fail "$2 debug activate: exit $rc"
    "$1" --help >"$T/help"
    grep -q 'enroll' "$T/help" || fail "$2 --help"
    ! grep -qi 'debug COMMAND\|test driver' "$T/help" || fail "$2 --help lists test drivers"
}
no_drivers "$BOOTGATE_UNLOCK" "bootgate-unlock (build tree)"
ok "bootgate-unlock (build tree): debug/keys/quote/activate/luks/http are usage errors, no driver code"

# --- what `cmake --install` installs
DESTDIR="$T/inst" cmake --install "$BOOTGATE_BUILDDIR" >"$T/install.log" 2>&1 ||
    fail "cmake --install: $(tail -5 "$T/install.log")"
mapfile -t bins < <(find "$T/inst" -type f -name 'bootgate-unlock*' -perm -u+x)
[ ${#bins[@]} -eq 1 ] && [ "$(basename "${bins[0]}")" = bootgate-unlock ] ||
    fail "installed bootgate-unlock binaries: ${bins[*]}"
[ -z "$(find "$T/inst" -name '*-test*')" ] || fail "a test binary is installed: $(find "$T/inst" -name '*-test*')"
no_drivers "${bins[0]}" "installed bootgate-unlock"
ok "cmake --install: only ${bins[0]#"$T/inst"}, without test drivers"

# --- what the installed dracut module puts in the initramfs: its install()
# with dracut's helpers recorded, and bootgate-unlock-test findable in PATH
msetup=$(find "$T/inst" -path '*90bootgate/module-setup.sh')
[ -f "$msetup" ] || fail "module-setup.sh not installed"
(
    find_binary() { PATH="$(dirname "${bins[0]}"):$BOOTGATE_BUILDDIR:$PATH" command -v "$1"; }
    inst_binary() { echo "binary $*" >>"$T/dracut.log"; }
    inst_simple() { echo "file $*" >>"$T/dracut.log"; }
    inst_libdir_file() { :; }
    inst_dir() { :; }
    # shellcheck disable=SC2034 # read by module-setup.sh
    SYSTEMCTL=true initdir=$T/initdir moddir=$(dirname "$msetup") dracutsysrootdir=$T/sysroot \
        systemdsystemunitdir=/usr/lib/systemd/system
    # shellcheck source=/dev/null
    source "$msetup"
    install
) || fail "module-setup.sh install() failed"
mapfile -t inst < <(awk '$1 == "binary" {print $2 " " $3}' "$T/dracut.log")
[ ${#inst[@]} -eq 1 ] && [ "${inst[0]##* }" = /usr/bin/bootgate-unlock ] ||
    fail "dracut module installs: ${inst[*]}"
! grep -q 'unlock-test' "$T/dracut.log" || fail "dracut module picks up the test driver"
no_drivers "${inst[0]%% *}" "bootgate-unlock of the initramfs"
ok "dracut 90bootgate installs only ${inst[0]%% *} as /usr/bin/bootgate-unlock"
echo PASS
