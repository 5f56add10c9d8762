# SPDX-License-Identifier: LGPL-2.1-or-later
# Writes a crypto-agile (sha256-only) UEFI event log (TCG PC Client PFP 10.4.5
# Spec ID Event03 header + TCG_PCR_EVENT2 records) and prints, one per line,
# "PCR DIGEST_HEX" for each event so that the test extends swtpm identically.
#   client_mkeventlog.py OUT PCR:TYPE:DATA ...
import hashlib, struct, sys

out, specs = sys.argv[1], sys.argv[2:]
spec = (b"Spec ID Event03\0" + struct.pack("<IBBBB", 0, 0, 2, 0, 2) + struct.pack("<I", 1) +
        struct.pack("<HH", 0x000B, 32) + b"\0")
log = struct.pack("<II", 0, 3) + b"\0" * 20 + struct.pack("<I", len(spec)) + spec
for s in specs:
    pcr, typ, data = s.split(":", 2)
    data = data.encode()
    d = hashlib.sha256(data).digest()
    log += struct.pack("<IIIH", int(pcr), int(typ, 0), 1, 0x000B) + d
    log += struct.pack("<I", len(data)) + data
    print(pcr, d.hex())
open(out, "wb").write(log)
