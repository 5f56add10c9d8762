#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What-if before activation (issue 11, point 3), on a crafted fleet: six nodes
# of group "fleet", each its own swtpm and LUKS2 image, unlocking with
# bootgate-unlock against bootgated. Nodes 1-3 boot image A, nodes 4-5 image
# B (another initrd in PCR 9), node 6 never boots. Policy fleet v1 allows A
# and B; every node's boot is released and stored.
#   - `policy what-if` of a candidate (unsigned) that allows only A: exactly 5
#     nodes evaluated, 3 released, 2 denied (both newly: v1 released them),
#     grouped under one reason naming PCR 9 and the event, nodes 4 and 5;
#     node 6 without stored evidence; 2 boot states, 2 logs fetched; exit 1.
#     A candidate allowing both: exit 0. Usage errors: exit 2.
#   - `policy activate` of that version (signed, published): refused 409
#     would_lock_out naming nodes 4 and 5 with the reason; nothing changed
#     (v1 active, node 4 still unlocks, no policy_activated record);
#     with --force --reason: activated, the audit record holds forced, the
#     reason and the would-deny nodes; node 4 is denied now.
#   - v3 (A and B) activates without --force (checks node 1, locks nobody
#     out); rolling back to v2 is refused for node 5 only (released by v3),
#     rolling back to v1 is accepted.
#   - with activation_check_max_states = 1 and two states to judge, the
#     activation is refused with the nodes beyond the cap unchecked.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

bootgated_init
mkdir -p "$WORK/etc"
start_bootgated

EVENTS_A=("${EVENTS[@]}")
EVENTS_B=()
for e in "${EVENTS[@]}"; do EVENTS_B+=("${e/initrd-v1/initrd-v2}"); done
[ "${EVENTS_A[*]}" != "${EVENTS_B[*]}" ] || die "image B differs from image A in the initrd"

# --- the fleet ---------------------------------------------------------------------
declare -A TCTIS=() NODES=()
for i in 1 2 3 4 5 6; do
    start_swtpm "tpm$i"
    TCTIS[$i]=$TCTI
    if [ "$i" -le 3 ]; then
        eventlog_boot "$WORK/ev$i.bin" "${EVENTS_A[@]}"
    else
        eventlog_boot "$WORK/ev$i.bin" "${EVENTS_B[@]}"
    fi
    make_luks "$WORK/disk$i.img" "$WORK/vk$i" "$WORK/pass"
    DISKS=("$WORK/disk$i.img")
    enroll fleet
    NODES[$i]=$NODE
done
ids() { for i in "$@"; do echo "${NODES[$i]}"; done | sort | paste -sd' '; }

# boot I [TIMEOUT]: one unlock of node I (--verify-only); prints its exit code
boot() {
    local rc
    set +e
    TCTI=${TCTIS[$1]} cl --set event_log="$WORK/ev$1.bin" --timeout "${2:-20}" --verify-only \
        "$WORK/disk$1.img" >"$WORK/boot$1.out" 2>&1
    rc=$?
    set -e
    echo "$rc"
}

# policy FILE VERSION BASELINE-LOGS...: fleet vVERSION with one baseline per log
policy() {
    local out=$1 v=$2 n=0 parts=()
    shift 2
    for log in "$@"; do
        n=$((n + 1))
        "$BOOTGATECTL" policy capture --eventlog "$log" --name fleet --version "$v" --pcrs 0-9,11 \
            --baseline "image-$n" --out "$out.$n" >/dev/null || die "policy capture"
        parts+=("$out.$n")
    done
    jq -s '.[0] + {baselines: [.[].baselines[]]}' "${parts[@]}" >"$out"
}
publish() { # FILE: signed and uploaded (not activated)
    "$BOOTGATECTL" policy sign --key "$SRV/policy-signer.key" "$1" >/dev/null 2>&1 || die "policy sign $1"
    "$BOOTGATECTL" policy publish "$1" >/dev/null || die "policy publish $1"
}
active_version() {
    "$BOOTGATECTL" policy list --json | jq -r '.policies[] | select(.name == "fleet" and .active) | .version'
}
activations() {
    api GET "/v1/admin/audit?limit=100000" '' auditor >/dev/null
    jreply '[.records[] | select(.action == "policy_activated")] | length'
}
last_activation() {
    api GET "/v1/admin/audit?limit=100000" '' auditor >/dev/null
    jreply '[.records[] | select(.action == "policy_activated")] | last | .details'
}

policy "$WORK/v1.json" 1 "$WORK/ev1.bin" "$WORK/ev4.bin"
publish "$WORK/v1.json"
check_ok "fleet v1 (images A and B) activates: no active version yet" \
    "$BOOTGATECTL" policy activate fleet 1
for i in 1 2 3 4 5; do check "node $i boots under v1: released" 0 "$(boot "$i")"; done

# --- what-if of a candidate that allows only image A (unsigned) --------------------
policy "$WORK/v2.json" 2 "$WORK/ev1.bin"
check "the candidate is not signed" 0 "$(find "$WORK" -name 'v2.json.sig' | wc -l)"
set +e
"$BOOTGATECTL" policy what-if "$WORK/v2.json" >"$WORK/wi.txt" 2>"$WORK/wi.err"
rc=$?
"$BOOTGATECTL" policy what-if --json "$WORK/v2.json" >"$WORK/wi.json" 2>>"$WORK/wi.err"
rcj=$?
set -e
cat "$WORK/wi.txt"
check "what-if: exit 1 (it would deny some)" 1 "$rc"
check "what-if --json: exit 1" 1 "$rcj"
check "what-if: nodes evaluated" "nodes evaluated: 5 (2 distinct boot states, 2 logs fetched)" \
    "$(grep '^nodes evaluated' "$WORK/wi.txt")"
check "what-if: would release 3" "would release: 3" "$(grep '^would release' "$WORK/wi.txt")"
check "what-if: would deny 2" "would deny: 2" "$(grep '^would deny' "$WORK/wi.txt")"
check "what-if: both newly (their latest boot v1 released)" \
    "would newly deny: 2 (latest boot released by fleet v1)" "$(grep '^would newly deny' "$WORK/wi.txt")"
check "what-if: node 6 without stored evidence" "without stored evidence: 1|  ${NODES[6]}: no attempt stored" \
    "$(grep -A1 '^without stored evidence' "$WORK/wi.txt" | paste -sd'|')"
REASON='PCR 9 changed EV_IPL "initrd-v2"'
check "what-if: one reason, naming PCR 9 and the event" \
    "  2 nodes (2 newly denied): $REASON" "$(grep -A1 '^denials by reason' "$WORK/wi.txt" | tail -1)"
check "what-if: that reason's nodes are 4 and 5" "$(ids 4 5)" \
    "$(grep -A2 '^denials by reason' "$WORK/wi.txt" | tail -1 | sed 's/^ *nodes: //' | tr ' ' '\n' | sort | paste -sd' ')"
j() { jq -r "$1" "$WORK/wi.json"; }
check "what-if --json: counts" "5 3 2 2 2 2" \
    "$(j '"\(.evaluated) \(.release) \(.deny) \(.newly_denied) \(.boot_states) \(.logs_fetched)"')"
check "what-if --json: policy, group, active version" "fleet 2 fleet 1" \
    "$(j '"\(.policy.name) \(.policy.version) \(.group) \(.active_version)"')"
check "what-if --json: one denial group" "1|$REASON|2|2" \
    "$(j '"\(.denials | length)|\(.denials[0].reason)|\(.denials[0].count)|\(.denials[0].newly_denied)"')"
check "what-if --json: its nodes" "$(ids 4 5)" "$(j '.denials[0].nodes[]' | sort | paste -sd' ')"
check "what-if --json: released nodes" "$(ids 1 2 3)" \
    "$(j '.nodes[] | select(.release) | .node_id' | sort | paste -sd' ')"
check "what-if --json: every evaluated node was released by v1" 5 \
    "$(j '[.nodes[] | select(.released_by_active)] | length')"
check "what-if --json: without evidence" "${NODES[6]}" "$(j '.without_evidence[].node_id')"

# exit_of CMD...: the exit code of CMD (output in $WORK/rc.out)
exit_of() {
    set +e
    "$@" >"$WORK/rc.out" 2>&1
    echo $?
    set -e
}
check "what-if of a candidate allowing A and B: exit 0" 0 "$(exit_of "$BOOTGATECTL" policy what-if "$WORK/v1.json")"
cp "$WORK/rc.out" "$WORK/wi1.txt"
check "what-if on a group without nodes: exit 0" 0 \
    "$(exit_of "$BOOTGATECTL" policy what-if --group nobody --json "$WORK/v2.json")"
check "  nothing evaluated" 0 "$(jq -r .evaluated "$WORK/rc.out")"
check "what-if without a file: exit 2" 2 "$(exit_of "$BOOTGATECTL" policy what-if)"
echo '{"name":"fleet"}' >"$WORK/bad.json"
check "what-if of a malformed policy: exit 2" 2 "$(exit_of "$BOOTGATECTL" policy what-if "$WORK/bad.json")"
check "what-if with a bad group name: exit 2" 2 \
    "$(exit_of "$BOOTGATECTL" policy what-if --group 'a/b' "$WORK/v2.json")"
grep -q '^would release: 5$' "$WORK/wi1.txt" || fail "what-if A+B: $(cat "$WORK/wi1.txt")"

# --- activate refuses a version that would lock out released nodes ----------------
publish "$WORK/v2.json"
before=$(activations)
check "activate v2: refused, exit 1" 1 "$(exit_of "$BOOTGATECTL" policy activate fleet 2)"
cp "$WORK/rc.out" "$WORK/act.out"
cat "$WORK/act.out"
for i in 4 5; do
    check "the refusal names node $i with the reason" 1 \
        "$(grep -cF "  ${NODES[$i]}: $REASON" "$WORK/act.out")"
done
check "the refusal names no released-by-A node" 0 "$(grep -cE "${NODES[1]}|${NODES[2]}|${NODES[3]}" "$WORK/act.out" || true)"
check "the refusal says how to override" 1 "$(grep -cF 'policy activate fleet 2 --force --reason' "$WORK/act.out")"
echo '{}' >"$WORK/empty.json"
check "API: 409" 409 "$(api POST /v1/admin/policies/fleet/2/activate "$WORK/empty.json" admin)"
check "API: would_lock_out with the two nodes" "would_lock_out|$(ids 4 5)|2|5" \
    "$(jreply '"\(.error)|\([.nodes[].node_id] | sort | join(" "))|\(.would_deny)|\(.checked)"')"
check "nothing changed: v1 still active" 1 "$(active_version)"
check "nothing changed: no policy_activated record" "$before" "$(activations)"
check "nothing changed: node 4 still unlocks" 0 "$(boot 4)"
check_ok "what-if agrees after that boot (still 2 denied)" \
    test "$("$BOOTGATECTL" policy what-if --json "$WORK/v2.json" | jq .deny)" = 2

# bad requests change nothing either
check "--force without --reason: exit 2" 2 "$(exit_of "$BOOTGATECTL" policy activate fleet 2 --force)"
echo '{"force":true}' >"$WORK/f.json"
check "API: force without a reason: 400" 400 "$(api POST /v1/admin/policies/fleet/2/activate "$WORK/f.json" admin)"
echo '{"force":"yes","reason":"because"}' >"$WORK/f.json"
check "API: force not a boolean: 400" 400 "$(api POST /v1/admin/policies/fleet/2/activate "$WORK/f.json" admin)"
echo '{"force":true,"reason":"ok","extra":1}' >"$WORK/f.json"
check "API: an unknown key: 400" 400 "$(api POST /v1/admin/policies/fleet/2/activate "$WORK/f.json" admin)"
echo '{"force":true,"reason":"retire B"}' >"$WORK/f.json"
check "API: an auditor cannot force: 403" 403 "$(api POST /v1/admin/policies/fleet/2/activate "$WORK/f.json" auditor)"
check "still v1 after the bad requests" "1 $before" "$(active_version) $(activations)"

# --- --force --reason: activated and audited ----------------------------------------
check_ok "activate v2 --force --reason: accepted" \
    "$BOOTGATECTL" policy activate fleet 2 --force --reason "retire image B (CHG-7)"
check "v2 active" 2 "$(active_version)"
last_activation >"$WORK/det.json"
check "audit record: forced, the reason, version 2 after 1" "true|retire image B (CHG-7)|2|1" \
    "$(jq -r '"\(.forced)|\(.reason)|\(.version)|\(.previous_version)"' "$WORK/det.json")"
check "audit record: the would-deny nodes with the reason" "$(ids 4 5)|$REASON" \
    "$(jq -r '"\([.would_deny[].node_id] | sort | join(" "))|\(.would_deny[0].reason)"' "$WORK/det.json")"
check "node 4 is denied under v2" 1 "$(boot 4 3)"
grep -q 'PCR 9' "$WORK/boot4.out" || fail "node 4's denial names PCR 9: $(cat "$WORK/boot4.out")"

# --- a version that locks nobody out needs no --force; rollback is checked too -------
check "node 1 boots under v2" 0 "$(boot 1)"
policy "$WORK/v3.json" 3 "$WORK/ev1.bin" "$WORK/ev4.bin"
publish "$WORK/v3.json"
check_ok "activate v3 (A and B): accepted without --force" "$BOOTGATECTL" policy activate fleet 3
last_activation >"$WORK/det3.json"
check "audit record of v3: not forced, node 1 checked, nobody would be denied" "null|1|0" \
    "$(jq -r '"\(.forced)|\(.checked_nodes)|\(.would_deny | length)"' "$WORK/det3.json")"
check "node 5 boots under v3" 0 "$(boot 5)"
check "node 1 boots under v3" 0 "$(boot 1)"
check "rollback to v2: refused" 1 "$(exit_of "$BOOTGATECTL" policy activate fleet 2)"
check "  for node 5 (released by v3), not node 1 (image A)" "1|0" \
    "$(grep -cF "  ${NODES[5]}: $REASON" "$WORK/rc.out")|$(grep -cF "${NODES[1]}" "$WORK/rc.out" || true)"
check "still v3" 3 "$(active_version)"
check_ok "rollback to v1 (A and B): accepted" "$BOOTGATECTL" policy activate fleet 1
check "v1 active" 1 "$(active_version)"

# --- beyond its cap the check refuses (fail closed) -------------------------------
check "node 4 boots under v1" 0 "$(boot 4)"
stop_bootgated
echo "activation_check_max_states = 1" >>"$SRV/bootgated.conf"
start_bootgated
check "activation_check_max_states = 1, two states released by v1: 409" 409 \
    "$(api POST /v1/admin/policies/fleet/2/activate "$WORK/empty.json" admin)"
check "  nodes 2, 3 (A) and 4 (B): one state judged, the other's nodes unchecked" \
    "would_lock_out|3|true" \
    "$(jreply '"\(.error)|\(.checked + .unchecked)|\(.unchecked >= 1 and .unchecked <= 2)"')"
check "  the ctl: refused, exit 1" 1 "$(exit_of "$BOOTGATECTL" policy activate fleet 2)"
check_ok "  and says nodes could not be checked" grep -q 'could not be checked' "$WORK/rc.out"
check "still v1" 1 "$(active_version)"
check_ok "audit verify" "$BOOTGATECTL" audit verify
finish
