#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# bootgatectl eventlog show/replay end to end: synthetic UEFI and IMA logs are written
# by tests/lib/eventlog.py's builders (also behind tests/fuzz/gen_seeds.py), the
# expected PCR values are computed here in Python (hashlib, independent of the C
# code), and exit codes are checked for usage errors, malformed input (message
# names the offset) and missing files.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
: "${BOOTGATECTL:?}"
expect_rc() { # want, command... (stdout/stderr to $WORK/out, $WORK/err)
    local want=$1 rc=0; shift
    "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    [ "$rc" -eq "$want" ] || { echo "  exit $rc, want $want: $*"; cat "$WORK/err"; return 1; }
}

# Logs and expected values.
python3 - "$TESTLIB" "$WORK" <<'PY'
import hashlib, json, struct, sys
sys.path.insert(0, sys.argv[1])
import eventlog as g
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
check_ok "--help" expect_rc 0 "$BOOTGATECTL" eventlog --help
check_ok "--help text" grep -q "bootgatectl eventlog replay" "$WORK/out"
check_ok "show --help" expect_rc 0 "$BOOTGATECTL" eventlog show --help
check_ok "replay -h" expect_rc 0 "$BOOTGATECTL" eventlog replay -h
check_ok "no verb" expect_rc 2 "$BOOTGATECTL" eventlog
check_ok "unknown verb" expect_rc 2 "$BOOTGATECTL" eventlog frobnicate x
check_ok "no file" expect_rc 2 "$BOOTGATECTL" eventlog replay
check_ok "two files" expect_rc 2 "$BOOTGATECTL" eventlog show "$WORK/agile.bin" "$WORK/agile.bin"
check_ok "unknown option" expect_rc 2 "$BOOTGATECTL" eventlog replay --frob "$WORK/agile.bin"
check_ok "unknown bank" expect_rc 2 "$BOOTGATECTL" eventlog replay --bank md5 "$WORK/agile.bin"
check_ok "--bank on show" expect_rc 2 "$BOOTGATECTL" eventlog show --bank sha1 "$WORK/agile.bin"

# Replay.
check_ok "replay --json" expect_rc 0 "$BOOTGATECTL" eventlog replay --json "$WORK/agile.bin"
check_ok "replay values" same_json "$WORK/out" "$WORK/want.json"
check_ok "replay text" expect_rc 0 "$BOOTGATECTL" eventlog replay "$WORK/agile.bin"
check_ok "replay text values" python3 -c '
import json, sys
want = json.load(open(sys.argv[1]))
lines = [l for l in open(sys.argv[2]).read().splitlines() if l]
got = {}
for l in lines:
    k, v = l.split(" = ")
    b, p = k.split(":")
    got.setdefault(b, {})[p] = v
sys.exit(got != want)' "$WORK/want.json" "$WORK/out"
check_ok "replay --bank sha256" expect_rc 0 "$BOOTGATECTL" eventlog replay --bank sha256 --json "$WORK/agile.bin"
check_ok "one bank only" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); w=json.load(open(sys.argv[2])); sys.exit(d!={"sha256": w["sha256"]})' "$WORK/out" "$WORK/want.json"
check_ok "absent bank" expect_rc 1 "$BOOTGATECTL" eventlog replay --bank sha384 "$WORK/agile.bin"
check_ok "--ima" expect_rc 0 "$BOOTGATECTL" eventlog replay --ima "$WORK/ima.bin" --json "$WORK/agile.bin"
check_ok "--ima values" same_json "$WORK/out" "$WORK/want-ima.json"
check_ok "options after FILE" expect_rc 0 "$BOOTGATECTL" eventlog replay "$WORK/agile.bin" --json --ima "$WORK/ima.bin"
check_ok "options after FILE values" same_json "$WORK/out" "$WORK/want-ima.json"
check_ok "bad IMA log" expect_rc 1 "$BOOTGATECTL" eventlog replay --ima "$WORK/ima-bad.bin" "$WORK/agile.bin"
check_ok "bad IMA message" grep -q "offset [0-9]*: entry 1" "$WORK/err"

# Show.
check_ok "show --json" expect_rc 0 "$BOOTGATECTL" eventlog show --json "$WORK/agile.bin"
check_ok "show fields" python3 -c '
import hashlib, json, sys
ev = json.load(open(sys.argv[1]))
assert [e["index"] for e in ev] == list(range(6)), ev
assert ev[3]["type"] == "EV_EFI_VARIABLE_DRIVER_CONFIG" and ev[3]["pcr"] == 7
assert ev[3]["description"] == "8be4df61-93ca-11d2-aa0d-00e098032b8c SecureBoot: enabled", ev[3]
assert ev[4]["description"] == "Linux initrd"
assert ev[5]["digests"]["sha256"] == hashlib.sha256(b"\0\0\0\0").hexdigest()
assert set(ev[5]["digests"]) == {"sha1", "sha256"}
' "$WORK/out"
check_ok "show text" expect_rc 0 "$BOOTGATECTL" eventlog show "$WORK/agile.bin"
check_ok "show text content" grep -q "EV_EVENT_TAG" "$WORK/out"

# Malformed and missing input.
check_ok "truncated log" expect_rc 1 "$BOOTGATECTL" eventlog replay "$WORK/truncated.bin"
check_ok "truncated names offset" grep -q "offset [0-9]" "$WORK/err"
check_ok "truncated show" expect_rc 1 "$BOOTGATECTL" eventlog show --json "$WORK/truncated.bin"
: >"$WORK/empty.bin"
check_ok "empty log" expect_rc 1 "$BOOTGATECTL" eventlog replay "$WORK/empty.bin"
truncate -s $((8 * 1024 * 1024 + 1)) "$WORK/huge.bin"
check_ok "log over the size cap" expect_rc 1 "$BOOTGATECTL" eventlog replay "$WORK/huge.bin"
check_ok "size cap message" grep -q "limit" "$WORK/err"
check_ok "missing file" expect_rc 3 "$BOOTGATECTL" eventlog replay "$WORK/nonexistent.bin"

finish
