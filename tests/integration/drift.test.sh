#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgatectl report drift (issue 11 point 5) on a small fleet: four nodes,
# each its own swtpm, event log and LUKS2 image, unlocking with
# bootgate-unlock --verify-only against one bootgated.
#   n1 web  boots A (the reference: policy web v1, baseline web-v1)  released
#   n2 web  boots B (another initrd, PCR 9)                          denied
#   n3 web  boots B, then again later                                denied twice
#   n4 db   boots C (firmware and initrd, PCRs 0 and 9); policy db v1
#           (baseline db-v1 of A) is in audit mode                   released, would deny
# The report's counts are exact: per PCR and per event, how many nodes,
# from which baseline, first and last seen (the times of the stored
# attempts that showed it); --group and --since narrow it; --json is stable.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_pcrextend cryptsetup python3 jq; do
    command -v "$t" >/dev/null || die "missing $t (ci/deps.sh)"
done
ctl() { "$BOOTGATECTL" "$@"; }

A=(0:0x80000008:firmware-v1 1:0x80000001:setup 4:0x80000003:shim+grub 7:4:separator 9:0xd:initrd-v1 11:0xd:uki)
B=(0:0x80000008:firmware-v1 1:0x80000001:setup 4:0x80000003:shim+grub 7:4:separator 9:0xd:initrd-v2 11:0xd:uki)
C=(0:0x80000008:firmware-v2 1:0x80000001:setup 4:0x80000003:shim+grub 7:4:separator 9:0xd:initrd-v2 11:0xd:uki)

start_bootgated
mkdir -p "$WORK/etc"
declare -A TCTIS NODES
node_up() { # NAME GROUP EVENT...: a swtpm that booted these events, a LUKS2 image, enrolled
    local name=$1 group=$2
    shift 2
    start_swtpm "$name"
    TCTIS[$name]=$TCTI
    eventlog_boot "$WORK/$name.ev" "$@"
    make_luks "$WORK/$name.img" "$WORK/$name.vk" "$WORK/pass"
    DISKS=("$WORK/$name.img")
    enroll "$group" --set event_log="$WORK/$name.ev"
    NODES[$name]=$NODE
}
boot() { # NAME: one unlock; exit status of bootgate-unlock (a denial polls for 2 s)
    TCTI=${TCTIS[$1]} cl --set event_log="$WORK/$1.ev" --timeout 2 --verify-only "$WORK/$1.img" \
        >"$WORK/$1.out" 2>&1
}
node_up n1 web "${A[@]}"
node_up n2 web "${B[@]}"
node_up n3 web "${B[@]}"
node_up n4 db "${C[@]}"
bootgated_policy web 1 "$WORK/n1.ev" --pcrs 0-9,11
bootgated_policy db 1 "$WORK/n1.ev" --pcrs 0-9,11 --mode audit

check "n1 (A) is released" 0 "$(boot n1; echo $?)"
check "n2 (B) is denied" 1 "$(boot n2; echo $?)"
check "n3 (B) is denied" 1 "$(boot n3; echo $?)"
check "n4 (C) is released in audit mode" 0 "$(boot n4; echo $?)"
sleep 1.5
SINCE=$(date +%s)
sleep 1.5
check "n3 (B) is denied again, later" 1 "$(boot n3; echo $?)"

# the stored attempts, as the admin API gives them (for the expected times)
check "GET /v1/admin/attempts" 200 "$(api GET '/v1/admin/attempts?since=0&limit=1000' '' auditor)"
cp "$WORK/reply" "$WORK/all.json"
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# times NODE... [SINCE]: first and last attempt time of these nodes that the policy did not pass
seen() {
    local since=$1
    shift
    jq -r --argjson s "$since" --args '[.attempts[] | select(.time >= $s and (.node_id | IN($ARGS.positional[]))
        and .evaluation.explanation != null) | .time] | "\(min) \(max)"' "$@" <"$WORK/all.json"
}
read -r F23 L23 <<<"$(seen 0 "${NODES[n2]}" "${NODES[n3]}")"
read -r F4 L4 <<<"$(seen 0 "${NODES[n4]}")"
read -r F3S L3S <<<"$(seen "$SINCE" "${NODES[n3]}")"
check "n2 and n3 were denied before n3's last boot" 1 "$((F23 < L23))"

# --- the whole fleet ------------------------------------------------------------------
ctl report drift --json >"$WORK/all-report.json" || fail "report drift --json"
r() { jq -r "$1" "$WORK/all-report.json"; }
check "4 nodes, 3 drifted, 1 of them released in audit mode, none denied otherwise" "4 3 1 0" \
    "$(r '"\(.nodes) \(.drifted) \(.audit_would_deny) \(.denied_other)"')"
check "PCR rows: 0 from db-v1 (1 node), 9 from db-v1 (1), 9 from web-v1 (2)" \
    "0 db-v1 1,9 db-v1 1,9 web-v1 2" "$(r '[.pcrs[] | "\(.pcr) \(.baseline) \(.nodes)"] | join(",")')"
check "PCR 9 from web-v1: n2 and n3" "$(printf '%s\n' "${NODES[n2]}" "${NODES[n3]}" | sort | paste -sd,)" \
    "$(r '.pcrs[] | select(.pcr == 9 and .baseline == "web-v1") | .node_ids | join(",")')"
check "... first and last seen: n2's first denial, n3's last" "$(utc "$F23") $(utc "$L23")" \
    "$(r '.pcrs[] | select(.pcr == 9 and .baseline == "web-v1") | "\(.first_seen) \(.last_seen)"')"
check "PCR 0 from db-v1: n4, seen when it booted" "${NODES[n4]} $(utc "$F4") $(utc "$L4")" \
    "$(r '.pcrs[] | select(.pcr == 0) | "\(.node_ids | join(",")) \(.first_seen) \(.last_seen)"')"
check "event rows: the changed firmware (db-v1) and the changed initrd (db-v1, web-v1)" \
    "0 changed EV_EFI_PLATFORM_FIRMWARE_BLOB db-v1 1,9 changed EV_IPL db-v1 1,9 changed EV_IPL web-v1 2" \
    "$(r '[.events[] | "\(.pcr) \(.change) \(.type) \(.baseline) \(.nodes)"] | join(",")')"
check "the initrd event's description" initrd-v2 \
    "$(r '.events[] | select(.pcr == 9 and .baseline == "web-v1") | .desc')"
ctl report drift --json >"$WORK/all-report2.json"
check "--json is stable (byte for byte)" "" "$(cmp "$WORK/all-report.json" "$WORK/all-report2.json")"
ctl report drift >"$WORK/human.txt" || fail "report drift"
check "the human report: the headline" 1 \
    "$(grep -c '^drift since the first stored attempt, every group: 4 nodes, 3 drifted (1 released in audit mode), 0 denied' "$WORK/human.txt")"
check "... the PCR 9 row of web-v1" 1 \
    "$(grep -cE "^9 +web-v1 +2  $(utc "$F23")  $(utc "$L23")\$" "$WORK/human.txt")"

# --- one group ------------------------------------------------------------------------
ctl report drift --group web --json >"$WORK/web.json"
check "--group web: 3 nodes, 2 drifted, PCR 9 only" "3 2 9 web-v1 2" \
    "$(jq -r '"\(.nodes) \(.drifted) \([.pcrs[] | "\(.pcr) \(.baseline) \(.nodes)"] | join(","))"' "$WORK/web.json")"
ctl report drift --group nosuch --json >"$WORK/none.json"
check "--group of no node: nothing" "0 0 0 0" \
    "$(jq -r '"\(.nodes) \(.drifted) \(.pcrs | length) \(.events | length)"' "$WORK/none.json")"

# --- since ----------------------------------------------------------------------------
ctl report drift --since "$(utc "$SINCE")" --json >"$WORK/since.json"
check "--since (UTC) after the first boots: only n3's last boot" "1 1 9 web-v1 1 ${NODES[n3]}" \
    "$(jq -r '"\(.nodes) \(.drifted) \([.pcrs[] | "\(.pcr) \(.baseline) \(.nodes) \(.node_ids | join(","))"] | join(","))"' "$WORK/since.json")"
check "... first seen since then" "$(utc "$F3S") $(utc "$L3S")" \
    "$(jq -r '.pcrs[0] | "\(.first_seen) \(.last_seen)"' "$WORK/since.json")"
check "... and the report names its start" "$(utc "$SINCE")" "$(jq -r .since "$WORK/since.json")"
# a duration is now minus that (the fleet booted well within 10 minutes, so a
# second ticking between the two commands changes nothing)
check "--since 10m is --since of 10 minutes ago (UTC)" \
    "$(ctl report drift --since "$(utc $(($(date +%s) - 600)))" --json | jq -c 'del(.since)')" \
    "$(ctl report drift --since 10m --json | jq -c 'del(.since)')"
check "--since 1h: the whole fleet" "4 3" "$(ctl report drift --since 1h --json | jq -r '"\(.nodes) \(.drifted)"')"

# --- bad input, roles -------------------------------------------------------------------
check "--since nonsense: usage error (2)" 2 "$(ctl report drift --since yesterday >/dev/null 2>&1; echo $?)"
check "--since in the future of the epoch (99999d): usage error (2)" 2 \
    "$(ctl report drift --since 99999999d >/dev/null 2>&1; echo $?)"
check "report without a subcommand: usage error (2)" 2 "$(ctl report >/dev/null 2>&1; echo $?)"
check "an enroller certificate is refused (exit 1)" 1 \
    "$(ctl report drift --cert "$SRV/enroller.crt" --key "$SRV/enroller.key" >/dev/null 2>&1; echo $?)"
check "an auditor may read it" 0 \
    "$(ctl report drift --cert "$SRV/auditor.crt" --key "$SRV/auditor.key" >/dev/null 2>&1; echo $?)"

finish
