#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# policy predict on the shim -> GRUB -> kernel chain, offline, on the project's own
# Secure Boot capture (tests/data/captures/ovmf-sb-grub, with its grub.cfg):
#  - the capture itself proves the measurement model: every GRUB string in PCR 8
#    has digest SHA-256(string without its "grub_cmd: "/"kernel_cmdline: " prefix),
#    grub.cfg's PCR 9 digest is the file's SHA-256;
#  - predicting the same components gives exactly the PCRs the TPM reported;
#  - a changed grub.cfg (command line), initrd and kernel give the PCRs computed
#    here in Python from the log's events (hashlib, not the C code);
#  - what cannot be computed is refused, naming the PCR: GRUB script constructs,
#    commands that read more files, a new command line without the new grub.cfg,
#    one --initrd for two initrd files, GRUB options on a non-GRUB reference, a
#    new shim whose SbatLevel policy or vendor certificate (PCR 7) is unknown;
#  - --into adds the baseline to a policy and keeps the old one.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
: "${BOOTGATECTL:?}" "${BOOTGATE_TEST_DATA:?}"
C=$BOOTGATE_TEST_DATA/captures/ovmf-sb-grub
[[ -r $C/eventlog.bin && -r $C/grub.cfg ]] || skip "no $C"
B=$BOOTGATECTL
expect_rc() { # want, message regex, command...
    local want=$1 re=$2 rc=0
    shift 2
    "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [[ $rc -eq $want ]] || { echo "  exit $rc, want $want: $*"; cat "$WORK/err"; return 1; }
    [[ -z $re ]] || grep -Eq -- "$re" "$WORK/err" || { echo "  no '$re' in: $(cat "$WORK/err")"; return 1; }
}
predict() { "$B" policy predict --reference "$C/eventlog.bin" --name sb --version 1 "$@"; }
pcrs_of() { jq -c '.baselines[-1].pcrs' "$1"; }

"$B" eventlog show --json "$C/eventlog.bin" >"$WORK/events.json"
CMDLINE=$(sed -n 's/^linux [^ ]* //p' "$C/grub.cfg" | tr -d "'")

# --- the measurement model, on the real log -----------------------------------
check_ok "GRUB strings in PCR 8: digest = SHA-256 of the string without prefix" \
    python3 - "$WORK/events.json" <<'PY'
import hashlib, json, sys
ev = json.load(open(sys.argv[1]))
n = 0
for e in ev:
    if e["pcr"] != 8 or e["type"] != "EV_IPL":
        continue
    d = e["description"]
    for p in ("grub_cmd: ", "kernel_cmdline: "):
        if d.startswith(p):
            assert hashlib.sha256(d[len(p):].encode()).hexdigest() == e["digests"]["sha256"], d
            n += 1
assert n >= 8, n
PY
cfg_sha=$(sha256sum "$C/grub.cfg" | cut -c1-64)
check "grub.cfg's PCR 9 digest is the file's SHA-256" "$cfg_sha" \
    "$(jq -r '.[] | select(.pcr == 9 and (.description | endswith("/grub.cfg"))) | .digests.sha256' "$WORK/events.json")"

# --- identity: the same components give the reported PCRs -----------------------
want=$(jq -c 'with_entries(select(.key | IN("0","1","2","3","4","5","6","7","8","9","11")))' "$C/pcrs-sha256.json")
predict --grub-cfg "$C/grub.cfg" --cmdline "$CMDLINE" --out "$WORK/same.json" 2>"$WORK/err" ||
    die "predict (same grub.cfg): $(cat "$WORK/err")"
check "same grub.cfg and command line: PCRs 0-9, 11 as reported" "$want" "$(pcrs_of "$WORK/same.json")"
predict --out "$WORK/none.json" 2>/dev/null || die "predict without changes"
check "no change: PCRs as reported" "$want" "$(pcrs_of "$WORK/none.json")"

# --- changes, expected values computed in Python -------------------------------
# expected EVENTS_JSON [pcr:match:newdigest ...] -> {"4": hex, "8": hex, "9": hex}
# (each event whose description contains `match` in that PCR gets newdigest,
# "sha256-of:STRING" hashes STRING; the GRUB strings keep their position)
expected() {
    python3 - "$@" <<'PY'
import hashlib, json, sys
ev = json.load(open(sys.argv[1]))
subs = []
for a in sys.argv[2:]:
    pcr, match, new = a.split("\x1f")
    if new.startswith("sha256-of:"):
        new = hashlib.sha256(new[len("sha256-of:"):].encode()).hexdigest()
    subs.append((int(pcr), match, new))
out = {}
for pcr in (4, 8, 9):
    v = bytes(32)
    for e in ev:
        if e["pcr"] != pcr or e["type"] == "EV_NO_ACTION":
            continue
        d = e["digests"]["sha256"]
        for p, m, new in subs:
            if p == pcr and m in e["description"]:
                d = new
        v = hashlib.sha256(v + bytes.fromhex(d)).digest()
    out[str(pcr)] = v.hex()
print(json.dumps(out, sort_keys=True, separators=(",", ":")))
PY
}
US=$'\x1f'
new_cmdline="$CMDLINE rd.bootgate.timeout=30 quiet"
sed "s|^linux \\([^ ]*\\) .*|linux \\1 $(sed -n 's/^linux [^ ]* //p' "$C/grub.cfg" | sed 's/[&|]/\\&/g') rd.bootgate.timeout=30 quiet|" \
    "$C/grub.cfg" >"$WORK/grub-v2.cfg"
grep -q 'quiet$' "$WORK/grub-v2.cfg" || die "could not make grub-v2.cfg"
head -c 100000 /dev/urandom >"$WORK/initrd-v2.img"
kpath=/EFI/debian/vmlinuz
ipath=/EFI/debian/initrd.img
exp=$(expected "$WORK/events.json" \
    "8${US}grub_cmd: linux ${US}sha256-of:linux $kpath $new_cmdline" \
    "8${US}kernel_cmdline: ${US}sha256-of:$kpath $new_cmdline" \
    "9${US}/grub.cfg${US}$(sha256sum "$WORK/grub-v2.cfg" | cut -c1-64)" \
    "9${US}$ipath${US}$(sha256sum "$WORK/initrd-v2.img" | cut -c1-64)")
predict --grub-cfg "$WORK/grub-v2.cfg" --cmdline "$new_cmdline" --initrd "$WORK/initrd-v2.img" \
    --out "$WORK/v2.json" 2>"$WORK/err" || die "predict v2: $(cat "$WORK/err")"
check "new grub.cfg + command line + initrd: PCRs 4, 8, 9 as computed" "$exp" \
    "$(jq -c '.baselines[0].pcrs | {"4": .["4"], "8": .["8"], "9": .["9"]}' "$WORK/v2.json" | jq -c -S .)"
check "new grub.cfg + command line + initrd: PCRs 0-3, 5-7 unchanged" \
    "$(jq -c 'del(.["4"], .["8"], .["9"])' <<<"$want")" \
    "$(jq -c '.baselines[0].pcrs | del(.["4"], .["8"], .["9"])' "$WORK/v2.json")"

# A new kernel (any PE image will do for the digests: shim's, from shim-signed).
K=/usr/lib/shim/shimx64.efi.signed
if [[ -r $K ]]; then
    kpe=$("$B" policy image-digest "$K" | cut -c1-64)
    exp=$(expected "$WORK/events.json" \
        "4${US}image at 0x${US}$kpe" \
        "9${US}$kpath${US}$(sha256sum "$K" | cut -c1-64)")
    predict --kernel "$K" --out "$WORK/k.json" 2>"$WORK/err" || die "predict --kernel: $(cat "$WORK/err")"
    check "new kernel: PCR 4 (both of shim's verifications) and PCR 9 (the file) as computed" \
        "$exp" "$(jq -c '.baselines[0].pcrs | {"4": .["4"], "8": .["8"], "9": .["9"]}' "$WORK/k.json" | jq -c -S .)"
    # A boot loader update: the installed shim and GRUB; when they are the
    # capture's, nothing changes.
    if [[ $kpe == "$(jq -r '.[] | select(.pcr == 4 and (.description | endswith("BOOTX64.EFI)"))) | .digests.sha256' "$WORK/events.json")" ]]; then
        predict --shim "$K" --grub /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed \
            --out "$WORK/loaders.json" 2>"$WORK/err" || die "predict --shim --grub: $(cat "$WORK/err")"
        check "--shim/--grub with the captured loaders: PCRs as reported" "$want" \
            "$(pcrs_of "$WORK/loaders.json")"
    else
        log "installed shim differs from the capture's: --shim identity check not run"
    fi
    exp=$(expected "$WORK/events.json" "4${US}grubx64.efi${US}$kpe")
    predict --grub "$K" --out "$WORK/g.json" 2>/dev/null || die "predict --grub"
    check "--grub: PCR 4's GRUB event gets the new Authenticode digest" "$exp" \
        "$(jq -c '.baselines[0].pcrs | {"4": .["4"], "8": .["8"], "9": .["9"]}' "$WORK/g.json" | jq -c -S .)"
fi

# --- dbx update (PCR 7): an ESL and the same as an authenticated update ----------
# Built here: one new SHA-256 entry and one the reference's dbx already has (the
# firmware drops it); expected PCR 7 from the appended UEFI_VARIABLE_DATA.
exp7=$(python3 - "$TESTLIB" "$C/eventlog.bin" "$WORK" <<'PY'
import hashlib, struct, sys
sys.path.insert(0, sys.argv[1])
import eventlog as g
evs = g.parse_agile(open(sys.argv[2], "rb").read())
X509 = bytes.fromhex("a159c0a5e494a74a87b5ab155c2bf072")
SHA = bytes.fromhex("2616c4c14c509240aca941f936934328")
def var(data):
    nlen, vlen = struct.unpack_from("<QQ", data, 16)
    return data[32:32 + 2 * nlen].decode("utf-16-le"), data[32 + 2 * nlen:32 + 2 * nlen + vlen]
i = next(k for k, e in enumerate(evs) if e[0] == 7 and e[1] == g.EV_EFI_VARIABLE_DRIVER_CONFIG and var(e[3])[0] == "dbx")
old = var(evs[i][3])[1]
assert old[:16] == SHA and struct.unpack_from("<I", old, 24)[0] == 48, "the capture's dbx is one SHA-256 list"
existing = old[28:28 + 48]
new = b"\x11" * 16 + hashlib.sha256(b"bootgate dbx test").digest()
body = existing + new
esl = SHA + struct.pack("<III", 28 + len(body), 0, 48) + body
open(sys.argv[3] + "/dbx.esl", "wb").write(esl)
# EFI_VARIABLE_AUTHENTICATION_2: EFI_TIME, WIN_CERTIFICATE_UEFI_GUID (PKCS7, fake bytes)
pk7 = bytes.fromhex("9dd2af4adf68ee498aa9347d375665a7")
cert = b"\x30\x82" + b"\x00" * 30
auth = b"\x00" * 16 + struct.pack("<IHH", 24 + len(cert), 0x0200, 0x0EF1) + pk7 + cert
open(sys.argv[3] + "/dbx.auth", "wb").write(auth + esl)
appended = old + SHA + struct.pack("<III", 28 + 48, 0, 48) + new
d = evs[i][3]
data = d[:16] + struct.pack("<QQ", struct.unpack_from("<Q", d, 16)[0], len(appended)) + d[32:32 + 2 * 3] + appended
v = bytes(32)
for k, e in enumerate(evs):
    if e[0] == 7 and e[1] != g.EV_NO_ACTION:
        v = hashlib.sha256(v + (hashlib.sha256(data).digest() if k == i else e[2][g.SHA256])).digest()
print(v.hex())
PY
) || die "building the dbx update"
for f in dbx.esl dbx.auth; do
    predict --dbx-update "$WORK/$f" --out "$WORK/dbx.json" 2>"$WORK/err" || die "predict --dbx-update $f: $(cat "$WORK/err")"
    check "--dbx-update $f: PCR 7 = old dbx + the new entry (duplicate dropped)" "$exp7" \
        "$(jq -r '.baselines[0].pcrs["7"]' "$WORK/dbx.json")"
    check "--dbx-update $f: other PCRs unchanged" "$(jq -c 'del(.["7"])' <<<"$want")" \
        "$(jq -c '.baselines[0].pcrs | del(.["7"])' "$WORK/dbx.json")"
done
check "--dbx-update: the event names the new count" "1" \
    "$(jq '[.baselines[0].events[] | select(.desc | test("dbx: 2 entries \\(2 SHA-256\\)"))] | length' "$WORK/dbx.json")"
head -c 40 /dev/urandom >"$WORK/bad.esl"
check_ok "--db-update with a malformed list: refused naming PCR 7" \
    expect_rc 1 "PCR 7: .*malformed EFI_SIGNATURE_LIST" predict --db-update "$WORK/bad.esl" --out "$WORK/x.json"

# --- refusals --------------------------------------------------------------------
printf 'if [ -e /x ]; then\nset a=b\nfi\nlinux /EFI/debian/vmlinuz quiet\nboot\n' >"$WORK/if.cfg"
check_ok "grub.cfg with a condition: refused naming PCR 8" \
    expect_rc 1 '^bootgatectl: PCR 8: .*line 1' predict --grub-cfg "$WORK/if.cfg" --out "$WORK/x.json"
printf 'set root=$x\nlinux /EFI/debian/vmlinuz quiet\nboot\n' >"$WORK/var.cfg"
check_ok "grub.cfg with a variable: refused naming PCR 8" \
    expect_rc 1 "PCR 8: .*'\\\$'" predict --grub-cfg "$WORK/var.cfg" --out "$WORK/x.json"
printf 'source /EFI/debian/extra.cfg\nlinux /EFI/debian/vmlinuz quiet\nboot\n' >"$WORK/src.cfg"
check_ok "grub.cfg sourcing another file: refused naming PCR 8" \
    expect_rc 1 "PCR 8: .*command 'source" predict --grub-cfg "$WORK/src.cfg" --out "$WORK/x.json"
printf 'linux /EFI/debian/vmlinuz quiet\ninitrd /EFI/debian/a.img /EFI/debian/b.img\nboot\n' >"$WORK/two.cfg"
check_ok "one --initrd for two initrd files: refused naming PCR 9" \
    expect_rc 1 "PCR 9: .*ambiguous" predict --grub-cfg "$WORK/two.cfg" --initrd "$WORK/initrd-v2.img" --out "$WORK/x.json"
check_ok "a new kernel path without --kernel: refused naming PCR 4" \
    expect_rc 1 "PCR 4: the kernel /EFI/debian/vmlinuz-new" \
    predict --grub-cfg <(sed 's|/EFI/debian/vmlinuz|/EFI/debian/vmlinuz-new|' "$C/grub.cfg") --out "$WORK/x.json"
check_ok "a new command line without the new grub.cfg: refused naming PCR 9" \
    expect_rc 1 "PCR 9: a new kernel command line changes grub.cfg" predict --cmdline "$new_cmdline" --out "$WORK/x.json"
check_ok "--cmdline not matching --grub-cfg: refused naming PCR 8" \
    expect_rc 1 "PCR 8: --cmdline differs" predict --cmdline "$new_cmdline" --grub-cfg "$C/grub.cfg" --out "$WORK/x.json"
check_ok "--kernel-digest on a GRUB reference: usage error" \
    expect_rc 2 "give --kernel FILE" predict --kernel-digest "$(printf '%064d' 0)" --out "$WORK/x.json"
U=$BOOTGATE_TEST_DATA/captures/ovmf-uki/eventlog.bin
check_ok "--grub-cfg on a UKI reference: usage error" \
    expect_rc 2 "need a reference log of a shim -> GRUB boot" \
    "$B" policy predict --reference "$U" --name sb --version 1 --grub-cfg "$C/grub.cfg" --out "$WORK/x.json"
if [[ -r /usr/lib/shim/mmx64.efi.signed ]]; then
    # MokManager: a signed PE without shim's SbatLevel policy.
    check_ok "--shim without a .sbatlevel section: refused naming PCR 7" \
        expect_rc 1 "PCR 7: .* no readable .sbatlevel" predict --shim /usr/lib/shim/mmx64.efi.signed --out "$WORK/x.json"
fi
[[ ! -e $WORK/x.json ]] || fail "a refused prediction wrote a policy"

# --- systemd-boot -> UKI (ovmf-sdboot-uki): a boot loader update ------------------
S=$BOOTGATE_TEST_DATA/captures/ovmf-sdboot-uki
SD=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
if [[ -r $S/eventlog.bin && -r $SD && -r $K ]]; then
    "$B" eventlog show --json "$S/eventlog.bin" >"$WORK/sd-events.json"
    sdpe=$("$B" policy image-digest "$SD" | cut -c1-64)
    if [[ $sdpe == "$(jq -r '[.[] | select(.pcr == 4 and .type == "EV_EFI_BOOT_SERVICES_APPLICATION")][0].digests.sha256' "$WORK/sd-events.json")" ]]; then
        "$B" policy predict --reference "$S/eventlog.bin" --name sd --version 1 --systemd-boot "$SD" \
            --out "$WORK/sd.json" 2>/dev/null || die "predict --systemd-boot"
        check "--systemd-boot with the captured loader: PCR 4 as reported" \
            "$(jq -r '.["4"]' "$S/pcrs-sha256.json")" "$(jq -r '.baselines[0].pcrs["4"]' "$WORK/sd.json")"
    fi
    exp=$(expected "$WORK/sd-events.json" "4${US}BOOTX64.EFI${US}$kpe")
    "$B" policy predict --reference "$S/eventlog.bin" --name sd --version 1 --systemd-boot "$K" \
        --out "$WORK/sd2.json" 2>/dev/null || die "predict --systemd-boot (another PE)"
    check "--systemd-boot: the loader's PCR 4 event gets the new Authenticode digest" \
        "$(jq -r '.["4"]' <<<"$exp")" "$(jq -r '.baselines[0].pcrs["4"]' "$WORK/sd2.json")"
    check_ok "--systemd-boot on a UKI-only reference: refused naming PCR 4" \
        expect_rc 1 "PCR 4: .* not a UKI from" "$B" policy predict --reference "$U" --name sd \
        --version 1 --systemd-boot "$SD" --out "$WORK/x.json"
fi

# --- --into: v1 + v2 ---------------------------------------------------------------
"$B" policy predict --reference "$C/eventlog.bin" --name sb --version 2 --baseline image-v2 \
    --grub-cfg "$WORK/grub-v2.cfg" --initrd "$WORK/initrd-v2.img" --into "$WORK/same.json" \
    --out "$WORK/into.json" 2>"$WORK/err" || die "predict --into: $(cat "$WORK/err")"
check "--into: version 2 with both baselines" '[2,["sb-v1","image-v2"]]' \
    "$(jq -c '[.version, (.baselines | map(.name))]' "$WORK/into.json")"
check "--into: the old baseline is unchanged" "$(jq -c '.baselines[0]' "$WORK/same.json")" \
    "$(jq -c '.baselines[0]' "$WORK/into.json")"
check_ok "--into with an existing version: usage error" \
    expect_rc 2 "must be greater" "$B" policy predict --reference "$C/eventlog.bin" --name sb \
    --version 2 --into "$WORK/into.json" --out "$WORK/x2.json"
finish
