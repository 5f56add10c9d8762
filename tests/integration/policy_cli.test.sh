#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgatectl policy, offline: capture -> sign -> verify -> explain on the
# real OVMF/SeaBIOS captures of tests/data/captures (QEMU + swtpm boots), with
# the TPM's own PCR values (pcrs-sha256.json) as ground truth; then the
# denial explanation for a changed initrd, audit mode, expiry, diff, predict
# (reproducing the captured PCRs from the kernel file and command line), the
# canonical form checked with openssl alone, and Authenticode against
# osslsigncode when those are installed.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
: "${BOOTGATECTL:?}" "${BOOTGATE_TEST_DATA:?}" "${BOOTGATE_SRCDIR:?}"
CAP="$BOOTGATE_TEST_DATA/captures"
OVMF="$CAP/ovmf-uki"
SEABIOS="$CAP/seabios-kernel"
[ -f "$OVMF/eventlog.bin" ] && [ -f "$SEABIOS/eventlog.bin" ] || skip "$CAP missing"

ctl() { "$BOOTGATECTL" "$@"; }
# expect CODE CMD...: runs CMD, output in $WORK/out, fails unless the exit code is CODE
expect() {
    local want=$1 rc=0
    shift
    "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" = "$want" ] || {
        cat "$WORK/out" "$WORK/err" >&2
        fail "exit $rc, want $want: $*"
    }
}
has() { grep -qF -- "$1" "$WORK/out" "$WORK/err" || {
    cat "$WORK/out" "$WORK/err" >&2
    fail "output lacks '$1'"
}; }

# --- keys: openssl makes them, as an operator would ---------------------------
mkdir -p "$WORK/signers" "$WORK/others"
openssl genpkey -algorithm ed25519 -out "$WORK/alice.key" 2>/dev/null
openssl pkey -in "$WORK/alice.key" -pubout -out "$WORK/signers/alice.pub"
openssl genpkey -algorithm ed25519 -out "$WORK/eve.key" 2>/dev/null
openssl pkey -in "$WORK/eve.key" -pubout -out "$WORK/others/eve.pub"

# --- capture: baseline PCRs equal the TPM's PCRs read after that boot ---------
expect 0 ctl policy capture --eventlog "$OVMF/eventlog.bin" --ima "$OVMF/ima.bin" \
    --name web --version 7 --baseline image-2026.11.2 --out "$WORK/p.json"
for i in 0 1 2 3 4 5 6 7 8 9 11; do
    want=$(jq -r --arg i "$i" '.[$i]' "$OVMF/pcrs-sha256.json")
    got=$(jq -r --arg i "$i" '.baselines[0].pcrs[$i]' "$WORK/p.json")
    [ "$want" = "$got" ] || fail "captured PCR $i $got, TPM read $want"
done
[ "$(jq -c .gate_pcrs "$WORK/p.json")" = "[0,1,2,3,4,5,6,7,8,9,10,11]" ] || fail "gate with --ima"
[ "$(jq '.ima.allow | length' "$WORK/p.json")" -gt 0 ] || fail "no IMA allow list"
[ "$(jq '[.baselines[0].events[] | select(.pcr == 9 and .desc == "Linux initrd")] | length' \
    "$WORK/p.json")" = 1 ] || fail "no initrd event in the baseline"
expect 2 ctl policy capture --eventlog "$OVMF/eventlog.bin" --name web --version 7 --pcrs 4,10
has "PCR 10 is gated only with --ima"
expect 2 ctl policy capture --eventlog "$OVMF/eventlog.bin" --name web
expect 1 ctl policy capture --eventlog /etc/hostname --name web --version 1

# The schema accepts what capture writes (when python3-jsonschema is around).
if python3 -c 'import jsonschema' 2>/dev/null; then
    for f in "$WORK/p.json" "$BOOTGATE_SRCDIR/policies/example-web.json"; do
        python3 -c 'import json,sys,jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' \
            "$f" "$BOOTGATE_SRCDIR/policies/policy.schema.json" || fail "schema rejects $f"
    done
fi

# --- sign / verify ---------------------------------------------------------------
expect 0 ctl policy sign --key "$WORK/alice.key" "$WORK/p.json"
[ -s "$WORK/p.json.sig" ] || fail "no p.json.sig"
expect 0 ctl policy verify --signers "$WORK/signers" "$WORK/p.json"
has "signed by alice"
# Another layout of the same document verifies with the same signature.
jq -S . "$WORK/p.json" >"$WORK/p-sorted.json"
expect 0 ctl policy verify --signers "$WORK/signers" "$WORK/p-sorted.json" "$WORK/p.json.sig"
# A changed document, an untrusted signer, a damaged signature: refused (1).
jq '.version = 8' "$WORK/p.json" >"$WORK/p8.json"
expect 1 ctl policy verify --signers "$WORK/signers" "$WORK/p8.json" "$WORK/p.json.sig"
has "does not verify"
expect 0 ctl policy sign --key "$WORK/eve.key" --out "$WORK/eve.sig" "$WORK/p.json"
expect 1 ctl policy verify --signers "$WORK/signers" "$WORK/p.json" "$WORK/eve.sig"
expect 1 ctl policy verify --signers "$WORK/others" "$WORK/p.json"
tr 'A-Za-z' 'B-ZAb-za' <"$WORK/p.json.sig" >"$WORK/bad.sig"
expect 1 ctl policy verify --signers "$WORK/signers" "$WORK/p.json" "$WORK/bad.sig"
expect 2 ctl policy verify "$WORK/p.json"

# The signature format is plain Ed25519 over context || canonical bytes:
# openssl verifies it without bootgate.
ctl policy show --canonical "$WORK/p.json" >"$WORK/canon"
printf 'bootgate-policy-v1\n' | cat - "$WORK/canon" >"$WORK/signed-message"
base64 -d "$WORK/p.json.sig" >"$WORK/sig.bin"
openssl pkeyutl -verify -pubin -inkey "$WORK/signers/alice.pub" -rawin -in "$WORK/signed-message" \
    -sigfile "$WORK/sig.bin" >/dev/null || fail "openssl does not verify the policy signature"
# Canonical: sorted keys, no whitespace; stable across layouts.
ctl policy show --canonical "$WORK/p-sorted.json" | cmp -s - "$WORK/canon" || fail "canonical differs"
head -c 14 "$WORK/canon" | grep -q '^{"baselines":' || fail "canonical form does not start sorted"
! grep -q '[[:space:]]"' "$WORK/canon" || fail "whitespace in canonical form"

# --- show ----------------------------------------------------------------------
expect 0 ctl policy show "$WORK/p.json"
has "baseline image-2026.11.2"
has "gate PCRs:  0-11 (sha256)"
expect 0 ctl policy show --json "$WORK/p.json"
[ "$(jq -r .canonical_sha256 "$WORK/out")" = "$(sha256sum <"$WORK/canon" | cut -d' ' -f1)" ] ||
    fail "show --json canonical_sha256"

# --- explain: the captured boot passes ----------------------------------------------
expect 0 ctl policy explain --policy "$WORK/p.json" --eventlog "$OVMF/eventlog.bin" --ima "$OVMF/ima.bin"
has "PASS"
has "matches baseline image-2026.11.2"
# With the PCR values the TPM reported after that boot.
expect 0 ctl policy explain --policy "$WORK/p.json" --eventlog "$OVMF/eventlog.bin" \
    --ima "$OVMF/ima.bin" --pcrs "$OVMF/pcrs-sha256.json"
has "PASS"
# The IMA section needs the IMA log.
expect 1 ctl policy explain --policy "$WORK/p.json" --eventlog "$OVMF/eventlog.bin"
has "no IMA log"

# --- a boot with another initrd: the log of the capture with the sha256 digest
# of the "Linux initrd" event replaced (other banks untouched; only sha256 counts).
old=$(ctl eventlog show --json "$OVMF/eventlog.bin" |
    jq -r '.[] | select(.pcr == 9 and .description == "Linux initrd") | .digests.sha256')
new=$(printf 'another initrd' | sha256sum | cut -d' ' -f1)
python3 - "$OVMF/eventlog.bin" "$WORK/changed.bin" "$old" "$new" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
old, new = bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
# the initrd digest also appears as PCR 11's .initrd section digest: replace
# only the last occurrence (the PCR 9 event comes after the PCR 11 events)
i = data.rindex(old)
open(sys.argv[2], "wb").write(data[:i] + new + data[i + len(old):])
EOF
expect 1 ctl policy explain --policy "$WORK/p.json" --eventlog "$WORK/changed.bin" --ima "$OVMF/ima.bin"
has "DENIED: boot state not allowed by policy"
has "PCR 9 differs from closest baseline image-2026.11.2"
has "PCR 9 changed EV_EVENT_TAG \"Linux initrd\": ${old:0:12}… -> ${new:0:12}…"
expect 1 ctl policy explain --json --policy "$WORK/p.json" --eventlog "$WORK/changed.bin" \
    --ima "$OVMF/ima.bin"
jq -e --arg old "$old" --arg new "$new" '
    .verdict == "fail" and .release == false and
    .explanation.baseline == "image-2026.11.2" and
    (.explanation.pcrs | length) == 1 and .explanation.pcrs[0].pcr == 9 and
    (.explanation.events | length) == 1 and
    .explanation.events[0].change == "changed" and
    .explanation.events[0].type == "EV_EVENT_TAG" and
    .explanation.events[0].desc == "Linux initrd" and
    .explanation.events[0].expected_digest == $old and
    .explanation.events[0].actual_digest == $new' "$WORK/out" >/dev/null ||
    fail "explanation JSON: $(cat "$WORK/out")"

# The edited log against the TPM's values: a failure of evidence, not of policy.
expect 1 ctl policy explain --policy "$WORK/p.json" --eventlog "$WORK/changed.bin" --ima "$OVMF/ima.bin" \
    --pcrs "$OVMF/pcrs-sha256.json"
has "DENIED: evidence does not verify"
has "event log does not replay to quoted PCR 9"
echo '{"4": "xyz"}' >"$WORK/badpcrs.json"
expect 1 ctl policy explain --policy "$WORK/p.json" --eventlog "$OVMF/eventlog.bin" --pcrs "$WORK/badpcrs.json"
has "not a PCR index with 64 hex digits"

# Another machine (SeaBIOS): far from the baseline, and still explained per PCR.
expect 1 ctl policy explain --policy "$WORK/p.json" --eventlog "$SEABIOS/eventlog.bin" \
    --ima "$SEABIOS/ima.bin"
has "PCR 0  expected"
has "more event differences"

# --- audit mode: evaluated and recorded, released anyway ----------------------------
expect 0 ctl policy capture --eventlog "$OVMF/eventlog.bin" --name web --version 8 --mode audit \
    --baseline image-2026.11.2 --out "$WORK/audit.json"
expect 1 ctl policy explain --json --policy "$WORK/audit.json" --eventlog "$WORK/changed.bin"
jq -e '.verdict == "fail" and .mode == "audit" and .release == true' "$WORK/out" >/dev/null ||
    fail "audit result: $(cat "$WORK/out")"
expect 1 ctl policy explain --policy "$WORK/audit.json" --eventlog "$WORK/changed.bin"
has "AUDIT (would deny; released because the policy is in audit mode)"

# --- expiry -----------------------------------------------------------------------------
expect 0 ctl policy capture --eventlog "$OVMF/eventlog.bin" --name web --version 9 \
    --not-after 2027-06-01T00:00:00Z --out "$WORK/exp.json"
expect 0 ctl policy explain --policy "$WORK/exp.json" --eventlog "$OVMF/eventlog.bin" \
    --at 2027-05-31T23:59:59Z
expect 1 ctl policy explain --policy "$WORK/exp.json" --eventlog "$OVMF/eventlog.bin" \
    --at 2027-06-01T00:00:00Z
has "DENIED: policy expired"
has "expired at 2027-06-01T00:00:00Z"

# --- diff ----------------------------------------------------------------------------
expect 0 ctl policy capture --eventlog "$WORK/changed.bin" --ima "$OVMF/ima.bin" --name web \
    --version 8 --baseline image-2026.11.2 --out "$WORK/p-changed.json"
expect 1 ctl policy diff "$WORK/p.json" "$WORK/p-changed.json"
has "version 7 -> 8"
has "baseline image-2026.11.2 PCR 9"
[ "$(grep -c 'PCR' "$WORK/out")" = 1 ] || fail "diff lists other PCRs: $(cat "$WORK/out")"
expect 0 ctl policy diff "$WORK/p.json" "$WORK/p-sorted.json"
expect 1 ctl policy diff --json "$WORK/p.json" "$WORK/exp.json"
jq -e 'map(select(.detail | startswith("not_after"))) | length == 1' "$WORK/out" >/dev/null ||
    fail "diff --json: $(cat "$WORK/out")"

# --- predict ----------------------------------------------------------------------------
# The captured boot's own kernel digest and command line reproduce its PCRs.
kdigest=$(ctl eventlog show --json "$OVMF/eventlog.bin" |
    jq -r '[.[] | select(.pcr == 4 and .type == "EV_EFI_BOOT_SERVICES_APPLICATION")][-1].digests.sha256')
expect 0 ctl policy predict --reference "$OVMF/eventlog.bin" --name web --version 10 \
    --baseline image-2026.11.2 --kernel-digest "$kdigest" --cmdline "$(cat "$OVMF/cmdline")" \
    --out "$WORK/pred.json"
jq -S .baselines[0].pcrs "$WORK/pred.json" >"$WORK/a"
jq -S '.baselines[0].pcrs | del(."10")' "$WORK/p.json" >"$WORK/b"
cmp -s "$WORK/a" "$WORK/b" || fail "predict with the captured components changes PCRs"
# A new command line changes PCR 9 only; a new kernel PCR 4 only.
expect 0 ctl policy predict --reference "$OVMF/eventlog.bin" --name web --version 10 \
    --baseline image-2026.11.2 --cmdline "console=ttyS0 quiet" --out "$WORK/pred-cmd.json"
expect 1 ctl policy diff "$WORK/pred.json" "$WORK/pred-cmd.json"
[ "$(grep -c 'PCR' "$WORK/out")" = 1 ] && has "PCR 9" || fail "cmdline predict: $(cat "$WORK/out")"
expect 0 ctl policy predict --reference "$OVMF/eventlog.bin" --name web --version 10 \
    --baseline image-2026.11.2 --kernel-digest "$(printf k2 | sha256sum | cut -d' ' -f1)" \
    --out "$WORK/pred-k.json"
expect 1 ctl policy diff "$WORK/pred.json" "$WORK/pred-k.json"
[ "$(grep -c 'PCR' "$WORK/out")" = 1 ] && has "PCR 4" || fail "kernel predict: $(cat "$WORK/out")"
# PCR 9 with another initrd, checked against an independent replay in Python.
printf 'initrd bytes' >"$WORK/initrd.img"
expect 0 ctl policy predict --reference "$OVMF/eventlog.bin" --name web --version 10 \
    --baseline x --initrd "$WORK/initrd.img" --out "$WORK/pred-i.json"
want9=$(ctl eventlog show --json "$OVMF/eventlog.bin" | python3 -c '
import hashlib, json, sys
new = hashlib.sha256(open(sys.argv[1], "rb").read()).digest()
pcr = bytes(32)
for e in json.load(sys.stdin):
    if e["pcr"] != 9 or e["type"] == "EV_NO_ACTION":
        continue
    d = new if e["description"] == "Linux initrd" else bytes.fromhex(e["digests"]["sha256"])
    pcr = hashlib.sha256(pcr + d).digest()
print(pcr.hex())' "$WORK/initrd.img")
[ "$(jq -r '.baselines[0].pcrs."9"' "$WORK/pred-i.json")" = "$want9" ] || fail "predicted PCR 9"
# The SeaBIOS boot has no EFI stub events to substitute.
expect 1 ctl policy predict --reference "$SEABIOS/eventlog.bin" --name web --version 1 \
    --initrd "$WORK/initrd.img"
has "no PCR 9 EV_EVENT_TAG \"Linux initrd\" event"
expect 2 ctl policy predict --reference "$OVMF/eventlog.bin" --name web --version 1 \
    --kernel-digest abc

# --- Authenticode of a real kernel: the digest OVMF measured, and osslsigncode's --
for k in /boot/vmlinuz-*; do
    [ -f "$k" ] || continue
    d=$(ctl policy image-digest "$k" | cut -d' ' -f1)
    if command -v osslsigncode >/dev/null; then
        # (verify fails on the certificate chain; the digest line comes first)
        o=$({ osslsigncode verify -in "$k" 2>/dev/null || true; } | sed -n 's/^Calculated message digest *: *//p' |
            head -1 | tr 'A-F' 'a-f' | tr -d ' ')
        [ -z "$o" ] || [ "$o" = "$d" ] || fail "Authenticode of $k: $d, osslsigncode $o"
    fi
    # Debian's kernel booted in the OVMF capture: then PCR 4's last application is it.
    if [ "$(basename "$k")" = "vmlinuz-$(cat "$OVMF/uname-r" 2>/dev/null)" ]; then
        [ "$d" = "$kdigest" ] || fail "Authenticode of $k $d, OVMF measured $kdigest"
        expect 0 ctl policy predict --reference "$OVMF/eventlog.bin" --name web --version 10 \
            --baseline image-2026.11.2 --kernel "$k" --cmdline "$(cat "$OVMF/cmdline")" \
            --out "$WORK/pred-real.json"
        cmp -s <(jq -S .baselines[0].pcrs "$WORK/pred-real.json") "$WORK/a" ||
            fail "predict --kernel $k"
    fi
done
expect 1 ctl policy image-digest /etc/hostname

# --- predict --uki: a UKI made like ukify/objcopy from systemd-stub and the kernel
# the OVMF capture booted; the PCR 11 section digests, PCR 9 events and the
# embedded kernel's PCR 4 digest are recomputed here independently.
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
KERNEL=/boot/vmlinuz-$(cat "$OVMF/uname-r" 2>/dev/null || echo none)
if [ -f "$STUB" ] && [ -f "$KERNEL" ] && command -v objcopy >/dev/null; then
    printf 'ID=bootgate-test\n' >"$WORK/osrel"
    printf 'console=ttyS0 root=/dev/vda2 ro' >"$WORK/cmdline"
    head -c 4099 /dev/urandom >"$WORK/uki-initrd"
    objcopy --add-section .osrel="$WORK/osrel" --change-section-vma .osrel=0x20000 \
        --add-section .cmdline="$WORK/cmdline" --change-section-vma .cmdline=0x30000 \
        --add-section .linux="$KERNEL" --change-section-vma .linux=0x2000000 \
        --add-section .initrd="$WORK/uki-initrd" --change-section-vma .initrd=0x3000000 \
        "$STUB" "$WORK/uki.efi"
    expect 0 ctl policy predict --reference "$OVMF/eventlog.bin" --name web --version 11 \
        --uki "$WORK/uki.efi" --out "$WORK/pred-uki.json"
    ctl eventlog show --json "$OVMF/eventlog.bin" >"$WORK/ref-events.json"
    python3 - "$WORK/uki.efi" "$WORK/ref-events.json" "$WORK/pred-uki.json" "$WORK/uki-initrd" \
        "$WORK/cmdline" "$kdigest" <<'PYEOF'
import hashlib, json, struct, sys
img = open(sys.argv[1], "rb").read()
ref = json.load(open(sys.argv[2]))
pred = json.load(open(sys.argv[3]))["baselines"][0]
lf = struct.unpack_from("<I", img, 0x3c)[0]
n, osz = struct.unpack_from("<H", img, lf + 6)[0], struct.unpack_from("<H", img, lf + 20)[0]
sec = {}
for i in range(n):
    s = lf + 24 + osz + 40 * i
    name = img[s:s + 8].rstrip(b"\0").decode()
    vs, va, rs, ro = struct.unpack_from("<IIII", img, s + 8)
    sec[name] = img[ro:ro + min(vs, rs)] + bytes(max(0, vs - rs))
pcr, prev = bytes(32), None
for e in ref:
    if e["pcr"] != 11:
        continue
    d = bytes.fromhex(e["digests"]["sha256"])
    if e["description"] == prev:  # content event: the new section's digest
        d = hashlib.sha256(sec[prev]).digest()
        prev = None
    else:
        prev = e["description"]
    pcr = hashlib.sha256(pcr + d).digest()
assert pred["pcrs"]["11"] == pcr.hex(), ("PCR 11", pred["pcrs"]["11"], pcr.hex())
ev = pred["events"]
tag = {e["desc"]: e["digest"] for e in ev if e["pcr"] == 9}
assert tag["Linux initrd"] == hashlib.sha256(open(sys.argv[4], "rb").read()).hexdigest()
cmd = open(sys.argv[5]).read()
assert tag["LOADED_IMAGE::LoadOptions"] == hashlib.sha256((cmd + "\0").encode("utf-16-le")).hexdigest()
apps = [e for e in ev if e["pcr"] == 4 and e["type"] == "EV_EFI_BOOT_SERVICES_APPLICATION"]
assert apps[-1]["digest"] == sys.argv[6], "embedded kernel digest"
assert apps[-2]["digest"] != sys.argv[6]
PYEOF
    [ "$(jq -r '[.baselines[0].events[] | select(.pcr == 4 and .type ==
        "EV_EFI_BOOT_SERVICES_APPLICATION")][-2].digest' "$WORK/pred-uki.json")" = \
        "$(ctl policy image-digest "$WORK/uki.efi" | cut -d' ' -f1)" ] || fail "UKI digest in PCR 4"
    # A reference without UKI measurements cannot take a UKI.
    expect 1 ctl policy predict --reference "$SEABIOS/eventlog.bin" --name web --version 1 \
        --uki "$WORK/uki.efi"
    has "no UKI section measurements in PCR 11"
else
    echo "note: no systemd-stub, $KERNEL or objcopy: predict --uki not exercised"
fi

# --- parse errors name the JSON path ---------------------------------------------------
jq '.baselines[0].pcrs."4" = "abc"' "$WORK/p.json" >"$WORK/bad.json"
expect 1 ctl policy show "$WORK/bad.json"
has "baselines[0].pcrs.4: not 64 hex digits"
jq '.baselines[0].events[3].colour = "red"' "$WORK/p.json" >"$WORK/bad.json"
expect 1 ctl policy verify --signers "$WORK/signers" "$WORK/bad.json" "$WORK/p.json.sig"
has "baselines[0].events[3].colour: unknown key"

# --help everywhere, exit 0
for c in capture predict sign verify show diff explain image-digest publish activate list what-if; do
    ctl policy "$c" --help >/dev/null || fail "policy $c --help"
done
finish
