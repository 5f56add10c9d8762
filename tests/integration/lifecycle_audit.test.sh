#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Audit mode end to end and canary promotion (issue 11 points 4 and 6), with
# swtpm + bootgated + bootgate-unlock on a LUKS2 image file:
# - policy web v1 (enforce) releases the node's boot; v2, the same baseline in
#   audit mode, is activated; the node's firmware changes (an extra PCR 0
#   event, as an update that cannot be predicted);
# - the changed boot is released in audit mode; its key_released audit record
#   and its stored attempt hold the would-be verdict and the explanation (PCR
#   0, the new event); /metrics counts it by group, verdict and PCR and passes
#   promtool; nothing counts it as a denial;
# - identity is never relaxed: a quote signed by another TPM key presented as
#   the enrolled AK, and the released request replayed, are denied under the
#   audit policy (bad_signature, nonce_reused), with their audit records, and
#   are not stored as attempts;
# - `policy propose --from-attempt` of the audited attempt: a baseline equal
#   to the quoted PCRs, added to v2 as v3 in enforce mode (--into), signed,
#   published, activated: the same boot unlocks in enforce mode; the old boot
#   state (v2's baseline, kept by --into) is still allowed; the attempt's IMA
#   log becomes an allow list (gating PCR 10), or is added to CURRENT's with
#   --into; a proposal from an attempt whose stored log does not replay to
#   its quote (the store edited) is refused.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
for t in swtpm tpm2_createek tpm2_quote tpm2_pcrextend cryptsetup python3 jq promtool sqlite3; do
    command -v "$t" >/dev/null || die "missing $t (ci/deps.sh)"
done
ctl() { "$BOOTGATECTL" "$@"; }

client_server_up # policy web v1 (enforce) from $WORK/eventlog.bin, PCRs 0-9,11
enroll web
VOL=$(cryptsetup luksUUID "$WORK/disk.img")
cl --verify-only "$WORK/disk.img" >"$WORK/u1.out" 2>&1 || die "first unlock: $(cat "$WORK/u1.out")"
check "v1 (enforce) releases the node's boot" 1 "$(grep -c 'policy web v1, enforce' "$WORK/u1.out")"

# v2: the same boot state in audit mode; then a firmware update the policy does not know
bootgated_policy web 2 "$WORK/eventlog.bin" --pcrs 0-9,11 --mode audit
cp "$WORK/eventlog.bin" "$WORK/ev-v1.bin"
eventlog_append "$WORK/eventlog.bin" "$WORK/ev-fw2.bin" 0:0x80000008:firmware-v2
cp "$WORK/ev-fw2.bin" "$WORK/eventlog.bin"
# from now on the node also sends an IMA log (v2 does not judge it; PCR 10 replays)
ima_boot "$WORK/ima.bin" /usr/bin/app:app-v1 /etc/app.conf:conf-v1
IMA=(--set ima_log="$WORK/ima.bin")
check_ok "enforce would deny the new firmware (policy explain, offline)" \
    sh -c "! '$BOOTGATECTL' policy explain --policy '$WORK/policy-web-1.json' --eventlog '$WORK/eventlog.bin' >/dev/null"

# --- the audit-mode release ---------------------------------------------------------
cl "${IMA[@]}" --verify-only "$WORK/disk.img" >"$WORK/u2.out" 2>&1 || fail "audit-mode unlock: $(cat "$WORK/u2.out")"
check "audit mode releases the changed boot" 1 "$(grep -c 'released key verified.*policy web v2, audit' "$WORK/u2.out")"
SEQ=$(grep -o 'audit #[0-9]*' "$WORK/u2.out" | tr -dc 0-9)
ctl audit list --json >"$WORK/audit.json"
rec() { jq -r --argjson s "$SEQ" ".[] | select(.seq == \$s) | $1" "$WORK/audit.json"; }
check "its audit record is key_released, mode audit" "key_released audit" \
    "$(rec '"\(.action) \(.details | fromjson | .mode)"')"
check "... with the would-be verdict" policy_denied "$(rec '.details | fromjson | .audit_verdict')"
check "... and the evaluation: fail, released, closest baseline web-v2" "fail true web-v2" \
    "$(rec '.details | fromjson | .evaluation | "\(.verdict) \(.release) \(.explanation.baseline)"')"
check "... whose explanation names PCR 0" 0 "$(rec '[.details | fromjson | .evaluation.explanation.pcrs[].pcr] | join(",")')"
check "... and the new firmware event" "new EV_EFI_PLATFORM_FIRMWARE_BLOB" \
    "$(rec '.details | fromjson | .evaluation.explanation.events[] | select(.pcr == 0 and .change != "changed") | "\(.change) \(.type)"')"

# the stored attempt (GET /v1/admin/nodes/NODE/attempts, newest first)
check "GET the node's attempts" 200 "$(api GET "/v1/admin/nodes/$NODE/attempts?limit=10" '' auditor)"
cp "$WORK/reply" "$WORK/attempts.json"
att() { jq -r ".attempts[0] | $1" "$WORK/attempts.json"; }
ATTEMPT=$(att .id)
check "the newest attempt: released in audit mode by web v2, audit seq of the release" \
    "true audit web 2 $SEQ" "$(att '"\(.released) \(.mode) \(.policy) \(.policy_version) \(.audit_seq)"')"
check "... its would-be verdict" policy_denied "$(att .audit_verdict)"
check "... and its IMA log (by SHA-256)" "$(sha256sum <"$WORK/ima.bin" | cut -d' ' -f1)" "$(att .ima_sha256)"
check "... its explanation names PCR 0 against web-v2" "0 web-v2" \
    "$(att '"\([.evaluation.explanation.pcrs[].pcr] | join(",")) \(.evaluation.explanation.baseline)"')"
check "the first attempt: released by v1 in enforce mode, no would-be verdict" "true enforce 1 " \
    "$(jq -r '.attempts[1] | "\(.released) \(.mode) \(.policy_version) \(.audit_verdict)"' "$WORK/attempts.json")"

# --- /metrics ---------------------------------------------------------------------------
check "GET /metrics" 200 "$(api GET /metrics)"
cp "$WORK/reply" "$WORK/metrics.txt"
check_ok "promtool check metrics" sh -c "promtool check metrics <'$WORK/metrics.txt' >'$WORK/promtool.out' 2>&1"
cat "$WORK/promtool.out"
metric() { grep -c "^$1\$" "$WORK/metrics.txt" || true; }
check "would-deny counted by group and verdict" 1 \
    "$(metric 'bootgate_audit_would_deny_total{group="web",verdict="policy_denied"} 1')"
check "... and by PCR (0 only)" 'bootgate_audit_would_deny_pcrs_total{group="web",pcr="0"} 1' \
    "$(grep '^bootgate_audit_would_deny_pcrs_total' "$WORK/metrics.txt")"
check "the release counted in mode audit" 1 "$(metric 'bootgate_releases_total{group="web",mode="audit"} 1')"
check "no denial counted" "" "$(grep '^bootgate_denials_total\|^bootgate_denial_pcrs_total' "$WORK/metrics.txt")"

# --- identity is never relaxed by audit mode ------------------------------------------
# tpm2-tools on the node's TPM (tests/lib/node.sh): the same EK and AK as
# bootgate-unlock (deterministic templates), so the server knows this node
make_node_keys
check "tpm2-tools derive the enrolled node" "$NODE" "$NODE_ID"
tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 -c "$WORK/node/other.ctx" \
    -a 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda' >/dev/null
tpmflush
N_AUDIT=$(ctl audit list --json | jq length)
NONCE=$(challenge)
AK_CTX=$WORK/node/other.ctx quote "$NONCE"
EVENTLOG=$WORK/eventlog.bin unlock_body "$NONCE"
check "a quote signed by another TPM key as the enrolled AK: 403" 403 "$(api POST /v1/unlock "$WORK/unlock.json")"
check "... bad_signature, no key" "bad_signature null" "$(jreply '"\(.verdict) \(.wrapped_key)"')"
NONCE=$(challenge)
quote "$NONCE"
EVENTLOG=$WORK/eventlog.bin unlock_body "$NONCE" ".ima_log = \"$(base64 -w0 "$WORK/ima.bin")\""
check "the node's own quote is released (audit mode)" 200 "$(api POST /v1/unlock "$WORK/unlock.json")"
check "the same request replayed: 403 nonce_reused" "403 nonce_reused" \
    "$(api POST /v1/unlock "$WORK/unlock.json") $(jreply .verdict)"
ctl audit list --json >"$WORK/audit2.json"
check "both denials are audit records" "unlock_denied bad_signature,unlock_denied nonce_reused" \
    "$(jq -r --argjson n "$N_AUDIT" '[.[] | select(.seq > $n and .action == "unlock_denied") | "\(.action) \(.details | fromjson | .verdict)"] | join(",")' "$WORK/audit2.json")"
check "GET the node's attempts" 200 "$(api GET "/v1/admin/nodes/$NODE/attempts?limit=10" '' auditor)"
check "the denials before identity are not stored as attempts (3 releases)" "3 true" \
    "$(jreply '"\(.attempts | length) \([.attempts[].released] | all)"')"

# --- canary promotion: a baseline from the audited attempt ---------------------------
check_ok "policy propose --from-attempt into v2 as v3 (enforce)" \
    ctl policy propose --from-attempt "$ATTEMPT" --name web --version 3 --mode enforce \
    --baseline web-fw2 --into "$WORK/policy-web-2.json" --out "$WORK/p3.json"
check "v3: enforce, baselines web-v2 and web-fw2" "3 enforce web-v2,web-fw2" \
    "$(jq -r '"\(.version) \(.mode) \([.baselines[].name] | join(","))"' "$WORK/p3.json")"
check "the new baseline's PCRs are the attempt's quoted PCRs (pcrs.json of tpm2_pcrread)" \
    "$(jq -cS 'with_entries(select(.key != "10"))' "$WORK/node/pcrs.json")" \
    "$(jq -cS '.baselines[1].pcrs' "$WORK/p3.json")"
check "... and its events include the new firmware (2 in PCR 0, v1's baseline has 1)" "2 1" \
    "$(jq '[.baselines[1].events[] | select(.pcr == 0)] | length' "$WORK/p3.json") $(jq '[.baselines[0].events[] | select(.pcr == 0)] | length' "$WORK/p3.json")"
set +e
ctl policy diff "$WORK/policy-web-2.json" "$WORK/p3.json" >"$WORK/diff.out"
rc=$?
set -e
check "policy diff v2 v3: differs (exit 1), names the new baseline" "1 1" \
    "$rc $(grep -q web-fw2 "$WORK/diff.out" && echo 1)"
check "nothing was published or activated by propose" "2" \
    "$(ctl policy list --json | jq -r '[.policies[] | select(.name == "web" and .active)][0].version')"
ctl policy sign --key "$SRV/policy-signer.key" "$WORK/p3.json" >/dev/null 2>&1
check_ok "publish v3" ctl policy publish "$WORK/p3.json" "$WORK/p3.json.sig"
check_ok "v3 still allows the boot before the update (policy explain)" \
    ctl policy explain --policy "$WORK/p3.json" --eventlog "$WORK/ev-v1.bin"
check_ok "activate v3" ctl policy activate web 3
cl "${IMA[@]}" --verify-only "$WORK/disk.img" >"$WORK/u3.out" 2>&1 || fail "unlock under v3: $(cat "$WORK/u3.out")"
check "v3 (enforce) releases the canary's boot" 1 "$(grep -c 'released key verified.*policy web v3, enforce' "$WORK/u3.out")"
check "GET the node's attempts" 200 "$(api GET "/v1/admin/nodes/$NODE/attempts?limit=1" '' auditor)"
check "... stored: released by v3, matched web-fw2" "true enforce 3 web-fw2" \
    "$(jreply '.attempts[0] | "\(.released) \(.mode) \(.policy_version) \(.evaluation.matched_baseline)"')"

FIRST=$(jq -r '.attempts[-1].id' "$WORK/attempts.json")
check "propose from an unknown attempt: exit 1" 1 \
    "$(ctl policy propose --from-attempt 999999 --name web --version 4 --out "$WORK/p4.json" >/dev/null 2>&1; echo $?)"
check "propose from the first attempt (enforce release) also works" 0 \
    "$(ctl policy propose --from-attempt "$FIRST" --name web --version 4 --out "$WORK/p4.json" 2>/dev/null; echo $?)"
check "... and its baseline is v1's boot" \
    "$(jq -cS '.baselines[0].pcrs' "$WORK/policy-web-1.json")" "$(jq -cS '.baselines[0].pcrs' "$WORK/p4.json")"
check "propose without --from-attempt: usage (2)" 2 \
    "$(ctl policy propose --name web --version 4 >/dev/null 2>&1; echo $?)"

# the IMA log of the attempt: without --into, PCR 10 is gated and its files allowed
# (as capture --ima does); --into a policy with an IMA section adds them to its list
D1=sha256:$(printf app-v1 | sha256sum | cut -d' ' -f1)
D2=sha256:$(printf conf-v1 | sha256sum | cut -d' ' -f1)
ctl policy propose --from-attempt "$ATTEMPT" --name web --version 6 --out "$WORK/p6.json" 2>/dev/null ||
    fail "propose with the attempt's IMA log"
check "propose: PCR 10 gated, the attempt's two files allowed, boot_aggregate ignored" \
    "10 $D1,$D2 ^boot_aggregate$" \
    "$(jq -r '"\(.gate_pcrs | map(select(. == 10)) | join(",")) \(.ima.allow | join(",")) \(.ima.ignore_paths | join(","))"' "$WORK/p6.json")"
D0=sha256:$(printf other | sha256sum | cut -d' ' -f1)
jq --arg d "$D0" '.ima.allow = [$d]' "$WORK/p6.json" >"$WORK/p6-other.json"
ctl policy propose --from-attempt "$ATTEMPT" --name web --version 7 --into "$WORK/p6-other.json" \
    --out "$WORK/p7.json" 2>"$WORK/p7.err" || fail "propose --into a policy with IMA: $(cat "$WORK/p7.err")"
check "--into: the IMA allow list gains the attempt's files, its baseline is not added twice" \
    "$D0,$D1,$D2 1" "$(jq -r '"\(.ima.allow | join(",")) \(.baselines | length)"' "$WORK/p7.json")"
check "... and says so" 1 "$(grep -c 'already has this baseline' "$WORK/p7.err")"

# a proposal is refused when the attempt's logs do not replay to its quote:
# the store is edited so that the audited attempt names the first attempt's
# log (the boot before the firmware update)
sqlite3 "$SRV/bootgate.db" "PRAGMA busy_timeout = 5000;
    UPDATE attempts SET eventlog = (SELECT eventlog FROM attempts WHERE id = $FIRST) WHERE id = $ATTEMPT"
set +e
ctl policy propose --from-attempt "$ATTEMPT" --name web --version 5 --out "$WORK/p5.json" 2>"$WORK/p5.err"
rc=$?
set -e
check "propose from an attempt whose log does not replay to its quote: exit 1, nothing written" "1 no" \
    "$rc $([ -e "$WORK/p5.json" ] && echo yes || echo no)"
check "... the message names PCR 0" 1 "$(grep -c 'do not replay to its quoted PCRs: PCR 0: no baseline proposed' "$WORK/p5.err")"

finish
