#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 5 end to end: a Debian kernel + dracut initramfs with 90bootgate in a UKI on
# a GPT ESP; OVMF + swtpm + QEMU user net (bootgated on the host loopback, the VM
# sees it as 10.0.2.2); a busybox root inside LUKS2. The expensive parts (kernel,
# initramfs, provisioned disk + TPM state, policy) are made once, then the
# scenarios boot the same machine in sequence:
#   good        attested unlock, the root's marker, audit key_released; the
#               initramfs's journal (sent by the root) holds the client's
#               "unlocked" line under its unit, as `journalctl -b -u` shows it
#   tamper      UKI with a changed kernel command line: denied, the explanation
#               names the PCR, a BG- break-glass code; root not unlocked; audit
#               unlock_denied
#   late-server bootgated starts 20 s into the boot; the VM unlocks once it is up
#   no-server   bootgated never answers: the client gives up at rd.bootgate.timeout=,
#               the passphrase prompt appears, the test types it, the boot completes
#   breakglass  a tampered boot unlocked by a two-approver grant for the code on
#               its console
#
#   tests/boot/bootgate_boot.test.sh [SCENARIO...]     (default: all, in this order)
# Also: policy-update (run last: activates version 2), measure-keyfile (boot time with a plain key file instead), measure-clevis
# (initramfs size with Debian's clevis modules instead). BGB_SHOW=1 prints the
# client's console lines and the audit records (ci/demo.sh).
# Prints "timing:" lines. BG_KEEP=1 keeps the work dir. Failures keep the console
# logs in $BOOTGATE_BUILDDIR/test-artifacts/bootgate_boot/.
set -euo pipefail
# shellcheck disable=SC2034 # BG_NAME is read by the harness
BG_NAME=bootgate_boot
# shellcheck source=lib/boot.sh
. "$(dirname "$0")/lib/boot.sh"
# shellcheck source=lib/bootgate.sh
. "$BG_LIB/bootgate.sh"

SCENARIOS=("$@")
[[ ${#SCENARIOS[@]} -gt 0 ]] || SCENARIOS=(good tamper late-server no-server breakglass)
bg_need_cmd swtpm qemu-system-x86_64 dracut cryptsetup mke2fs busybox objcopy mcopy sfdisk jq curl python3 \
    journalctl
[[ -x ${BOOTGATED:-} && -x ${BOOTGATE_UNLOCK:-} ]] || die "BOOTGATED and BOOTGATE_UNLOCK must be built"
# The image gets the client from the bootgate-client package that
# integration.packaging built (ctest fixture "debs"), so the packaged files are
# what boots; BGB_CLIENT_DEB= (empty) takes them from the tree instead.
if [[ -z ${BGB_CLIENT_DEB+set} ]]; then
    BGB_CLIENT_DEB=$(find "${BOOTGATE_BUILDDIR:?}/debs" -maxdepth 1 -name 'bootgate-client_*.deb' 2>/dev/null | head -1)
    [[ -n $BGB_CLIENT_DEB ]] || die "no bootgate-client .deb in $BOOTGATE_BUILDDIR/debs (ctest -R packaging builds it)"
fi
[[ -z $BGB_CLIENT_DEB ]] || log "client from the package $(basename "$BGB_CLIENT_DEB")"
bg_kernel
T_ALL=$(bg_now)
timing() { printf 'timing: %-34s %s\n' "$1" "$2"; }
since() { awk -v a="$1" -v b="$(bg_now)" 'BEGIN { printf "%.1fs", b - a }'; }
GROUP=bootlab

# --- the machine and its image (image-builder path) ---------------------------
t=$(bg_now)
bootgated_init --san IP:10.0.2.2
start_bootgated
# The root sends the initramfs's journal to the host on every boot (~1.3 s).
BGB_JOURNAL=1
bgb_provision "$GROUP"
timing "provision + enroll boot" "$(since "$t")"
t=$(bg_now)
bgb_dracut "$WORK/initrd.img"
timing "dracut build (90bootgate)" "$(since "$t")"
timing "initramfs size" "$(stat -c %s "$WORK/initrd.img") bytes"
# the packaged client in the image, and the way of its messages to the journal
# with its unit: systemd-journald is in the initramfs, the unit sends stdout
# and stderr to it (and to the console). The good scenario reads the journal.
lsinitrd "$WORK/initrd.img" 2>/dev/null | awk '{ print $NF }' >"$WORK/initrd.list" || die "lsinitrd"
check "initramfs: bootgate-unlock" 1 "$(grep -cx 'usr/bin/bootgate-unlock' "$WORK/initrd.list")"
check "initramfs: systemd-journald" 1 "$(grep -cxE '(usr/)?lib/systemd/systemd-journald' "$WORK/initrd.list")"
unit=$(grep -xE '(usr/)?lib/systemd/system/bootgate-unlock.service' "$WORK/initrd.list" | head -1)
check "initramfs: bootgate-unlock.service logs to journal+console" 2 \
    "$(lsinitrd -f "$unit" "$WORK/initrd.img" 2>/dev/null | grep -cxE 'Standard(Output|Error)=journal\+console')"
bgb_cmdline ""
GOOD_CMDLINE=$BGB_CMDLINE
bgb_uki "$WORK/good.efi" "$WORK/initrd.img" "$GOOD_CMDLINE"
t=$(bg_now)
bgb_policy "$GROUP" 1 "$WORK/good.efi"
timing "predict + sign + publish + activate" "$(since "$t")"

# --- scenarios ------------------------------------------------------------------
# Each boots the machine, asserts on the console and the audit log, and leaves no
# VM behind.
scenario_good() {
    local seq n
    seq=$(bgb_audit_last)
    bgb_boot good "$WORK/good.efi.disk"
    bg_qemu_wait_marker good 'bootgate-unlock: .*: unlocked \(policy' 400
    timing "good: attested unlock" "${BG_ELAPSED}s"
    bg_qemu_wait_marker good 'BOOTGATE-MARKER: root-reached' 200
    timing "good: root marker" "${BG_ELAPSED}s"
    bgb_reject good 'Please enter passphrase' "the passphrase was asked for although bootgate unlocked"
    bgb_expect good "BOOTGATE-MARKER: root-reached .*root=/dev/mapper/luks-$BGB_UUID" \
        "the root is not the unlocked LUKS2 volume"
    bg_qemu_wait_exit good 120
    n=$(bgb_audit_since "$seq" key_released | jq length)
    [[ $n -ge 1 ]] || bg_qemu_fail good "no key_released audit record for node $BGB_NODE"
    bgb_show good key_released "$seq"
    good_journal "$(bgb_audit_since "$seq" key_released | jq -r 'last.seq')"
    log "good: PASS (audit key_released x$n)"
}

# good_journal AUDIT_SEQ: issue 14, the initramfs client's messages reach the
# journal with its unit. The root sent the initramfs's journal (journald wrote it
# to /run/log/journal, which switch-root keeps); read it as an operator reads the
# journal of a boot, and find the client's "unlocked" line of this boot (its audit
# seq) as a stream entry of the unit's own process, not only systemd's lines
# about the unit (UNIT=), nor only the console.
good_journal() {
    local unit=bootgate-unlock.service dir=$WORK/good.journal entries line msg failed_before=$FAILS
    bgb_journal good "$dir"
    journalctl -D "$dir" -b -u "$unit" -o json >"$WORK/good.journal.json" ||
        bg_qemu_fail good "journalctl cannot read the initramfs's journal"
    log "good: the client in the initramfs's journal: journalctl -b -u $unit"
    journalctl -D "$dir" -b -u "$unit" --no-pager | sed 's/^/    /'
    entries=$(jq -c --arg u "$unit" 'select(._SYSTEMD_UNIT == $u)
        | {MESSAGE: (.MESSAGE | if type == "array" then implode else . end),
           PRIORITY, SYSLOG_IDENTIFIER, _TRANSPORT}' "$WORK/good.journal.json")
    line=$(jq -c --arg a "audit #$1)" 'select(.MESSAGE
        | test("^bootgate-unlock: .*: unlocked \\(policy ") and endswith($a))' <<<"$entries")
    check "journal -u $unit: the unlocked line (audit #$1) from the unit's process" 1 \
        "$(grep -c . <<<"$line")"
    check "journal: the unlocked line's SYSLOG_IDENTIFIER (journalctl -t)" bootgate-unlock \
        "$(jq -r .SYSLOG_IDENTIFIER <<<"$line")"
    check "journal: the unlocked line's PRIORITY (info: shown by journalctl -p info)" 6 \
        "$(jq -r .PRIORITY <<<"$line")"
    check "journal: the unlocked line came from the unit's stdout/stderr stream" stdout \
        "$(jq -r ._TRANSPORT <<<"$line")"
    msg=$(jq -r .MESSAGE <<<"$line")
    check_ok "journal: the line as it was on the console" \
        grep -qF -- "${msg:-(no line)}" "$WORK/good.console.log"
    # the client's "<N>" priority prefixes (its stderr is the unit's journal
    # stream) are taken by journald, none left in a message
    check "journal: no message of the unit keeps a <N> priority prefix" 0 \
        "$(jq -r .MESSAGE <<<"$entries" | grep -c '^<[0-7]>' || true)"
    check "journalctl -b -t bootgate-unlock -p info finds it too" 1 \
        "$(journalctl -D "$dir" -b -t bootgate-unlock -p info -o cat | grep -c "unlocked (policy .*audit #$1)$")"
    [[ $FAILS == "$failed_before" ]] || {
        bg_artifact "$WORK/good.journal.tgz"
        bg_qemu_fail good "the client's unlocked line is not in the initramfs's journal under $unit"
    }
}

scenario_tamper() {
    local seq n
    [[ -e $WORK/tamper.efi.disk ]] || {
        # The attacker's change: one more kernel argument (here a short deadline,
        # so the test does not wait for the default one).
        bgb_uki "$WORK/tamper.efi" "$WORK/initrd.img" "$GOOD_CMDLINE rd.bootgate.timeout=45"
    }
    seq=$(bgb_audit_last)
    bgb_boot tamper "$WORK/tamper.efi.disk"
    bg_qemu_wait_marker tamper 'bootgate-unlock: .*unlock DENIED' 400
    timing "tamper: denial on the console" "${BG_ELAPSED}s"
    bg_qemu_wait_marker tamper 'break-glass code: BG-' 30
    # The command line is measured by the stub into PCR 11 (.cmdline) and by the
    # kernel's EFI stub into PCR 9 (LoadOptions): the explanation names both events.
    bgb_expect tamper 'PCR 11 changed EV_IPL "\.cmdline"' "the explanation does not name PCR 11 (.cmdline)"
    bgb_expect tamper 'PCR 9 changed EV_EVENT_TAG "LOADED_IMAGE::LoadOptions"' \
        "the explanation does not name PCR 9 (LoadOptions)"
    # After the deadline the passphrase prompt is the last resort; the root was
    # never unlocked by bootgate.
    bg_qemu_wait_marker tamper 'Please enter passphrase|[Pp]assphrase for' 200
    timing "tamper: passphrase prompt" "${BG_ELAPSED}s"
    bgb_reject tamper 'BOOTGATE-MARKER: root-reached' "the root was reached on a tampered boot"
    bgb_reject tamper 'bootgate-unlock: .*: unlocked' "bootgate unlocked a tampered boot"
    bg_artifact "$WORK/tamper.console.log"
    bg_qemu_stop
    n=$(bgb_audit_since "$seq" unlock_denied | jq length)
    [[ $n -ge 1 ]] || bg_qemu_fail tamper "no unlock_denied audit record"
    [[ $(bgb_audit_since "$seq" key_released | jq length) == 0 ]] ||
        bg_qemu_fail tamper "a key was released for the tampered boot"
    bgb_show tamper unlock_denied "$seq"
    log "tamper: PASS (audit unlock_denied x$n)"
}

scenario_late_server() {
    local seq
    seq=$(bgb_audit_last)
    stop_bootgated
    bgb_boot late "$WORK/good.efi.disk"
    # 20 s after the client started asking (an earlier start would be up before
    # the initrd under TCG and prove nothing).
    bg_qemu_wait_marker late 'Starting.*bootgate-unlock' 400
    start_bootgated 20
    bg_qemu_wait_marker late 'bootgate-unlock: .*: unlocked \(policy' 400
    timing "late-server: attested unlock" "${BG_ELAPSED}s"
    bg_qemu_wait_marker late 'BOOTGATE-MARKER: root-reached' 200
    bgb_reject late 'Please enter passphrase' "the passphrase was asked for"
    bg_qemu_wait_exit late 120
    wait_bootgated
    [[ $(bgb_audit_since "$seq" key_released | jq length) -ge 1 ]] ||
        bg_qemu_fail late "no key_released audit record"
    log "late-server: PASS"
}

scenario_no_server() {
    [[ -e $WORK/noserver.efi.disk ]] ||
        bgb_uki "$WORK/noserver.efi" "$WORK/initrd.img" "$GOOD_CMDLINE rd.bootgate.timeout=30"
    stop_bootgated
    bgb_boot noserver "$WORK/noserver.efi.disk"
    bg_qemu_wait_marker noserver 'Please enter passphrase|[Pp]assphrase for' 400
    timing "no-server: passphrase prompt" "${BG_ELAPSED}s"
    bgb_expect noserver 'bootgate-unlock: ' "the client said nothing before giving up"
    bg_qemu_type noserver "$BGB_PASS"
    bg_qemu_wait_marker noserver 'BOOTGATE-MARKER: root-reached' 200
    timing "no-server: root marker" "${BG_ELAPSED}s"
    bg_qemu_wait_exit noserver 120
    start_bootgated
    log "no-server: PASS"
}

# --- more scenarios (not in the default list) ------------------------------------
# breakglass: a tampered boot is denied; an operator requests a grant for the code
# shown on the console, two approvers sign it, the client's next poll unlocks.
scenario_breakglass() {
    local seq
    [[ -e $WORK/bg.efi.disk ]] ||
        bgb_uki "$WORK/bg.efi" "$WORK/initrd.img" "$GOOD_CMDLINE rd.bootgate.timeout=240"
    seq=$(bgb_audit_last)
    bgb_boot breakglass "$WORK/bg.efi.disk"
    bg_qemu_wait_marker breakglass 'break-glass code: BG-' 400
    bgb_breakglass_grant breakglass "boot test"
    timing "breakglass: grant active" "$(awk -v a="$BG_QEMU_T0" -v b="$(bg_now)" 'BEGIN { printf "%.1fs", b - a }')"
    bg_qemu_wait_marker breakglass 'bootgate-unlock: .*: unlocked \(policy .*, breakglass' 200
    timing "breakglass: unlocked by the grant" "${BG_ELAPSED}s"
    bg_qemu_wait_marker breakglass 'BOOTGATE-MARKER: root-reached' 200
    bg_qemu_wait_exit breakglass 120
    [[ $(bgb_audit_since "$seq" key_released | jq length) -ge 1 ]] ||
        bg_qemu_fail breakglass "no key_released audit record"
    [[ $(bgb_audit_since "$seq" breakglass_used | jq length) -ge 1 ]] ||
        bg_qemu_fail breakglass "no breakglass_used audit record"
    log "breakglass: PASS ($BGB_BG_CODE)"
}

# policy-update: a new image (one more kernel argument) gets its policy predicted
# before it boots (version 2), is published and activated, and unlocks. Leaves
# version 2 active: run it last.
scenario_policy_update() {
    bgb_uki "$WORK/v2.efi" "$WORK/initrd.img" "$GOOD_CMDLINE quiet"
    bgb_policy "$GROUP" 2 "$WORK/v2.efi"
    bgb_boot v2 "$WORK/v2.efi.disk"
    bg_qemu_wait_marker v2 "bootgate-unlock: .*: unlocked \\(policy $GROUP v2" 400
    timing "policy-update: unlocked with v2" "${BG_ELAPSED}s"
    bg_qemu_wait_marker v2 'BOOTGATE-MARKER: root-reached' 200
    bg_qemu_wait_exit v2 120
    log "policy-update: PASS"
}

# --- measurements (not in the default list) --------------------------------------
# measure-keyfile: the same kernel and dracut base without 90bootgate, the root
# opened with a key file in the initramfs (rd.luks.key=): boot time to the marker.
scenario_measure_keyfile() {
    local key=$WORK/keyfile.d
    mkdir -p "$key"
    printf '%s' "$BGB_PASS" >"$key/root.key"
    bgb_dracut_nocache "$WORK/initrd-keyfile.img" --include "$key/root.key" /etc/bootgate-test/root.key
    timing "initramfs size (no bootgate, key file)" "$(stat -c %s "$WORK/initrd-keyfile.img") bytes"
    bgb_uki "$WORK/keyfile.efi" "$WORK/initrd-keyfile.img" \
        "$GOOD_CMDLINE rd.luks.key=/etc/bootgate-test/root.key"
    bgb_boot keyfile "$WORK/keyfile.efi.disk"
    bg_qemu_wait_marker keyfile 'BOOTGATE-MARKER: root-reached' 400
    timing "keyfile: root marker" "${BG_ELAPSED}s"
    bgb_reject keyfile 'Please enter passphrase' "the key file did not open the root"
    bg_qemu_wait_exit keyfile 120
}

# measure-clevis: initramfs size with Debian's clevis dracut modules (tang + tpm2
# pins) instead of 90bootgate, same dracut base and arguments.
scenario_measure_clevis() {
    bg_dracut_build "$WORK/initrd-clevis.img" --add "clevis clevis-pin-tang clevis-pin-tpm2"
    timing "initramfs size (clevis tang+tpm2)" "$(stat -c %s "$WORK/initrd-clevis.img") bytes"
    timing "initramfs size (90bootgate)" "$(stat -c %s "$WORK/initrd.img") bytes"
}

for s in "${SCENARIOS[@]}"; do
    t=$(bg_now)
    "scenario_${s//-/_}"
    timing "scenario $s total" "$(since "$t")"
done
timing "all" "$(since "$T_ALL")"
pass "scenarios: ${SCENARIOS[*]}"
finish
