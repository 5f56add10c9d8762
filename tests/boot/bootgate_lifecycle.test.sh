#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Issue 11 in QEMU: one machine (one swtpm state, one enrolled node, one LUKS2
# root) through the whole lifecycle of its policy, on the UKI chain of
# bootgate_boot (OVMF + swtpm + dracut 90bootgate UKI, bootgated on the host):
#   v1          image v1 unlocks under policy version 1 (predicted from the
#               provisioning boot, like bootgate_boot's)
#   what-if     right after that boot (the node's latest attempt is v1's,
#               released by the active version 1): `policy what-if` of an
#               unsigned candidate with only v2's baseline denies exactly this
#               node, newly, for PCR 9/11; the active version 1 releases it
#   v2          image v2 (v1's initrd + one more cpio archive, command line +
#               "quiet") gets a baseline predicted with `policy predict --into`
#               as version 2, published + activated before its first boot;
#               `node explain --policy v2` of v1's stored attempt releases it
#               (v1 still boots under v2: shown without a second v1 boot);
#               v2 unlocks on the first try by baseline image-v2
#   rollback    `policy activate lifecycle 1` is refused (v2's latest boot was
#               released by version 2) and nothing changes; with --force
#               --reason it is activated; v2 boots and is denied
#   breakglass  that denied v2 boot is unlocked by a two-approver grant for
#               the code on its console (the break-glass step of the issue;
#               bootgate_boot's `breakglass` stays optional)
#   v3          an unapproved image (command line + rd.bootgate.timeout=45) is
#               denied; `node explain NODE` names PCR 11 and the .cmdline event
#   audit       version 3 (v1's baseline, --mode audit) releases v3; the attempt
#               records mode audit and the would-be verdict, the audit record the
#               mismatch; `report drift` shows PCR 11 when bootgatectl has it
# 6 boots (provisioning included). Prints "timing:" lines. BG_KEEP=1 keeps the
# work dir; on a failure the console logs are kept in
# $BOOTGATE_BUILDDIR/test-artifacts/bootgate_lifecycle/.
#   tests/boot/bootgate_lifecycle.test.sh
set -euo pipefail
# shellcheck disable=SC2034 # BG_NAME is read by the harness
BG_NAME=bootgate_lifecycle
# shellcheck source=lib/boot.sh
. "$(dirname "$0")/lib/boot.sh"
# shellcheck source=lib/bootgate.sh
. "$BG_LIB/bootgate.sh"
# shellcheck source=lib/chains.sh
. "$BG_LIB/chains.sh" # bg_initrd_append

bg_need_cmd swtpm qemu-system-x86_64 dracut cryptsetup mke2fs busybox objcopy mcopy sfdisk jq curl python3 cpio
[[ -x ${BOOTGATED:-} && -x ${BOOTGATE_UNLOCK:-} ]] || die "BOOTGATED and BOOTGATE_UNLOCK must be built"
bg_kernel
T_ALL=$(bg_now)
timing() { printf 'timing: %-40s %s\n' "$1" "$2"; }
since() { awk -v a="$1" -v b="$(bg_now)" 'BEGIN { printf "%.1fs", b - a }'; }
GROUP=lifecycle

# every console log of the run is kept when a check failed or the test died
LC_DONE=0
lc_keep_logs() {
    [[ $LC_DONE == 1 && $(failed_checks) == 0 ]] && return 0
    local f keep=()
    # regular files only: NAME.console.out is the console's FIFO
    for f in "$WORK"/*.console.log "$WORK"/*.out "$WORK"/*.json; do [[ ! -f $f ]] || keep+=("$f"); done
    bg_artifact "${keep[@]}"
}
on_exit lc_keep_logs

# exit status of a command, its output in $WORK/NAME.out
run_to() {
    local name=$1 rc=0
    shift
    "$@" >"$WORK/$name.out" 2>&1 || rc=$?
    echo "$rc"
}
active_version() {
    "$BOOTGATECTL" policy list --json |
        jq -r --arg g "$GROUP" '.policies[] | select(.name == $g and .active) | .version'
}
attempts() { "$BOOTGATECTL" node attempts "$BGB_NODE" --json; }
sign_publish() { # FILE
    "$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" "$1" >/dev/null 2>&1 || die "policy sign $1"
    "$BOOTGATECTL" policy publish "$1" >/dev/null || die "policy publish $1"
}
predict() { # OUT UKI VERSION [PREDICT_ARG...]
    local out=$1 uki=$2 version=$3
    shift 3
    "$BOOTGATECTL" policy predict --reference "$BGB_REFLOG" --uki "$uki" --name "$GROUP" \
        --version "$version" --out "$out" "$@" >"$out.predict.out" 2>&1 || {
        bg_artifact "$out.predict.out"
        die "policy predict $out: $(tail -n 3 "$out.predict.out")"
    }
}

# boot_unlocks NAME DISK VERSION: lib/bootgate.sh's bgb_boot_unlocks (first try,
# root reached, key_released, no denial), by policy version VERSION.
boot_unlocks() {
    bgb_boot_unlocks "$1" "$2"
    timing "$1: attested unlock" "${BGB_UNLOCK_S}s"
    bgb_expect "$1" "unlocked \\(policy $GROUP v$3" "not unlocked by policy version $3"
}
# the matched baseline of the last key_released record of boot NAME
released_baseline() {
    jq -r '.[-1].details | (fromjson? // .) | .evaluation.matched_baseline' "$WORK/$1.released.json"
}

# --- the machine, its three images and policy version 1 -------------------------
t=$(bg_now)
bootgated_init --san IP:10.0.2.2
start_bootgated
bgb_provision "$GROUP"
timing "provision + enroll boot" "$(since "$t")"
t=$(bg_now)
bgb_dracut "$WORK/initrd.img"
timing "dracut build (90bootgate)" "$(since "$t")"
bgb_cmdline ""
V1_CMDLINE=$BGB_CMDLINE
bgb_uki "$WORK/v1.efi" "$WORK/initrd.img" "$V1_CMDLINE"
# v2: a new initrd (v1's plus one more cpio archive: the kernel unpacks
# concatenated archives) and a new command line
mkdir -p "$WORK/v2-extra/etc"
echo "bootgate image v2" >"$WORK/v2-extra/etc/bootgate-image"
bg_initrd_append "$WORK/initrd-v2.img" "$WORK/initrd.img" "$WORK/v2-extra"
bgb_uki "$WORK/v2.efi" "$WORK/initrd-v2.img" "$V1_CMDLINE quiet"
# v3: nobody approved it (one more kernel argument; a short client deadline)
bgb_uki "$WORK/v3.efi" "$WORK/initrd.img" "$V1_CMDLINE rd.bootgate.timeout=45"
t=$(bg_now)
bgb_policy "$GROUP" 1 "$WORK/v1.efi"
P1=$BGB_POLICY
timing "v1: predict + sign + publish + activate" "$(since "$t")"

# --- 1. v1 boots under version 1 ------------------------------------------------
t=$(bg_now)
boot_unlocks v1 "$WORK/v1.efi.disk" 1
attempts >"$WORK/attempts-v1.json"
V1_ATTEMPT=$(jq -r '.attempts[0].id' "$WORK/attempts-v1.json")
check "v1: its stored attempt is released by lifecycle v1" "true $GROUP 1" \
    "$(jq -r '.attempts[0] | "\(.released) \(.policy) \(.policy_version)"' "$WORK/attempts-v1.json")"
timing "step 1: v1 boot" "$(since "$t")"

# --- 4. what-if of a policy without v1's baseline (run now: the node's latest
# attempt is v1's, released by the active version) -------------------------------
t=$(bg_now)
predict "$WORK/v2-only.json" "$WORK/v2.efi" 90 --baseline image-v2
rc=$(run_to what-if-v2only "$BOOTGATECTL" policy what-if --json "$WORK/v2-only.json")
check "what-if (only v2's baseline, unsigned): exit 1 (it would deny)" 1 "$rc"
W=$WORK/what-if-v2only.out
check "what-if: 1 node evaluated, 0 released, 1 denied, 1 newly" "1 0 1 1" \
    "$(jq -r '"\(.evaluated) \(.release) \(.deny) \(.newly_denied)"' "$W")"
check "what-if: the denied node is the v1 machine, released by v1 before" "$BGB_NODE false true" \
    "$(jq -r '.nodes[] | "\(.node_id) \(.release) \(.released_by_active)"' "$W")"
check "what-if: the reason names PCR 9 or 11 and the node" "1 $BGB_NODE" \
    "$(jq -r '[.denials[] | select(.reason | test("PCR (9|11) "))] | "\(length) \(.[0].nodes | join(" "))"' "$W")"
rc=$(run_to what-if-v1 "$BOOTGATECTL" policy what-if "$P1")
check "what-if of version 1 itself: exit 0, releases the node" "0 would release: 1" \
    "$rc $(grep '^would release' "$WORK/what-if-v1.out")"
timing "step 4: what-if" "$(since "$t")"

# --- 2. v2: predicted into version 2 before its first boot ------------------------
t=$(bg_now)
P2=$WORK/policy-$GROUP-2.json
predict "$P2" "$WORK/v2.efi" 2 --baseline image-v2 --into "$P1"
check "version 2 keeps v1's baseline and adds image-v2" 2 "$(jq '.baselines | length' "$P2")"
sign_publish "$P2"
check "activate version 2 (locks nobody out): exit 0" 0 \
    "$(run_to activate-2 "$BOOTGATECTL" policy activate "$GROUP" 2)"
check "version 2 active" 2 "$(active_version)"
check "v1's stored attempt is released by version 2 (node explain --policy)" 0 \
    "$(run_to explain-v1-p2 "$BOOTGATECTL" node explain "$BGB_NODE" --attempt "$V1_ATTEMPT" --policy "$P2")"
boot_unlocks v2 "$WORK/v2.efi.disk" 2
check "v2: unlocked on the first try by its predicted baseline" image-v2 "$(released_baseline v2)"
timing "step 2: v2 predicted + first boot" "$(since "$t")"

# --- 5. rollback to version 1: refused first, forced, v2 denied ------------------
t=$(bg_now)
rc=$(run_to activate-1 "$BOOTGATECTL" policy activate "$GROUP" 1)
check "rollback to version 1: refused (v2's latest boot was released by v2)" 1 "$rc"
check_ok "the refusal names the node" grep -q "$BGB_NODE" "$WORK/activate-1.out"
check_ok "the refusal says how to override" grep -qF -- "--force --reason" "$WORK/activate-1.out"
check "nothing changed: version 2 still active" 2 "$(active_version)"
check "rollback --force --reason: exit 0" 0 \
    "$(run_to activate-1f "$BOOTGATECTL" policy activate "$GROUP" 1 --force --reason "lifecycle test: roll back")"
check "version 1 active again" 1 "$(active_version)"
# --- 7. the denied v2 boot, unlocked by break-glass ----------------------------------
seq=$(bgb_audit_last)
bgb_boot v2-rollback "$WORK/v2.efi.disk"
bg_qemu_wait_marker v2-rollback 'bootgate-unlock: .*unlock DENIED' 400
timing "v2 under version 1: denial" "${BG_ELAPSED}s"
bg_qemu_wait_marker v2-rollback 'break-glass code: BG-' 30
bgb_reject v2-rollback 'bootgate-unlock: .*: unlocked' "v2 unlocked under version 1"
attempts >"$WORK/attempts-rollback.json"
check "v2 under version 1: the stored attempt is a denial by lifecycle v1" "false $GROUP 1" \
    "$(jq -r '.attempts[0] | "\(.released) \(.policy) \(.policy_version)"' "$WORK/attempts-rollback.json")"
bgb_breakglass_grant v2-rollback "lifecycle test: v2 after the rollback"
bg_qemu_wait_marker v2-rollback 'bootgate-unlock: .*: unlocked \(policy .*, breakglass' 200
timing "v2 under version 1: unlocked by break-glass" "${BG_ELAPSED}s"
bg_qemu_wait_marker v2-rollback 'BOOTGATE-MARKER: root-reached' 200
bg_qemu_wait_exit v2-rollback 120
check "v2 under version 1: denied before the grant (audit unlock_denied)" true \
    "$(bgb_audit_since "$seq" unlock_denied | jq 'length >= 1')"
check "break-glass: a breakglass_used and a key_released record" "true true" \
    "$(bgb_audit_since "$seq" breakglass_used | jq 'length >= 1') $(bgb_audit_since "$seq" key_released | jq 'length >= 1')"
timing "step 5+7: rollback, v2 denied, break-glass" "$(since "$t")"

# --- 3. an unapproved v3 is denied; node explain names the PCR and the event ---------
t=$(bg_now)
seq=$(bgb_audit_last)
bgb_boot v3 "$WORK/v3.efi.disk"
bg_qemu_wait_marker v3 'bootgate-unlock: .*unlock DENIED' 400
timing "v3: denial on the console" "${BG_ELAPSED}s"
# the explanation is complete once the break-glass code follows it
bg_qemu_wait_marker v3 'break-glass code: BG-' 30
bgb_expect v3 'PCR 11 changed EV_IPL "\.cmdline"' "the console's explanation does not name PCR 11 (.cmdline)"
bgb_reject v3 'bootgate-unlock: .*: unlocked' "bootgate unlocked v3"
bg_qemu_stop
check "v3: audit unlock_denied, no key_released" "true 0" \
    "$(bgb_audit_since "$seq" unlock_denied | jq 'length >= 1') $(bgb_audit_since "$seq" key_released | jq length)"
rc=$(run_to explain-v3 "$BOOTGATECTL" node explain "$BGB_NODE")
check "node explain of v3's attempt: exit 1 (denied)" 1 "$rc"
check_ok "node explain names PCR 11 and the .cmdline event" grep -qE 'PCR 11.*\.cmdline|\.cmdline.*PCR 11' "$WORK/explain-v3.out"
check_ok "node explain names the event index" grep -qE 'event #[0-9]+' "$WORK/explain-v3.out"
"$BOOTGATECTL" node explain "$BGB_NODE" --json >"$WORK/explain-v3.json" 2>&1 || true
check "node explain --json: an event of PCR 11 named .cmdline" true \
    "$(jq '[.explanation.events[] | select(.pcr == 11 and (.desc | test("\\.cmdline")))] | length >= 1' "$WORK/explain-v3.json")"
timing "step 3: v3 denied + explain" "$(since "$t")"

# --- 6. audit mode releases v3 and records the would-be verdict -------------------
t=$(bg_now)
P3=$WORK/policy-$GROUP-3.json
predict "$P3" "$WORK/v1.efi" 3 --mode audit
check "version 3 is in audit mode" audit "$(jq -r .mode "$P3")"
sign_publish "$P3"
check "activate version 3 (audit): exit 0" 0 "$(run_to activate-3 "$BOOTGATECTL" policy activate "$GROUP" 3)"
boot_unlocks v3-audit "$WORK/v3.efi.disk" 3
check "v3 under audit mode: the release record says mode audit" audit \
    "$(jq -r '.[-1].details | (fromjson? // .) | .mode' "$WORK/v3-audit.released.json")"
check "v3 under audit mode: the release record's evaluation names PCR 11" true \
    "$(jq '.[-1].details | (fromjson? // .) | .evaluation | tostring | test("PCR 11|\"pcr\": ?11")' "$WORK/v3-audit.released.json")"
attempts >"$WORK/attempts-audit.json"
check "v3 under audit mode: the attempt is released in mode audit by version 3" "true audit 3" \
    "$(jq -r '.attempts[0] | "\(.released) \(.mode) \(.policy_version)"' "$WORK/attempts-audit.json")"
check "v3 under audit mode: the attempt records the would-be verdict (a denial)" true \
    "$(jq '.attempts[0].audit_verdict | . != "" and . != null and . != "ok"' "$WORK/attempts-audit.json")"
rc=$(run_to explain-audit "$BOOTGATECTL" node explain "$BGB_NODE" --policy "$P1")
check "the audited attempt judged by version 1: denied (exit 1)" 1 "$rc"
check_ok "  for PCR 11" grep -q 'PCR 11' "$WORK/explain-audit.out"
# report drift (issue 11, being built on h/drift): tested for real once
# bootgatectl has it; until then the step says it did not run.
if "$BOOTGATECTL" report --help >/dev/null 2>&1; then
    rc=$(run_to drift "$BOOTGATECTL" report drift --group "$GROUP" --json)
    check "report drift: exit 0" 0 "$rc"
    check "report drift: PCR 11 drifted on this node" true \
        "$(jq --arg n "$BGB_NODE" '[.pcrs[] | select(.pcr == 11 and (.node_ids | index($n)))] | length >= 1' "$WORK/drift.out")"
    check "report drift: the PCR 11 .cmdline event, on this node" true \
        "$(jq --arg n "$BGB_NODE" '[.events[] | select(.pcr == 11 and (.desc | test("\\.cmdline"))
            and (.node_ids | index($n)))] | length >= 1' "$WORK/drift.out")"
    check "report drift: v3's release in audit mode is counted" true \
        "$(jq '.audit_would_deny >= 1' "$WORK/drift.out")"
else
    log "report drift: NOT RUN (bootgatectl has no 'report' command yet: h/drift not merged)"
fi
timing "step 6: audit mode" "$(since "$t")"

timing "all" "$(since "$T_ALL")"
LC_DONE=1
finish
