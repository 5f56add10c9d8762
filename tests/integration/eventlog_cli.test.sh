#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgatectl eventlog show/replay end to end: synthetic UEFI and IMA logs are written
# by tests/fuzz/gen_seeds.py's builders, the expected PCR values are computed here in
# Python (hashlib, independent of the C code), and exit codes are checked for usage
# errors, malformed input (message names the offset) and missing files.
set -euo pipefail
: "${BOOTGATECTL:?}" "${BOOTGATE_SRCDIR:?}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0 passes=0
check() { # name, command...
    local name=$1; shift
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $name"; fails=$((fails + 1)); fi
}
expect_rc() { # want, command... (stdout/stderr to $work/out, $work/err)
    local want=$1 rc=0; shift
    "$@" >"$work/out" 2>"$work/err" || rc=$?
    [ "$rc" -eq "$want" ] || { echo "  exit $rc, want $want: $*"; cat "$work/err"; return 1; }
}

# Logs and expected values.
python3 - "$BOOTGATE_SRCDIR/tests/fuzz" "$work" <<'PY'
import hashlib, json, struct, sys
sys.path.insert(0, sys.argv[1])
import gen_seeds as g
out = sys.argv[2]
a2 = [g.SHA1, g.SHA256]
events = [(0, g.EV_NO_ACTION, b"StartupLocality\0\3"), (0, g.EV_S_CRTM_VERSION, g.utf16("v1")),
          (7, g.EV_EFI_VARIABLE_DRIVER_CONFIG, g.variable("SecureBoot", b"\1")),
          (9, g.EV_EVENT_TAG, struct.pack("<II", 0x8F3B22EC, 13) + b"Linux initrd\0"),
          (4, g.EV_SEPARATOR, b"\0\0\0\0")]
log = g.specid(a2) + b"".join(g.agile(a2, p, t, d) for p, t, d in events)
open(f"{out}/agile.bin", "wb").write(log)
open(f"{out}/truncated.bin", "wb").write(log[:-3])
want = {}
for alg, name, size in ((g.SHA1, "sha1", 20), (g.SHA256, "sha256", 32)):
    pcrs = {0: bytes(size - 1) + b"\3"}
    for p, t, d in events:
        if t == g.EV_NO_ACTION:
            continue
        pcrs[p] = hashlib.new(name, pcrs.get(p, bytes(size)) + hashlib.new(name, d).digest()).digest()
    want[name] = {str(k): v.hex() for k, v in sorted(pcrs.items())}
json.dump(want, open(f"{out}/want.json", "w"))

entries = [("ima", (hashlib.sha1(b"k").digest(), b"boot_aggregate"), False),
           ("ima-ng", g.fields(g.dng("sha256", b"bash"), b"/usr/bin/bash\0"), False),
           ("ima-ng", g.fields(b"sha256:\0" + bytes(32), b"/tmp/x\0"), True)]
raw = [g.ima_entry(t, d, v) for t, d, v in entries]
ima = b"".join(raw)
open(f"{out}/ima.bin", "wb").write(ima)
bad = bytearray(ima); bad[len(raw[0]) + len(raw[1]) - 3] ^= 1  # entry 1's file name
open(f"{out}/ima-bad.bin", "wb").write(bad)
for name, size in (("sha1", 20), ("sha256", 32)):
    pcr = bytes(size)
    for t, d, v in entries:
        if v:
            h = b"\xff" * size
        elif t == "ima":
            h = hashlib.new(name, d[0] + d[1].ljust(256, b"\0")).digest()
        else:
            h = hashlib.new(name, d).digest()
        pcr = hashlib.new(name, pcr + h).digest()
    want[name]["10"] = pcr.hex()
json.dump(want, open(f"{out}/want-ima.json", "w"))
PY

same_json() { python3 -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); sys.exit(a!=b)' "$1" "$2"; }

# Help and usage.
check "--help" expect_rc 0 "$BOOTGATECTL" eventlog --help
check "--help text" grep -q "bootgatectl eventlog replay" "$work/out"
check "show --help" expect_rc 0 "$BOOTGATECTL" eventlog show --help
check "replay -h" expect_rc 0 "$BOOTGATECTL" eventlog replay -h
check "no verb" expect_rc 2 "$BOOTGATECTL" eventlog
check "unknown verb" expect_rc 2 "$BOOTGATECTL" eventlog frobnicate x
check "no file" expect_rc 2 "$BOOTGATECTL" eventlog replay
check "two files" expect_rc 2 "$BOOTGATECTL" eventlog show "$work/agile.bin" "$work/agile.bin"
check "unknown option" expect_rc 2 "$BOOTGATECTL" eventlog replay --frob "$work/agile.bin"
check "unknown bank" expect_rc 2 "$BOOTGATECTL" eventlog replay --bank md5 "$work/agile.bin"
check "--bank on show" expect_rc 2 "$BOOTGATECTL" eventlog show --bank sha1 "$work/agile.bin"

# Replay.
check "replay --json" expect_rc 0 "$BOOTGATECTL" eventlog replay --json "$work/agile.bin"
check "replay values" same_json "$work/out" "$work/want.json"
check "replay text" expect_rc 0 "$BOOTGATECTL" eventlog replay "$work/agile.bin"
check "replay text values" python3 -c '
import json, sys
want = json.load(open(sys.argv[1]))
lines = [l for l in open(sys.argv[2]).read().splitlines() if l]
got = {}
for l in lines:
    k, v = l.split(" = ")
    b, p = k.split(":")
    got.setdefault(b, {})[p] = v
sys.exit(got != want)' "$work/want.json" "$work/out"
check "replay --bank sha256" expect_rc 0 "$BOOTGATECTL" eventlog replay --bank sha256 --json "$work/agile.bin"
check "one bank only" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); w=json.load(open(sys.argv[2])); sys.exit(d!={"sha256": w["sha256"]})' "$work/out" "$work/want.json"
check "absent bank" expect_rc 1 "$BOOTGATECTL" eventlog replay --bank sha384 "$work/agile.bin"
check "--ima" expect_rc 0 "$BOOTGATECTL" eventlog replay --ima "$work/ima.bin" --json "$work/agile.bin"
check "--ima values" same_json "$work/out" "$work/want-ima.json"
check "bad IMA log" expect_rc 1 "$BOOTGATECTL" eventlog replay --ima "$work/ima-bad.bin" "$work/agile.bin"
check "bad IMA message" grep -q "offset [0-9]*: entry 1" "$work/err"

# Show.
check "show --json" expect_rc 0 "$BOOTGATECTL" eventlog show --json "$work/agile.bin"
check "show fields" python3 -c '
import hashlib, json, sys
ev = json.load(open(sys.argv[1]))
assert [e["index"] for e in ev] == list(range(6)), ev
assert ev[3]["type"] == "EV_EFI_VARIABLE_DRIVER_CONFIG" and ev[3]["pcr"] == 7
assert ev[3]["description"] == "8be4df61-93ca-11d2-aa0d-00e098032b8c SecureBoot", ev[3]
assert ev[4]["description"] == "Linux initrd"
assert ev[5]["digests"]["sha256"] == hashlib.sha256(b"\0\0\0\0").hexdigest()
assert set(ev[5]["digests"]) == {"sha1", "sha256"}
' "$work/out"
check "show text" expect_rc 0 "$BOOTGATECTL" eventlog show "$work/agile.bin"
check "show text content" grep -q "EV_EVENT_TAG" "$work/out"

# Malformed and missing input.
check "truncated log" expect_rc 1 "$BOOTGATECTL" eventlog replay "$work/truncated.bin"
check "truncated names offset" grep -q "offset [0-9]" "$work/err"
check "truncated show" expect_rc 1 "$BOOTGATECTL" eventlog show --json "$work/truncated.bin"
: >"$work/empty.bin"
check "empty log" expect_rc 1 "$BOOTGATECTL" eventlog replay "$work/empty.bin"
truncate -s $((8 * 1024 * 1024 + 1)) "$work/huge.bin"
check "log over the size cap" expect_rc 1 "$BOOTGATECTL" eventlog replay "$work/huge.bin"
check "size cap message" grep -q "limit" "$work/err"
check "missing file" expect_rc 3 "$BOOTGATECTL" eventlog replay "$work/nonexistent.bin"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
