#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Cross-checks `bootgatectl eventlog replay --json` against tpm2_eventlog (tpm2-tools),
# the peer implementation, on every real log in $BOOTGATE_SHARED/eventlogs: every bank,
# every PCR tpm2_eventlog prints must match, and neither side may print a PCR the other
# does not. A log tpm2_eventlog rejects must be rejected by us too.
# shellcheck source=../lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

dir=${BOOTGATE_SHARED:-}/eventlogs
[ -n "${BOOTGATE_SHARED:-}" ] && [ -d "$dir" ] || skip "no $dir"
command -v tpm2_eventlog >/dev/null || die "tpm2_eventlog (tpm2-tools) is required"
: "${BOOTGATECTL:?}"

# Logs where we knowingly differ from tpm2_eventlog, with the reason.
#   specid-vendordata.bin: its Spec ID event says eventDataSize 37 but then carries 4 bytes of
#   vendorInfo after those 37 bytes. tpm2_eventlog sizes the record from the vendorInfoSize
#   field; we take eventDataSize (TCG PC Client PFP 10.2.1) as the record length, so the
#   Spec ID structure overruns its event and we reject the log (exit 1, offset named).
declare -A must_reject_only_we=([specid-vendordata.bin]=1)

shopt -s nullglob
logs=("$dir"/*.bin)
[ ${#logs[@]} -gt 0 ] || die "no *.bin in $dir"
# Each log also cut short by 7 bytes: both sides must reject that copy.
for log in "${logs[@]}"; do
    head -c -7 "$log" >"$WORK/truncated-$(basename "$log")"
    logs+=("$WORK/truncated-$(basename "$log")")
done
for log in "${logs[@]}"; do
    name=$(basename "$log")
    peer_rc=0 our_rc=0
    tpm2_eventlog "$log" >"$WORK/peer.yaml" 2>"$WORK/peer.err" || peer_rc=$?
    "$BOOTGATECTL" eventlog replay --json "$log" >"$WORK/ours.json" 2>"$WORK/ours.err" || our_rc=$?

    if [ -n "${must_reject_only_we[$name]:-}" ]; then
        if [ "$our_rc" -eq 1 ] && grep -q "offset [0-9]" "$WORK/ours.err"; then
            pass "$name: rejected as documented: $(head -1 "$WORK/ours.err")"
        else
            fail "$name: expected rejection (exit 1, offset in message), got exit $our_rc"
        fi
        continue
    fi
    if [[ $name == truncated-* && $peer_rc -eq 0 ]]; then
        fail "$name: tpm2_eventlog accepts a truncated log; this test assumes it does not"
        continue
    fi
    if [ "$peer_rc" -ne 0 ]; then
        if [ "$our_rc" -eq 1 ] && grep -q "offset [0-9]" "$WORK/ours.err"; then
            pass "$name: rejected by both: $(head -1 "$WORK/ours.err" | sed 's/^.*: offset/offset/')"
        else
            fail "$name: tpm2_eventlog rejects it (exit $peer_rc), we exit $our_rc"
        fi
        continue
    fi
    if [ "$our_rc" -ne 0 ]; then
        fail "$name: we exit $our_rc: $(cat "$WORK/ours.err")"
        continue
    fi
    "$BOOTGATECTL" eventlog show --json "$log" >"$WORK/show.json"
    if msg=$(python3 - "$WORK/peer.yaml" "$WORK/ours.json" "$name" "$WORK/show.json" <<'PY'

import json, re, sys

peer_path, ours_path, name = sys.argv[1:4]
# The last "pcrs:" section of tpm2_eventlog's YAML:  "  sha256:" then "    0  : 0xHEX".
peer, bank, in_pcrs = {}, None, False
for line in open(peer_path, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    if line == "pcrs:":
        peer, bank, in_pcrs = {}, None, True
        continue
    if not in_pcrs:
        continue
    m = re.match(r"^  ([a-z0-9_]+):\s*$", line)
    if m:
        bank = m.group(1)
        peer[bank] = {}
        continue
    m = re.match(r"^    (\d+)\s*:\s*0x([0-9a-fA-F]+)\s*$", line)
    if m and bank:
        peer[bank][m.group(1)] = m.group(2).lower()
        continue
    if line and not line.startswith(" "):
        in_pcrs = False

ours = json.load(open(ours_path))
peer = {b: p for b, p in peer.items() if p}
ours = {b: p for b, p in ours.items() if p}
errors = []
for b in sorted(set(peer) | set(ours)):
    pb, ob = peer.get(b, {}), ours.get(b, {})
    for pcr in sorted(set(pb) | set(ob), key=int):
        if pb.get(pcr) != ob.get(pcr):
            errors.append(f"{b}:{pcr} peer={pb.get(pcr)} ours={ob.get(pcr)}")
n = sum(len(p) for p in peer.values())

# EFI variable events: tpm2_eventlog's VariableName + UnicodeName must begin our
# description of the same event ("<guid> <name>"). Events are counted by their
# PCRIndex line, which both of its YAML layouts (agile and legacy) have once.
show = json.load(open(sys.argv[4]))
index, guid, n_vars = -1, None, 0
for line in open(peer_path, encoding="utf-8", errors="replace"):
    s = line.strip()
    if s.startswith("PCRIndex:"):
        index, guid = index + 1, None
    elif s.startswith("VariableName:"):
        guid = s.split(":", 1)[1].strip()
    elif s.startswith("UnicodeName:") and guid is not None:
        want = f"{guid} {s.split(':', 1)[1].strip()}"
        got = show[index]["description"] if 0 <= index < len(show) else None
        if got is None or not (got == want or got.startswith(want + ":")):
            errors.append(f"event {index}: description {got!r}, peer says {want!r}")
        n_vars += 1
if errors:
    print(f"{name}: " + "; ".join(errors))
    sys.exit(1)
print(f"{name}: {n} PCR values in {len(peer)} bank(s) and {n_vars} EFI variable names match")
PY
    ); then
        pass "$msg"
    else
        fail "$msg"
    fi
done
finish
