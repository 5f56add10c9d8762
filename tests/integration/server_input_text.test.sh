#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Strings from the wire are text: a node_id (or hostname, group, volume uuid,
# break-glass reason) that is not UTF-8 or carries control characters is
# refused with 400 before anything is stored or audited, so the audit API
# never serves bytes that are not JSON.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
start_bootgated

# body FILE PRINTF-FORMAT: the raw bytes, \xNN escapes included
body() { printf "$2" >"$1"; }
audit_json() { api GET '/v1/admin/audit?limit=0' '' auditor >/dev/null; }
audit_count() { audit_json; jq '.records | length' "$WORK/reply"; }

check "audit API answers" 200 "$(api GET '/v1/admin/audit?limit=0' '' auditor)"
BEFORE=$(audit_count)
UNLOCK_REST='"volume_uuid":"11111111-2222-3333-4444-555555555555","nonce":"AAEC","ak_public":"AAEC","attest":"AAEC","signature":"AAEC","pcr_bank":"sha256","pcrs":{},"event_log":"AAEC"'

for bad in 'ab\xffcd' '\xc0\xaf' '\xed\xa0\x80' 'a\xc2\x85b' 'a\\u0001b' 'a\\u0000b'; do
    body "$WORK/ch.json" "{\"node_id\":\"$bad\"}"
    check "challenge with node_id '$bad' is 400" 400 "$(api POST /v1/challenge "$WORK/ch.json")"
    check "  and the reason names node_id" 1 "$(jq -r .reason "$WORK/reply" | grep -c node_id)"
    body "$WORK/unlock.json" "{\"node_id\":\"$bad\",$UNLOCK_REST}"
    check "unlock with node_id '$bad' is 400" 400 "$(api POST /v1/unlock "$WORK/unlock.json")"
    body "$WORK/act.json" "{\"node_id\":\"$bad\",\"secret\":\"$(head -c 32 /dev/zero | base64 -w0)\"}"
    check "enroll/activate with node_id '$bad' is 400" 400 "$(api POST /v1/enroll/activate "$WORK/act.json" enroller)"
done
body "$WORK/unlock.json" "{\"node_id\":\"0123456789abcdef0123456789abcdef\",\"volume_uuid\":\"v\xfe\",\"nonce\":\"AAEC\",\"ak_public\":\"AAEC\",\"attest\":\"AAEC\",\"signature\":\"AAEC\",\"pcr_bank\":\"sha256\",\"pcrs\":{},\"event_log\":\"AAEC\"}"
check "unlock with a volume_uuid that is not UTF-8 is 400" 400 "$(api POST /v1/unlock "$WORK/unlock.json")"
for f in hostname group; do
    if [ $f = hostname ]; then h='h\xff'; g=web; else h=node1; g='w\x80eb'; fi
    body "$WORK/enroll.json" "{\"hostname\":\"$h\",\"group\":\"$g\",\"ek_public\":\"AAEC\",\"ak_public\":\"AAEC\",\"volumes\":[{\"uuid\":\"u\",\"key\":\"AAEC\"}]}"
    check "enroll with a $f that is not UTF-8 is 400" 400 "$(api POST /v1/enroll "$WORK/enroll.json" enroller)"
    check "  and the reason names $f" 1 "$(jq -r .reason "$WORK/reply" | grep -c $f)"
done
body "$WORK/bg.json" '{"code":"BG-AAAA-AAAA","reason":"rollout \xff\xfe"}'
check "break-glass request with a reason that is not UTF-8 is 400" 400 "$(api POST /v1/admin/breakglass "$WORK/bg.json" admin)"
body "$WORK/approve.json" "{\"ek_fingerprint\":\"$(printf '%063d' 0)\xff\"}"
check "node approve with a fingerprint that is not UTF-8 is 400" 400 "$(api POST /v1/admin/nodes/abcd/approve "$WORK/approve.json" admin)"

check "nothing was audited for the refused requests" "$BEFORE" "$(audit_count)"
check "the audit API is valid JSON" 0 "$(audit_json; jq -e . "$WORK/reply" >/dev/null 2>&1; echo $?)"

# text that is not ASCII is fine: denied as an unknown node, audited, served as JSON
N0=$(printf 'n\xc3\xa9ud-\xe2\x82\xac')
body "$WORK/ch.json" "{\"node_id\":\"$N0\"}"
check "challenge with a UTF-8 node_id" 200 "$(api POST /v1/challenge "$WORK/ch.json")"
NONCE=$(jreply .nonce)
body "$WORK/unlock.json" "{\"node_id\":\"$N0\",\"volume_uuid\":\"11111111-2222-3333-4444-555555555555\",\"nonce\":\"$NONCE\",\"ak_public\":\"AAEC\",\"attest\":\"AAEC\",\"signature\":\"AAEC\",\"pcr_bank\":\"sha256\",\"pcrs\":{},\"event_log\":\"AAEC\"}"
check "unlock with a UTF-8 node_id is decoded and denied" 403 "$(api POST /v1/unlock "$WORK/unlock.json")"
check "  as an unknown node" node_unknown "$(jreply .verdict)"
check "the audit API is still valid JSON" 0 "$(audit_json; jq -e . "$WORK/reply" >/dev/null 2>&1; echo $?)"
check "and carries the node id as text" "$N0" "$(jq -r '.records[-1].node' "$WORK/reply")"
check "bootgatectl audit list --json parses" 0 "$("$BOOTGATECTL" audit list --json | jq -e . >/dev/null 2>&1; echo $?)"
check "audit verify passes" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"

finish
