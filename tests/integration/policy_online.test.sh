#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgatectl policy publish / list / show --remote / activate against a real
# bootgated (init-server PKI, mTLS, SQLite store): signatures checked by the
# server, version ordering, activation and rollback, roles, audit records,
# and the exit codes scripts rely on (0 ok, 1 refused, 3 unreachable).
set -euo pipefail
: "${BOOTGATE_TEST_DATA:?}"
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

OVMF=$BOOTGATE_TEST_DATA/captures/ovmf-uki
start_bootgated
ctl() { "$BOOTGATECTL" "$@"; }
# rc CMD...: prints the exit code; output in $WORK/out
rc() {
    local r=0
    "$@" >"$WORK/out" 2>&1 || r=$?
    echo "$r"
}
out_has() { grep -qF -- "$1" "$WORK/out" && echo yes || echo "no: $(head -c 300 "$WORK/out")"; }

check "empty list" 0 "$(rc ctl policy list)"
check "empty list has only the header" 1 "$(wc -l <"$WORK/out")"

ctl policy capture --eventlog "$OVMF/eventlog.bin" --name web --version 1 --baseline img-1 \
    --out "$WORK/web1.json" 2>/dev/null
ctl policy sign --key "$SRV/policy-signer.key" "$WORK/web1.json" 2>/dev/null
check "publish v1" 0 "$(rc ctl policy publish "$WORK/web1.json")"
check "publish names the policy" yes "$(out_has "published web v1")"
check "publish the same version again: refused" 1 "$(rc ctl policy publish "$WORK/web1.json")"
check "the refusal gives the server's reason" yes "$(out_has "HTTP 409")"

# Signed by a key the server does not trust.
openssl genpkey -algorithm ed25519 -out "$WORK/eve.key" 2>/dev/null
ctl policy capture --eventlog "$OVMF/eventlog.bin" --name web --version 5 --out "$WORK/web5.json" 2>/dev/null
ctl policy sign --key "$WORK/eve.key" "$WORK/web5.json" 2>/dev/null
check "untrusted signer: refused" 1 "$(rc ctl policy publish "$WORK/web5.json")"
check "untrusted signer: reason" yes "$(out_has "HTTP 400")"
# A malformed policy never leaves the workstation; the JSON path is named.
jq '.baselines[0].pcrs."7" = "xyz"' "$WORK/web1.json" >"$WORK/bad.json"
check "malformed policy: refused locally" 1 "$(rc ctl policy publish "$WORK/bad.json" "$WORK/web1.json.sig")"
check "malformed policy: JSON path" yes "$(out_has "baselines[0].pcrs.7: not 64 hex digits")"

ctl policy capture --eventlog "$OVMF/eventlog.bin" --name web --version 2 --mode audit \
    --baseline img-2 --out "$WORK/web2.json" 2>/dev/null
ctl policy sign --key "$SRV/policy-signer.key" --out "$WORK/web2.sig" "$WORK/web2.json" 2>/dev/null
check "publish v2 with an explicit SIG" 0 "$(rc ctl policy publish --json "$WORK/web2.json" "$WORK/web2.sig")"
check "publish --json carries the audit seq" true "$(jq '.audit_seq > 0' "$WORK/out")"

check "list" 0 "$(rc ctl policy list --json)"
check "two versions stored" "1 2" "$(jq -r '[.policies[] | select(.name == "web") | .version] | join(" ")' "$WORK/out")"
check "none active yet" 0 "$(jq '[.policies[] | select(.active)] | length' "$WORK/out")"
check "signer recorded with its key fingerprint" true \
    "$(jq '.policies[0].signer | test("^policy-signer \\([0-9a-f]{64}\\)$")' "$WORK/out")"

check "show --remote without active: newest" 0 "$(rc ctl policy show --remote web)"
check "show --remote: v2, not active" yes "$(out_has "policy web version 2")"
check "show --remote: state line" yes "$(out_has "stored: not active, signer policy-signer")"

check "activate v1" 0 "$(rc ctl policy activate web 1)"
check "show --remote: the active one" 0 "$(rc ctl policy show --remote web)"
check "active is v1" yes "$(out_has "policy web version 1")"
check "marked active" yes "$(out_has "stored: ACTIVE")"
check "activate v2" 0 "$(rc ctl policy activate web 2)"
check "rollback to v1" 0 "$(rc ctl policy activate web 1)"
check "v1 active after rollback" 1 "$(ctl policy list --json | jq '[.policies[] | select(.active)][0].version')"
check "activate an unknown version: refused" 1 "$(rc ctl policy activate web 9)"
check "activate: usage" 2 "$(rc ctl policy activate web x)"

# The stored copy verifies locally with the server's signer key; the server
# keeps the canonical form, byte for byte what was signed.
check "show --remote --json" 0 "$(rc ctl policy show --remote --json web 2)"
jq -j .policy "$WORK/out" >"$WORK/fetched.json"
jq -r .signature "$WORK/out" >"$WORK/fetched.sig"
check "fetched policy verifies" 0 "$(rc ctl policy verify --signers "$SRV/policy-signers.d" "$WORK/fetched.json" "$WORK/fetched.sig")"
ctl policy show --canonical "$WORK/web2.json" >"$WORK/web2.canon"
check "fetched is the canonical form of what was published" 0 "$(rc cmp "$WORK/fetched.json" "$WORK/web2.canon")"

# Roles: an auditor lists, but cannot activate.
AUD=(--cert "$SRV/auditor.crt" --key "$SRV/auditor.key")
check "auditor lists" 0 "$(rc ctl policy list "${AUD[@]}")"
check "auditor cannot activate" 1 "$(rc ctl policy activate "${AUD[@]}" web 2)"
check "auditor: HTTP 403" yes "$(out_has "HTTP 403")"

# Unreachable server: runtime error (3), not a refusal.
check "unreachable server" 3 "$(rc ctl policy list --server "https://127.0.0.1:$(free_port)")"

# Every change is in the audit log.
check "audit read" 200 "$(api GET '/v1/admin/audit?limit=100' '' auditor)"
check "uploads audited" 2 "$(jreply '[.records[] | select(.action == "policy_uploaded")] | length')"
check "activations audited" 3 "$(jreply '[.records[] | select(.action == "policy_activated")] | length')"

finish
