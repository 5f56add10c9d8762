/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What Secure Boot measures into PCR 7, in words: the SecureBoot flag, the
 * signature databases (PK, KEK, db, dbx, shim's MOK lists) with their number of
 * entries, the certificate that authorised an image (EV_EFI_VARIABLE_AUTHORITY)
 * and shim's SbatLevel. All of it is untrusted event data: every length is
 * checked before use and a value that does not parse is shown as its size. */
#include "eventlog_text.h"

#include <string.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "cursor.h"

/* UEFI 2.10 32.4.1: EFI_CERT_X509_GUID, EFI_CERT_SHA256_GUID (byte layout). */
static const uint8_t cert_x509[16] = {0xa1, 0x59, 0xc0, 0xa5, 0xe4, 0x94, 0xa7, 0x4a,
                                      0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72};
static const uint8_t cert_sha256[16] = {0x26, 0x16, 0xc4, 0xc1, 0x4c, 0x50, 0x92, 0x40,
                                        0xac, 0xa9, 0x41, 0xf9, 0x36, 0x93, 0x43, 0x28};

#define SB_MAX_CNS 3

/* The subject CN of a DER certificate; false when it does not parse. */
static bool cert_cn(const uint8_t *der, size_t n, char *out, size_t size)
{
    const unsigned char *p = der;
    X509 *x;
    int r;

    if (n == 0 || n > 65536)
        return false;
    x = d2i_X509(NULL, &p, (long)n);
    if (!x)
        return false;
    r = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)size);
    if (r < 0) { /* e.g. ovmf's snakeoil key: O=SnakeOil, no CN */
        char o[80];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_organizationName, o,
                                      sizeof o) >= 0)
            snprintf(out, size, "O=%s", o);
        else
            snprintf(out, size, "(no CN)");
    }
    X509_free(x);
    return true;
}

/* UEFI 2.10 32.4.1: a sequence of EFI_SIGNATURE_LIST. */
static void describe_siglists(textbuf *t, const uint8_t *v, size_t n)
{
    cursor c = cursor_init(v, n);
    size_t entries = 0, x509 = 0, sha256 = 0, other = 0, cns = 0;
    char cn[SB_MAX_CNS][96];

    while (cursor_left(&c) > 0) {
        const uint8_t *type, *body;
        uint32_t list_size, header_size, sig_size;
        if (cursor_bytes(&c, 16, &type, "", NULL) < 0 ||
            cursor_u32le(&c, &list_size, "", NULL) < 0 ||
            cursor_u32le(&c, &header_size, "", NULL) < 0 ||
            cursor_u32le(&c, &sig_size, "", NULL) < 0 || list_size < 28 ||
            list_size - 28 < header_size || sig_size < 16 ||
            cursor_bytes(&c, list_size - 28, &body, "", NULL) < 0 ||
            (list_size - 28 - header_size) % sig_size != 0) {
            textbuf_printf(t, ": malformed signature list (%zu bytes)", n);
            return;
        }
        size_t count = (list_size - 28 - header_size) / sig_size;
        const uint8_t *sig = body + header_size;
        for (size_t i = 0; i < count; i++, sig += sig_size) {
            if (!memcmp(type, cert_x509, 16)) {
                x509++;
                if (cns < SB_MAX_CNS && cert_cn(sig + 16, sig_size - 16, cn[cns], sizeof cn[0]))
                    cns++;
            } else if (!memcmp(type, cert_sha256, 16))
                sha256++;
            else
                other++;
        }
        entries += count;
    }
    if (entries == 0) {
        textbuf_printf(t, ": empty");
        return;
    }
    textbuf_printf(t, ": %zu entr%s (", entries, entries == 1 ? "y" : "ies");
    const char *sep = "";
    if (x509) {
        textbuf_printf(t, "%zu X.509", x509);
        for (size_t i = 0; i < cns; i++)
            textbuf_printf(t, "%s%s", i ? ", " : ": ", cn[i]);
        if (cns < x509)
            textbuf_printf(t, ", ...");
        sep = "; ";
    }
    if (sha256) {
        textbuf_printf(t, "%s%zu SHA-256", sep, sha256);
        sep = "; ";
    }
    if (other)
        textbuf_printf(t, "%s%zu other", sep, other);
    textbuf_printf(t, ")");
}

/* EV_EFI_VARIABLE_AUTHORITY (PFP 3.3.4.8): the EFI_SIGNATURE_DATA (owner GUID +
 * certificate) of the db entry that verified the image; shim logs its built-in
 * vendor certificate the same way, or as the bare certificate. */
static void describe_authority(textbuf *t, const uint8_t *v, size_t n)
{
    char cn[128];
    if ((n > 16 && cert_cn(v + 16, n - 16, cn, sizeof cn)) || cert_cn(v, n, cn, sizeof cn))
        textbuf_printf(t, ": authority CN=%s", cn);
    else if (n > 0 && text_is_ascii(v, n)) {
        textbuf_printf(t, ": ");
        textbuf_ascii(t, v, n);
    } else
        textbuf_printf(t, ": %zu bytes", n);
}

/* shim's SbatLevel: CSV lines "component,generation[,date]". */
static void describe_sbat(textbuf *t, const uint8_t *v, size_t n)
{
    textbuf_printf(t, ": ");
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\n') {
            if (i + 1 < n && v[i + 1])
                textbuf_printf(t, " ");
        } else if (v[i] == 0)
            break;
        else
            textbuf_ascii(t, v + i, 1);
    }
}

static bool is_siglist_var(const char *name)
{
    static const char *const vars[] = {"PK",        "KEK",        "db",      "dbx",
                                       "dbt",       "dbr",        "MokList", "MokListX",
                                       "MokListRT", "MokListXRT", NULL};
    for (size_t i = 0; vars[i]; i++)
        if (!strcmp(vars[i], name))
            return true;
    return false;
}

void eventlog_describe_sb_value(textbuf *t, bool authority, const uint8_t *name16, size_t chars,
                                const uint8_t *v, size_t n)
{
    char name[24];
    if (chars >= sizeof name)
        return;
    for (size_t i = 0; i < chars; i++) {
        if (name16[2 * i + 1] || name16[2 * i] < 0x20 || name16[2 * i] > 0x7e)
            return;
        name[i] = (char)name16[2 * i];
    }
    name[chars] = 0;

    if (authority) {
        if (!strcmp(name, "SbatLevel"))
            describe_sbat(t, v, n);
        else
            describe_authority(t, v, n);
    } else if (!strcmp(name, "SecureBoot") && n == 0)
        textbuf_printf(t, ": absent (disabled)"); /* PFP 3.3.4.8: measured even when unset */
    else if (!strcmp(name, "SecureBoot") && n == 1)
        textbuf_printf(t, ": %s", v[0] == 1 ? "enabled" : v[0] == 0 ? "disabled" : "invalid");
    else if ((!strcmp(name, "SetupMode") || !strcmp(name, "AuditMode") ||
              !strcmp(name, "DeployedMode")) &&
             n == 1)
        textbuf_printf(t, ": %u", v[0]);
    else if (!strcmp(name, "SbatLevel"))
        describe_sbat(t, v, n);
    else if (is_siglist_var(name))
        describe_siglists(t, v, n);
}
