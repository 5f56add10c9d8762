#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Adversarial suite, evidence: a real node (swtpm + tpm2-tools, tests/lib/node.sh)
# enrolled with an active policy, and an attacker who holds it and edits what
# it sends: nonces, attestation keys, quotes, event logs and log bombs. Each
# case asserts the HTTP status, the verdict, that no key left the server and
# that an unlock_denied record names that verdict; then the server still
# serves with bounded memory. (server_api and server_unlock hold more nonce
# and evidence cases against a fake node and the happy path.)
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=../lib/adversarial.sh
. "$TESTLIB/adversarial.sh"
for t in swtpm tpm2_createek tpm2_quote tpm2_loadexternal python3 sqlite3 openssl; do
    command -v "$t" >/dev/null || die "missing $t"
done
# every denial before identity gets its audit row here (the flood bounds are
# adversarial_flood's); nonces live 5 s
SRV_EXTRA_CONF="denial_audit_burst = 10000
nonce_ttl = 5" start_bootgated
start_swtpm
make_node_keys
N=$WORK/node
VOL=6f1b2c3d-0000-4000-8000-00000000abcd
node_boot
RSS0=$(rss_kb)

# --- attestation keys that are not a TPM-resident restricted signing key ---------
mk_key() { # NAME ATTRIBUTES: a primary under the endorsement hierarchy
    tpm2_createprimary -C e -G ecc256:ecdsa-sha256:null -g sha256 -a "$2" -c "$N/$1.ctx" >/dev/null
    tpmflush
    tpm2_readpublic -c "$N/$1.ctx" -o "$N/$1.pub" >/dev/null
    tpmflush
}
mk_key adminpol 'restricted|sign|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|adminwithpolicy'
mk_key notfixed 'restricted|sign|sensitivedataorigin|userwithauth'
# a software key: its private part was outside any TPM (LoadExternal cannot set fixedTPM)
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$N/soft.pem" 2>/dev/null
tpm2_loadexternal -C n -G ecc -r "$N/soft.pem" -a 'sign|userwithauth' -c "$N/soft.ctx" >/dev/null
tpmflush
tpm2_readpublic -c "$N/soft.ctx" -o "$N/soft.pub" >/dev/null
tpmflush
enroll_with() { # AK-PUBLIC -> status of an enrollment with that AK
    jq -n --arg ek "$(base64 -w0 "$N/ek.pub")" --arg ak "$(base64 -w0 "$1")" --arg vol "$VOL" \
        --arg key "$(head -c 64 /dev/urandom | base64 -w0)" \
        '{hostname:"node1", group:"web", ek_public:$ek, ak_public:$ak, volumes:[{uuid:$vol, key:$key}]}' \
        >"$WORK/enroll-bad.json"
    api POST /v1/enroll "$WORK/enroll-bad.json" enroller
}
for k in soft adminpol notfixed; do
    case $k in
    soft) what="a software AK (LoadExternal, no fixedTPM)" ;;
    adminpol) what="an AK with adminWithPolicy" ;;
    notfixed) what="an AK without fixedTPM/fixedParent" ;;
    esac
    acase "enrollment with $what is refused, nothing stored" "400 0" \
        "$(enroll_with "$N/$k.pub") $(api GET /v1/admin/nodes '' admin >/dev/null; jreply '.nodes | length')"
done
node_enroll
bootgated_policy web 1 "$N/eventlog.bin" --pcrs 0-9,11
acase "control: the node's own evidence releases its key" 200 "$(try_unlock)"
cp "$WORK/unlock.json" "$WORK/released.json"

for k in soft adminpol notfixed; do
    audit_mark
    NONCE=$(challenge)
    AK_CTX=$N/$k.ctx quote "$NONCE"
    AK_PUB=$N/$k.pub unlock_body "$NONCE"
    GOT=$(api POST /v1/unlock "$WORK/unlock.json")
    unlock_refused "unlock with a quote by the $k key, sent as the AK" 403 ak_refused
done

# --- nonces ---------------------------------------------------------------------------
audit_mark
GOT=$(api POST /v1/unlock "$WORK/released.json")
unlock_refused "the released request replayed byte for byte" 403 nonce_reused
audit_mark
NONCE=$(challenge)
sleep 6 # nonce_ttl = 5
quote "$NONCE"
unlock_body "$NONCE"
GOT=$(api POST /v1/unlock "$WORK/unlock.json")
unlock_refused "a nonce used after its expiry (nonce_ttl 5 s)" 403 nonce_expired
OTHER=$(challenge fedcba9876543210fedcba9876543210)
denial "a nonce issued to another node" 403 nonce_forged ".nonce = \"$OTHER\""
# what another bootgated (another nonce secret) issues: same layout, other MAC
FOREIGN=$(python3 - "$NODE_ID" <<'PY'
import base64, hashlib, hmac, os, struct, sys, time
r, exp = os.urandom(8), struct.pack(">Q", int(time.time()) + 60)
mac = hmac.new(os.urandom(32), sys.argv[1].encode() + b"|" + r + exp, hashlib.sha256).digest()[:16]
print(base64.b64encode(r + exp + mac).decode())
PY
)
denial "a nonce from another server (other nonce secret)" 403 nonce_forged ".nonce = \"$FOREIGN\""
denial "an all-zero nonce" 403 nonce_malformed ".nonce = \"$(head -c 32 /dev/zero | base64 -w0)\""
denial "an empty nonce" 403 nonce_missing '.nonce = ""'
GOT=$(try_unlock '.nonce = ((.nonce | @base64d) + ("A" * 32) | @base64)')
acase "an overlong nonce (the real one + 32 bytes) is refused while parsing, naming the field" "400 yes" \
    "$GOT $(jreply .reason | grep -q nonce && echo yes || echo no)"
denial "a nonce with one MAC bit flipped" 403 nonce_forged \
    ".nonce = \"$(python3 -c 'import base64,sys; b=bytearray(base64.b64decode(sys.argv[1])); b[31]^=1; print(base64.b64encode(b).decode())' "$(challenge)")\""
serving "after the nonce cases"

# --- quotes -------------------------------------------------------------------------------
flip() { python3 -c 'import base64,sys; b=bytearray(open(sys.argv[1],"rb").read()); b[int(sys.argv[2])]^=1; print(base64.b64encode(b).decode())' "$@"; }
cut() { head -c "$2" "$1" | base64 -w0; }
audit_mark
NONCE=$(challenge)
AK_CTX=$N/soft.ctx quote "$NONCE"
unlock_body "$NONCE"
GOT=$(api POST /v1/unlock "$WORK/unlock.json")
unlock_refused "a forged quote (signed by a software key, sent with the enrolled AK)" 403 bad_signature
fresh() { NONCE=$(challenge); quote "$NONCE"; }
fresh
unlock_body "$NONCE" ".attest = \"$(cut "$N/attest.bin" 40)\""
audit_mark; GOT=$(api POST /v1/unlock "$WORK/unlock.json")
unlock_refused "a truncated quote (attest cut to 40 bytes)" 403 bad_signature
ALEN=$(stat -c %s "$N/attest.bin")
fresh
unlock_body "$NONCE" ".attest = \"$(flip "$N/attest.bin" $((ALEN - 5)))\""
audit_mark; GOT=$(api POST /v1/unlock "$WORK/unlock.json")
unlock_refused "a byte-flipped quote (pcrDigest)" 403 bad_signature
fresh
unlock_body "$NONCE" ".signature = \"$(flip "$N/sig.bin" 20)\""
audit_mark; GOT=$(api POST /v1/unlock "$WORK/unlock.json")
unlock_refused "a byte-flipped signature" 403 bad_signature
fresh
unlock_body "$NONCE" ".signature = \"$(cut "$N/sig.bin" 10)\""
audit_mark; GOT=$(api POST /v1/unlock "$WORK/unlock.json")
unlock_refused "a truncated signature" 403 signature_malformed
NONCE=$(challenge); quote "$NONCE" 0,1,2,3,4,5,6,7,8,9,10,11,16; unlock_body "$NONCE"
audit_mark; GOT=$(api POST /v1/unlock "$WORK/unlock.json")
unlock_refused "a quote over other PCRs than the log's (0-11 and 16)" 403 pcr_selection_mismatch
serving "after the quote cases"

# --- event logs --------------------------------------------------------------------------------
bomb() { # OUT KIND: the node's log with something appended (nothing extended)
    python3 - "$N/eventlog.bin" "$1" "$2" <<'PY'
import struct, sys
sys.path.insert(0, __import__("os").environ["TESTLIB"])
import eventlog as el
base, out, kind = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3]
tiny = el.agile([el.SHA256], 1, el.EV_POST_CODE, b"")
if kind == "extra":
    add = el.agile([el.SHA256], 4, el.EV_EFI_BOOT_SERVICES_APPLICATION, b"rootkit")
elif kind == "tiny-in":
    add = tiny * 16000
elif kind == "tiny-over":
    add = tiny * 17000
elif kind == "size-field":
    add = struct.pack("<III", 1, el.EV_POST_CODE, 1) + struct.pack("<H", el.SHA256) + b"\0" * 32 \
        + struct.pack("<I", 0xFFFFFFF0) + b"x" * 16
elif kind == "digest-count":
    add = struct.pack("<III", 1, el.EV_POST_CODE, 0xFFFFFFFF) + b"\0" * 64
elif kind == "big-event":
    add = el.agile([el.SHA256], 1, el.EV_POST_CODE, b"\0" * (2 << 20))
open(out, "wb").write(base + add)
PY
}
export TESTLIB
bomb "$N/log-extra.bin" extra
EVENTLOG=$N/log-extra.bin denial "an event log that does not replay (an event the TPM never saw)" 403 eventlog_mismatch
bomb "$N/log-tiny-in.bin" tiny-in
start=$(date +%s%N)
EVENTLOG=$N/log-tiny-in.bin denial "log bomb inside the limits: 16000 tiny events" 403 eventlog_mismatch
ms=$((($(date +%s%N) - start) / 1000000))
acase "the 16000-event log is judged in < 5 s (took $ms ms)" yes "$([ "$ms" -lt 5000 ] && echo yes || echo no)"
bomb "$N/log-tiny-over.bin" tiny-over
EVENTLOG=$N/log-tiny-over.bin denial "log bomb over the limits: 17000 events (cap 16384)" 403 eventlog_invalid
bomb "$N/log-size.bin" size-field
EVENTLOG=$N/log-size.bin denial "an event whose size field says 4 GiB" 403 eventlog_invalid
bomb "$N/log-count.bin" digest-count
EVENTLOG=$N/log-count.bin denial "an event with 2^32-1 digests" 403 eventlog_invalid
bomb "$N/log-big.bin" big-event
EVENTLOG=$N/log-big.bin denial "an event of 2 MiB (cap 1 MiB)" 403 eventlog_invalid
serving "after the event-log cases"
rss_bounded "after the evidence cases" $((RSS0 + 65536))

# the node itself still gets its key: nothing above changed its state
acase "control: the node still releases afterwards" 200 "$(try_unlock)"
acase "audit verify passes after the run" 0 "$("$BOOTGATECTL" audit verify >/dev/null 2>&1; echo $?)"
acase_finish
