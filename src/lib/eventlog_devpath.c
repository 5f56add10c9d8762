/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "eventlog_text.h"

#include "cursor.h"

/* Device path node types, UEFI 2.10 10.3.1 */
#define DP_HARDWARE  0x01
#define DP_ACPI      0x02
#define DP_MESSAGING 0x03
#define DP_MEDIA     0x04
#define DP_BBS       0x05
#define DP_END       0x7f

/* EISA PNP ids as ACPI _HID (UEFI 2.10 10.3.3): 0x41d0 is "PNP". */
#define EISA_PNP_VENDOR 0x41d0

static bool render_hardware(textbuf *t, uint8_t sub, cursor *c)
{
    uint8_t fn, dev;
    const uint8_t *g;

    switch (sub) {
    case 0x01: /* PCI: Function, Device */
        if (cursor_u8(c, &fn, "", NULL) < 0 || cursor_u8(c, &dev, "", NULL) < 0)
            return false;
        textbuf_printf(t, "Pci(0x%x,0x%x)", dev, fn);
        return true;
    case 0x04: /* Vendor */
        if (cursor_bytes(c, 16, &g, "", NULL) < 0)
            return false;
        textbuf_printf(t, "VenHw(");
        textbuf_guid(t, g);
        textbuf_printf(t, ")");
        return true;
    }
    return false;
}

static bool render_acpi(textbuf *t, uint8_t sub, cursor *c)
{
    uint32_t hid, uid;

    if (sub != 0x01 || cursor_u32le(c, &hid, "", NULL) < 0 || cursor_u32le(c, &uid, "", NULL) < 0)
        return false;
    if ((hid & 0xffff) == EISA_PNP_VENDOR && (hid >> 16 == 0x0a03 || hid >> 16 == 0x0a08))
        textbuf_printf(t, "%s(0x%x)", hid >> 16 == 0x0a03 ? "PciRoot" : "PcieRoot", uid);
    else if ((hid & 0xffff) == EISA_PNP_VENDOR)
        textbuf_printf(t, "Acpi(PNP%04X,0x%x)", hid >> 16, uid);
    else
        textbuf_printf(t, "Acpi(0x%08x,0x%x)", hid, uid);
    return true;
}

static void render_addr(textbuf *t, const uint8_t *a, bool v6)
{
    if (!v6) {
        textbuf_printf(t, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        return;
    }
    for (unsigned i = 0; i < 16; i += 2)
        textbuf_printf(t, "%s%x", i ? ":" : "", (unsigned)(a[i] << 8 | a[i + 1]));
}

/* UEFI 2.10 10.3.5.12/13 and 10.6.1.6: IPv4(Remote,Protocol,Type,Local),
 * IPv6(Remote,Protocol,Origin,Local). */
static bool render_ip(textbuf *t, bool v6, cursor *c)
{
    static const char *const origins[] = {"Static", "StatelessAutoConfigure",
                                          "StatefulAutoConfigure"};
    size_t alen = v6 ? 16 : 4;
    const uint8_t *local, *remote;
    uint16_t lport, rport, proto;
    uint8_t kind;

    if (cursor_bytes(c, alen, &local, "", NULL) < 0 ||
        cursor_bytes(c, alen, &remote, "", NULL) < 0 || cursor_u16le(c, &lport, "", NULL) < 0 ||
        cursor_u16le(c, &rport, "", NULL) < 0 || cursor_u16le(c, &proto, "", NULL) < 0 ||
        cursor_u8(c, &kind, "", NULL) < 0)
        return false;
    textbuf_printf(t, "IPv%c(", v6 ? '6' : '4');
    render_addr(t, remote, v6);
    if (proto == 6 || proto == 17)
        textbuf_printf(t, ",%s,", proto == 6 ? "TCP" : "UDP");
    else
        textbuf_printf(t, ",0x%x,", proto);
    if (!v6)
        textbuf_printf(t, "%s,", kind ? "Static" : "DHCP");
    else if (kind < ELEMENTSOF(origins))
        textbuf_printf(t, "%s,", origins[kind]);
    else
        textbuf_printf(t, "0x%x,", kind);
    render_addr(t, local, v6);
    textbuf_printf(t, ")");
    return true;
}

static bool render_messaging(textbuf *t, uint8_t sub, cursor *c)
{
    uint16_t a, b, d;
    uint32_t nsid;
    uint8_t p, i;
    const uint8_t *g;

    switch (sub) {
    case 0x02: /* SCSI: target, LUN */
        if (cursor_u16le(c, &a, "", NULL) < 0 || cursor_u16le(c, &b, "", NULL) < 0)
            return false;
        textbuf_printf(t, "Scsi(0x%x,0x%x)", a, b);
        return true;
    case 0x05: /* USB: parent port, interface */
        if (cursor_u8(c, &p, "", NULL) < 0 || cursor_u8(c, &i, "", NULL) < 0)
            return false;
        textbuf_printf(t, "USB(0x%x,0x%x)", p, i);
        return true;
    case 0x0a: /* Vendor */
        if (cursor_bytes(c, 16, &g, "", NULL) < 0)
            return false;
        textbuf_printf(t, "VenMsg(");
        textbuf_guid(t, g);
        textbuf_printf(t, ")");
        return true;
    case 0x0b: /* MAC address (32 bytes) + interface type */
        if (cursor_bytes(c, 6, &g, "", NULL) < 0)
            return false;
        textbuf_printf(t, "MAC(");
        textbuf_hex(t, g, 6, 6);
        textbuf_printf(t, ")");
        return true;
    case 0x0c: /* IPv4: local, remote, local port, remote port, protocol, static */
    case 0x0d: /* IPv6: local, remote, local port, remote port, protocol, origin */
        return render_ip(t, sub == 0x0d, c);
    case 0x12: /* SATA: HBA port, port multiplier port, LUN */
        if (cursor_u16le(c, &a, "", NULL) < 0 || cursor_u16le(c, &b, "", NULL) < 0 ||
            cursor_u16le(c, &d, "", NULL) < 0)
            return false;
        textbuf_printf(t, "Sata(0x%x,0x%x,0x%x)", a, b, d);
        return true;
    case 0x17: /* NVMe namespace: NSID, EUI-64 */
        if (cursor_u32le(c, &nsid, "", NULL) < 0 || cursor_bytes(c, 8, &g, "", NULL) < 0)
            return false;
        textbuf_printf(t, "NVMe(0x%x,%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X)", nsid, g[0], g[1],
                       g[2], g[3], g[4], g[5], g[6], g[7]);
        return true;
    case 0x18: /* URI */
        textbuf_printf(t, "Uri(");
        textbuf_ascii(t, c->buf + c->off, cursor_left(c));
        textbuf_printf(t, ")");
        return true;
    }
    return false;
}

static bool render_media(textbuf *t, uint8_t sub, cursor *c)
{
    uint32_t part;
    uint64_t start, size;
    uint8_t mbr_type, sig_type;
    const uint8_t *sig;

    switch (sub) {
    case 0x01: /* Hard drive */
        if (cursor_u32le(c, &part, "", NULL) < 0 || cursor_u64le(c, &start, "", NULL) < 0 ||
            cursor_u64le(c, &size, "", NULL) < 0 || cursor_bytes(c, 16, &sig, "", NULL) < 0 ||
            cursor_u8(c, &mbr_type, "", NULL) < 0 || cursor_u8(c, &sig_type, "", NULL) < 0)
            return false;
        textbuf_printf(t, "HD(%u,", part);
        if (sig_type == 2) {
            textbuf_printf(t, "GPT,");
            textbuf_guid(t, sig);
        } else if (sig_type == 1) {
            textbuf_printf(t, "MBR,0x%02x%02x%02x%02x", sig[3], sig[2], sig[1], sig[0]);
        } else {
            textbuf_printf(t, "%u,0", sig_type);
        }
        textbuf_printf(t, ",0x%llx,0x%llx)", (unsigned long long)start, (unsigned long long)size);
        return true;
    case 0x02: /* CD-ROM: boot entry, start, size */
        if (cursor_u32le(c, &part, "", NULL) < 0 || cursor_u64le(c, &start, "", NULL) < 0 ||
            cursor_u64le(c, &size, "", NULL) < 0)
            return false;
        textbuf_printf(t, "CDROM(0x%x,0x%llx,0x%llx)", part, (unsigned long long)start,
                       (unsigned long long)size);
        return true;
    case 0x03: /* Vendor */
    case 0x06: /* PIWG firmware file */
    case 0x07: /* PIWG firmware volume */
        if (cursor_bytes(c, 16, &sig, "", NULL) < 0)
            return false;
        textbuf_printf(t, "%s(", sub == 0x03 ? "VenMedia" : sub == 0x06 ? "FvFile" : "Fv");
        textbuf_guid(t, sig);
        textbuf_printf(t, ")");
        return true;
    case 0x04: /* File path, UTF-16 */
        textbuf_printf(t, "File(");
        textbuf_utf16(t, c->buf + c->off, cursor_left(c));
        textbuf_printf(t, ")");
        return true;
    case 0x08: /* Relative offset range */
        if (cursor_bytes(c, 4, &sig, "", NULL) < 0 || cursor_u64le(c, &start, "", NULL) < 0 ||
            cursor_u64le(c, &size, "", NULL) < 0)
            return false;
        textbuf_printf(t, "Offset(0x%llx,0x%llx)", (unsigned long long)start,
                       (unsigned long long)size);
        return true;
    }
    return false;
}

/* UEFI 2.10 10.3.7: BIOS Boot Specification device: type, status, ASCII name. */
static bool render_bbs(textbuf *t, uint8_t sub, cursor *c)
{
    uint16_t type, status;

    if (sub != 0x01 || cursor_u16le(c, &type, "", NULL) < 0 ||
        cursor_u16le(c, &status, "", NULL) < 0)
        return false;
    textbuf_printf(t, "BBS(0x%x,\"", type);
    textbuf_ascii(t, c->buf + c->off, cursor_left(c));
    textbuf_printf(t, "\",0x%x)", status);
    return true;
}

void eventlog_devpath_text(textbuf *t, const uint8_t *p, size_t n)
{
    cursor c = cursor_init(p, n);
    bool first = true;

    while (!cursor_eof(&c)) {
        uint8_t type, sub;
        uint16_t len;
        const uint8_t *body;
        size_t at = c.off;
        bool ok = false;

        if (cursor_u8(&c, &type, "", NULL) < 0 || cursor_u8(&c, &sub, "", NULL) < 0 ||
            cursor_u16le(&c, &len, "", NULL) < 0 || len < 4 ||
            cursor_bytes(&c, len - 4u, &body, "", NULL) < 0) {
            /* A truncated or impossible node: show the rest as hex. */
            textbuf_printf(t, "%s<bad device path node at %zu: ", first ? "" : "/", at);
            textbuf_hex(t, p + at, n - at, 32);
            textbuf_printf(t, ">");
            return;
        }
        if (type == DP_END) {
            if (sub == 0xff)
                return;
            textbuf_printf(t, ",");
            first = true;
            continue;
        }
        if (!first)
            textbuf_printf(t, "/");
        first = false;

        cursor nc = cursor_init(body, len - 4u);
        size_t mark = t->len;
        switch (type) {
        case DP_HARDWARE:
            ok = render_hardware(t, sub, &nc);
            break;
        case DP_ACPI:
            ok = render_acpi(t, sub, &nc);
            break;
        case DP_MESSAGING:
            ok = render_messaging(t, sub, &nc);
            break;
        case DP_MEDIA:
            ok = render_media(t, sub, &nc);
            break;
        case DP_BBS:
            ok = render_bbs(t, sub, &nc);
            break;
        }
        if (!ok) {
            /* UEFI 2.10 10.6.1.6: the generic text form of any node. */
            t->len = mark;
            if (t->size)
                t->buf[mark] = '\0';
            textbuf_printf(t, "Path(%u,%u,", type, sub);
            textbuf_hex(t, body, len - 4u, 64);
            textbuf_printf(t, ")");
        }
    }
}
