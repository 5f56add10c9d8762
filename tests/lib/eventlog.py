# SPDX-License-Identifier: LGPL-2.1-or-later
"""The one builder of test event logs: TCG PC Client PFP firmware logs (legacy
SHA-1 records, the crypto-agile Spec ID Event03 header with TCG_PCR_EVENT2
records) and IMA runtime measurement lists, for the tests, the fuzz seeds
(tests/fuzz/gen_seeds.py) and the benchmarks. As a module: the record builders
below. As a command (sha256-only crypto-agile log, as a node's firmware writes it):

  eventlog.py OUT [--append LOG] PCR:TYPE:DATA ...
  eventlog.py --ima OUT PATH:CONTENT ...

writes LOG's records (--append) and then one TCG_PCR_EVENT2 per argument to OUT
(a Spec ID header first when there is no LOG), and prints "PCR DIGEST_HEX" for
each new event, so that the test extends its swtpm identically (tests/lib/eventlog.sh).
TYPE is a number (0x80000003 or 13); DATA is text, or hex:HEX for bytes.
With --ima: an IMA measurement list (template ima-ng, one entry a file: the
sha256 of CONTENT and PATH), and "10 DIGEST_HEX" for each entry, the sha256 of
its template data (what the sha256 bank of PCR 10 is extended with)."""
import hashlib
import struct
import sys

SHA1, SHA256, SHA384 = 0x0004, 0x000B, 0x000C
NAMES = {SHA1: "sha1", SHA256: "sha256", SHA384: "sha384"}
SIZES = {SHA1: 20, SHA256: 32, SHA384: 48}

EV_POST_CODE, EV_NO_ACTION, EV_SEPARATOR, EV_ACTION, EV_EVENT_TAG = 1, 3, 4, 5, 6
EV_S_CRTM_VERSION, EV_IPL = 8, 0xD
EV_EFI_VARIABLE_DRIVER_CONFIG, EV_EFI_VARIABLE_BOOT = 0x80000001, 0x80000002
EV_EFI_BOOT_SERVICES_APPLICATION, EV_EFI_GPT_EVENT = 0x80000003, 0x80000006
EV_EFI_ACTION, EV_EFI_PLATFORM_FIRMWARE_BLOB = 0x80000007, 0x80000008
EV_EFI_HANDOFF_TABLES, EV_EFI_PLATFORM_FIRMWARE_BLOB2 = 0x80000009, 0x8000000A
EV_EFI_HANDOFF_TABLES2, EV_EFI_HCRTM_EVENT = 0x8000000B, 0x80000010
EV_EFI_VARIABLE_AUTHORITY = 0x800000E0


def digest(alg, data):
    if alg in NAMES:
        return hashlib.new(NAMES[alg], data).digest()
    return b"\xab" * 40


def specid(algs, sizes=None, vendor=b""):
    sizes = sizes or [SIZES[a] for a in algs]
    body = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, len(algs))
    body += b"".join(struct.pack("<HH", a, s) for a, s in zip(algs, sizes))
    body += bytes([len(vendor)]) + vendor
    return struct.pack("<II20sI", 0, EV_NO_ACTION, b"\0" * 20, len(body)) + body


def agile(algs, pcr, typ, data, sizes=None):
    sizes = sizes or [SIZES.get(a, 40) for a in algs]
    out = struct.pack("<III", pcr, typ, len(algs))
    for a, s in zip(algs, sizes):
        out += struct.pack("<H", a) + digest(a, data)[:s]
    return out + struct.pack("<I", len(data)) + data


def legacy(pcr, typ, data):
    return struct.pack("<II20sI", pcr, typ, digest(SHA1, data), len(data)) + data


def utf16(s, nul=True):
    return s.encode("utf-16-le") + (b"\0\0" if nul else b"")


GLOBAL = bytes.fromhex("61dfe48bca93d211aa0d00e098032b8c")
PARTGUID = bytes.fromhex("40f7a66eef256942838d1a6f21ebf27f")


def variable(name, value):
    return GLOBAL + struct.pack("<QQ", len(name), len(value)) + utf16(name, False) + value


def ima_entry(tmpl, data, violation=False, pcr=10):
    t = tmpl.encode()
    if tmpl == "ima":
        d, name = data
        hashed = d + name.ljust(256, b"\0")
        td = hashlib.sha1(hashed).digest()
        body = d + struct.pack("<I", len(name)) + name
        return struct.pack("<I", pcr) + (b"\0" * 20 if violation else td) + struct.pack("<I", len(t)) + t + body
    td = hashlib.sha1(data).digest()
    return (struct.pack("<I", pcr) + (b"\0" * 20 if violation else td) + struct.pack("<I", len(t)) + t
            + struct.pack("<I", len(data)) + data)


def fields(*fs):
    return b"".join(struct.pack("<I", len(f)) + f for f in fs)


def dng(alg, content):
    return alg.encode() + b":\0" + hashlib.new(alg, content).digest()



def build(events, algs=(SHA256,)):
    """[(pcr, type, data)] -> the records (without a header)."""
    return b"".join(agile(list(algs), pcr, typ, data) for pcr, typ, data in events)


def parse_agile(buf):
    """A crypto-agile log -> [(pcr, type, {alg: digest}, data)] after the header
    (for tests that compute expected PCRs from a real capture)."""
    size = struct.unpack_from("<I", buf, 28)[0]
    spec = buf[32:32 + size]
    n = struct.unpack_from("<I", spec, 24)[0]
    sizes = dict(struct.unpack_from("<HH", spec, 28 + 4 * i) for i in range(n))
    off, out = 32 + size, []
    while off < len(buf):
        pcr, typ, count = struct.unpack_from("<III", buf, off)
        off += 12
        ds = {}
        for _ in range(count):
            alg = struct.unpack_from("<H", buf, off)[0]
            ds[alg] = buf[off + 2:off + 2 + sizes[alg]]
            off += 2 + sizes[alg]
        dlen = struct.unpack_from("<I", buf, off)[0]
        out.append((pcr, typ, ds, buf[off + 4:off + 4 + dlen]))
        off += 4 + dlen
    return out


def parse_spec(s):
    pcr, typ, data = s.split(":", 2)
    data = bytes.fromhex(data[4:]) if data.startswith("hex:") else data.encode()
    return int(pcr), int(typ, 0), data


def ima_main(out, specs):
    log = b""
    for spec in specs:
        path, content = spec.split(":", 1)
        data = fields(dng("sha256", content.encode()), path.encode() + b"\0")
        log += ima_entry("ima-ng", data)
        print(10, hashlib.sha256(data).hexdigest())
    with open(out, "wb") as f:
        f.write(log)


def main(argv):
    if len(argv) >= 3 and argv[1] == "--ima":
        return ima_main(argv[2], argv[3:])
    args, base = list(argv[1:]), None
    if len(args) >= 3 and args[1] == "--append":
        base = open(args[2], "rb").read()
        del args[1:3]
    if not args:
        sys.exit("usage: eventlog.py OUT [--append LOG] PCR:TYPE:DATA ...")
    out, events = args[0], [parse_spec(s) for s in args[1:]]
    log = (base if base is not None else specid([SHA256])) + build(events)
    for pcr, _, data in events:
        print(pcr, digest(SHA256, data).hex())
    with open(out, "wb") as f:
        f.write(log)


if __name__ == "__main__":
    main(sys.argv)
