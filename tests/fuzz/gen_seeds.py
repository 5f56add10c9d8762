#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the synthetic seed corpora of fuzz_eventlog and fuzz_ima.

Run from the source tree: python3 tests/fuzz/gen_seeds.py
Each seed is a small, valid log that reaches one decoder or replay path."""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
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


def node(t, s, body):
    return struct.pack("<BBH", t, s, 4 + len(body)) + body


def devpath():
    return (node(2, 1, struct.pack("<II", 0x0A0341D0, 0)) + node(1, 1, bytes([2, 0x1F]))
            + node(3, 0x12, struct.pack("<HHH", 1, 0xFFFF, 0))
            + node(3, 0x17, struct.pack("<I", 1) + bytes(range(8)))
            + node(4, 1, struct.pack("<IQQ", 1, 0x800, 0x100000) + PARTGUID + bytes([2, 2]))
            + node(4, 4, utf16("\\EFI\\BOOT\\BOOTX64.EFI")) + node(0x42, 9, b"\1\2")
            + node(3, 0x0B, bytes(range(32)) + b"\1")
            + node(3, 0x0C, bytes([10, 0, 0, 2, 192, 168, 1, 1]) + struct.pack("<HHHB", 68, 67, 17, 0) + bytes(8))
            + node(3, 0x0D, bytes(32) + struct.pack("<HHHBB", 0, 0, 6, 1, 64) + bytes(16))
            + node(0x7F, 0x01, b"") + node(5, 1, struct.pack("<HH", 2, 0) + b"Disk\0")
            + node(3, 0x05, b"\1\0") + node(3, 0x02, struct.pack("<HH", 1, 0))
            + node(3, 0x0A, PARTGUID) + node(3, 0x18, b"http://x/boot.efi")
            + node(1, 4, PARTGUID) + node(2, 1, struct.pack("<II", 0x060141D0, 1))
            + node(2, 1, struct.pack("<II", 0x12345678, 1)) + node(4, 2, struct.pack("<IQQ", 1, 2, 3))
            + node(4, 3, PARTGUID) + node(4, 6, PARTGUID) + node(4, 7, PARTGUID)
            + node(4, 8, struct.pack("<IQQ", 0, 0x1000, 0x1FFF))
            + node(4, 1, struct.pack("<IQQ", 2, 63, 1000) + bytes([0x78, 0x56, 0x34, 0x12]) + bytes(12) + bytes([1, 1]))
            + node(0x7F, 0xFF, b""))


def image(path):
    return struct.pack("<QQQQ", 0x7E000000, 0x100000, 0, len(path)) + path


def load_option(desc, path):
    return struct.pack("<IH", 1, len(path)) + utf16(desc) + path


def eventlog_seeds():
    a2 = [SHA1, SHA256]
    seeds = {}
    seeds["legacy"] = (legacy(0, EV_S_CRTM_VERSION, utf16("v1")) + legacy(0, EV_POST_CODE, b"POST CODE")
                       + legacy(7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable("SecureBoot", b"\1"))
                       + legacy(4, EV_SEPARATOR, b"\0\0\0\0"))
    ev = specid(a2)
    ev += agile(a2, 0, EV_NO_ACTION, b"StartupLocality\0\3")
    ev += agile(a2, 0, EV_S_CRTM_VERSION, utf16("GCE Virtual Firmware v1"))
    ev += agile(a2, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB, struct.pack("<QQ", 0x820000, 0xE0000))
    ev += agile(a2, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB2, b"\4DXE0" + struct.pack("<QQ", 1, 2))
    ev += agile(a2, 1, EV_EFI_HANDOFF_TABLES,
                struct.pack("<Q", 1) + bytes.fromhex("71e86888f1e4d311bc220080c73c8881") + struct.pack("<Q", 9))
    ev += agile(a2, 1, EV_EFI_HANDOFF_TABLES2, b"\6SMBIOS" + struct.pack("<Q", 0))
    ev += agile(a2, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, variable("SecureBoot", b"\1"))
    ev += agile(a2, 1, EV_EFI_VARIABLE_BOOT, variable("BootOrder", b"\1\0"))
    ev += agile(a2, 1, EV_EFI_VARIABLE_BOOT, variable("Boot0001", load_option("Linux", devpath())))
    ev += agile(a2, 4, EV_EFI_ACTION, b"Calling EFI Application from Boot Option")
    ev += agile(a2, 4, EV_EFI_BOOT_SERVICES_APPLICATION, image(devpath()))
    ev += agile(a2, 5, EV_EFI_GPT_EVENT, b"EFI PART" + bytes(84) + struct.pack("<Q", 0))
    ev += agile(a2, 7, EV_EFI_VARIABLE_AUTHORITY, variable("db", b"cert"))
    ev += agile(a2, 8, EV_IPL, b"grub_cmd: linux /vmlinuz\0")
    ev += agile(a2, 12, EV_IPL, utf16("console=ttyS0"))
    ev += agile(a2, 9, EV_EVENT_TAG, struct.pack("<II", 0x8F3B22EC, 13) + b"Linux initrd\0")
    ev += agile(a2, 5, EV_ACTION, b"Start Option ROM Scan")
    for pcr in range(8):
        ev += agile(a2, pcr, EV_SEPARATOR, b"\0\0\0\0")
    seeds["agile-sha1-sha256"] = ev
    seeds["hcrtm"] = (specid([SHA256]) + agile([SHA256], 0, EV_NO_ACTION, b"StartupLocality\0\4")
                      + agile([SHA256], 0, EV_EFI_HCRTM_EVENT, b"HCRTM"))
    unk = [SHA1, 0x1234, SHA256]
    seeds["unknown-alg"] = (specid(unk, [20, 40, 32]) + agile(unk, 4, EV_IPL, b"x", [20, 40, 32])
                            + agile([SHA256, SHA1], 4, EV_IPL, b"partial", [32, 20]))
    seeds["three-banks-vendor"] = (specid([SHA1, SHA256, SHA384], vendor=b"\xde\xad")
                                   + agile([SHA1, SHA256, SHA384], 0, EV_POST_CODE,
                                           struct.pack("<QQ", 0xFFE00000, 0x200000)))
    return seeds


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


def ima_seeds():
    seeds = {}
    seeds["ima-template"] = ima_entry("ima", (hashlib.sha1(b"x").digest(), b"boot_aggregate"))
    seeds["ima-ng"] = (ima_entry("ima", (hashlib.sha1(b"x").digest(), b"boot_aggregate"))
                       + ima_entry("ima-ng", fields(dng("sha256", b"bash"), b"/usr/bin/bash\0")))
    seeds["ima-sig"] = ima_entry("ima-sig", fields(dng("sha256", b"m"), b"/lib/m.ko\0", b"\3\2sig"))
    seeds["ima-buf"] = ima_entry("ima-buf", fields(dng("sha256", b"c"), b"kexec-cmdline\0", b"ro quiet"))
    seeds["unknown-template"] = ima_entry("my-tmpl", fields(dng("sha1", b"a"), b"/a\0", b"", b"\1"))
    seeds["violation"] = ima_entry("ima-ng", fields(b"sha256:\0" + bytes(32), b"/var/log/x\0"), violation=True)
    return seeds


def main():
    for name, seeds in (("fuzz_eventlog", eventlog_seeds()), ("fuzz_ima", ima_seeds())):
        out = os.path.join(HERE, "corpus", name)
        os.makedirs(out, exist_ok=True)
        for seed, data in seeds.items():
            with open(os.path.join(out, "seed-" + seed), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
