#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the synthetic seed corpora of fuzz_eventlog and fuzz_ima.

Run from the source tree: python3 tests/fuzz/gen_seeds.py
Each seed is a small, valid log that reaches one decoder or replay path."""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from eventlog import (  # noqa: E402  the record builders: tests/lib/eventlog.py
    EV_ACTION, EV_EFI_ACTION, EV_EFI_BOOT_SERVICES_APPLICATION, EV_EFI_GPT_EVENT,
    EV_EFI_HANDOFF_TABLES, EV_EFI_HANDOFF_TABLES2, EV_EFI_HCRTM_EVENT,
    EV_EFI_PLATFORM_FIRMWARE_BLOB, EV_EFI_PLATFORM_FIRMWARE_BLOB2, EV_EFI_VARIABLE_AUTHORITY,
    EV_EFI_VARIABLE_BOOT, EV_EFI_VARIABLE_DRIVER_CONFIG, EV_EVENT_TAG, EV_IPL, EV_NO_ACTION,
    EV_POST_CODE, EV_S_CRTM_VERSION, EV_SEPARATOR, PARTGUID, SHA1, SHA256, SHA384, agile, dng,
    fields, ima_entry, legacy, specid, utf16, variable)


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
