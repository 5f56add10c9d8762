/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* policy predict --db-update / --dbx-update: PCR 7 after an update of a Secure
 * Boot signature database, as the firmware applies it.
 *
 * An update is an EFI signature list (ESL) or an authenticated variable write
 * (EFI_VARIABLE_AUTHENTICATION_2 + ESLs, UEFI 2.10 8.2.2: how fwupd and
 * distributions ship dbx updates), written with EFI_VARIABLE_APPEND_WRITE. The
 * firmware (EDK II AuthVariableLib, FilterSignatureList) drops every new
 * signature that an old list of the same type and size already holds (whole
 * EFI_SIGNATURE_DATA, owner included) and appends what is left, list by list.
 * At the next boot it measures the variable into PCR 7 as
 * EV_EFI_VARIABLE_DRIVER_CONFIG, digest SHA-256(UEFI_VARIABLE_DATA) (TCG PC
 * Client PFP 3.3.4.8, 10.2.6). The signature of an authenticated update is not
 * checked here: the firmware rejects a badly signed one, and then the machine
 * keeps the reference's value. */
#include "ctl_policy_predict_sbvar.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "ctl.h"
#include "cursor.h"
#include "util.h"

#define SBVAR_MAX_SIZE (4u << 20)

/* WIN_CERTIFICATE_UEFI_GUID with EFI_CERT_TYPE_PKCS7_GUID (UEFI 2.10 32.2.4). */
static const uint8_t cert_type_pkcs7[16] = {0x9d, 0xd2, 0xaf, 0x4a, 0xdf, 0x68, 0xee, 0x49,
                                            0x8a, 0xa9, 0x34, 0x7d, 0x37, 0x56, 0x65, 0xa7};
/* EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx */
static const uint8_t guid_image_security[16] = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                                0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};

typedef struct esl {
    const uint8_t *type;
    uint32_t header_size, sig_size;
    const uint8_t *header, *sigs;
    size_t n_sigs;
} esl;

/* Splits a sequence of EFI_SIGNATURE_LIST (UEFI 2.10 32.4.1); count in *ret_n. */
static int parse_esls(const uint8_t *v, size_t n, esl *out, size_t max, size_t *ret_n,
                      const char *what)
{
    cursor c = cursor_init(v, n);
    size_t k = 0;
    while (cursor_left(&c) > 0) {
        uint32_t list_size;
        const uint8_t *body;
        esl e = {0};
        size_t at = c.off;
        if (k >= max)
            return ctl_error(CTL_EXIT_FAIL, "PCR 7: %s: more than %zu signature lists", what, max);
        if (cursor_bytes(&c, 16, &e.type, "", NULL) < 0 ||
            cursor_u32le(&c, &list_size, "", NULL) < 0 ||
            cursor_u32le(&c, &e.header_size, "", NULL) < 0 ||
            cursor_u32le(&c, &e.sig_size, "", NULL) < 0 || list_size < 28 ||
            list_size - 28 < e.header_size || e.sig_size < 16 ||
            cursor_bytes(&c, list_size - 28, &body, "", NULL) < 0 ||
            (list_size - 28 - e.header_size) % e.sig_size != 0)
            return ctl_error(CTL_EXIT_FAIL, "PCR 7: %s: malformed EFI_SIGNATURE_LIST at byte %zu",
                             what, at);
        e.header = body;
        e.sigs = body + e.header_size;
        e.n_sigs = (list_size - 28 - e.header_size) / e.sig_size;
        out[k++] = e;
    }
    *ret_n = k;
    return CTL_EXIT_OK;
}

/* The ESL payload of an update file: after EFI_VARIABLE_AUTHENTICATION_2
 * (EFI_TIME, then WIN_CERTIFICATE_UEFI_GUID of dwLength bytes) when the file
 * has one, else the whole file. */
static void update_payload(const uint8_t *b, size_t n, const uint8_t **ret, size_t *ret_n,
                           bool *ret_auth)
{
    cursor c = cursor_init(b, n);
    const uint8_t *time, *type;
    uint32_t len;
    uint16_t rev, ctype;
    *ret = b;
    *ret_n = n;
    *ret_auth = false;
    if (cursor_bytes(&c, 16, &time, "", NULL) < 0 || cursor_u32le(&c, &len, "", NULL) < 0 ||
        cursor_u16le(&c, &rev, "", NULL) < 0 || cursor_u16le(&c, &ctype, "", NULL) < 0 ||
        cursor_bytes(&c, 16, &type, "", NULL) < 0)
        return;
    if (rev != 0x0200 || ctype != 0x0ef1 || memcmp(type, cert_type_pkcs7, 16) || len < 24 ||
        len > n - 16)
        return;
    *ret = b + 16 + len;
    *ret_n = n - 16 - len;
    *ret_auth = true;
}

static bool old_has(const esl *old, size_t n_old, const esl *l, const uint8_t *sig)
{
    for (size_t i = 0; i < n_old; i++) {
        if (memcmp(old[i].type, l->type, 16) || old[i].sig_size != l->sig_size)
            continue;
        for (size_t k = 0; k < old[i].n_sigs; k++)
            if (!memcmp(old[i].sigs + k * old[i].sig_size, sig, l->sig_size))
                return true;
    }
    return false;
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int sbvar_predict_update(eventlog *log, const char *var, const char *path, uint8_t **ret_data)
{
    _cleanup_(freep) uint8_t *file = NULL;
    _cleanup_(freep) esl *old = calloc(4096, sizeof *old);
    _cleanup_(freep) esl *upd = calloc(4096, sizeof *upd);
    size_t file_size, n_old = 0, n_upd = 0, chars = strlen(var);
    bg_err err = {{0}};
    int r;

    if (!old || !upd)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    /* The reference's measurement of the variable. */
    eventlog_event *ev = NULL;
    const uint8_t *value = NULL;
    uint64_t value_len = 0;
    for (size_t i = 0; i < log->n_events && !ev; i++) {
        eventlog_event *e = &log->events[i];
        cursor c = cursor_init(e->data, e->data_size);
        const uint8_t *guid, *name;
        uint64_t name_len;
        if (e->pcr != 7 || e->type != EV_EFI_VARIABLE_DRIVER_CONFIG ||
            cursor_bytes(&c, 16, &guid, "", NULL) < 0 ||
            cursor_u64le(&c, &name_len, "", NULL) < 0 ||
            cursor_u64le(&c, &value_len, "", NULL) < 0 || name_len != chars ||
            memcmp(guid, guid_image_security, 16) ||
            cursor_bytes(&c, chars * 2, &name, "", NULL) < 0 || value_len > cursor_left(&c) ||
            cursor_bytes(&c, (size_t)value_len, &value, "", NULL) < 0)
            continue;
        bool same = true;
        for (size_t k = 0; k < chars && same; k++)
            same = name[2 * k] == (uint8_t)var[k] && name[2 * k + 1] == 0;
        if (same)
            ev = e;
    }
    if (!ev)
        return ctl_error(CTL_EXIT_FAIL,
                         "PCR 7: the reference log has no EV_EFI_VARIABLE_DRIVER_CONFIG event "
                         "of %s to update",
                         var);
    char what[64];
    snprintf(what, sizeof what, "the reference's %s (event %u)", var, ev->index);
    if ((r = parse_esls(value, (size_t)value_len, old, 4096, &n_old, what)) != CTL_EXIT_OK)
        return r;

    if (read_file(path, SBVAR_MAX_SIZE, &file, &file_size, &err) < 0)
        return ctl_error(CTL_EXIT_RUNTIME, "%s", bg_err_msg(&err));
    const uint8_t *payload;
    size_t payload_size;
    bool auth;
    update_payload(file, file_size, &payload, &payload_size, &auth);
    if (payload_size == 0)
        return ctl_error(CTL_EXIT_FAIL, "PCR 7: %s holds no signature list", path);
    if ((r = parse_esls(payload, payload_size, upd, 4096, &n_upd, path)) != CTL_EXIT_OK)
        return r;

    /* New value: the old bytes, then each update list with the signatures the
     * old value lacks (a list left empty is dropped). */
    size_t cap = (size_t)value_len + payload_size;
    _cleanup_(freep) uint8_t *nv = malloc(cap ? cap : 1);
    if (!nv)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    memcpy(nv, value, (size_t)value_len);
    size_t len = (size_t)value_len, added = 0;
    for (size_t i = 0; i < n_upd; i++) {
        const esl *l = &upd[i];
        size_t start = len, kept = 0;
        memcpy(nv + len, l->type, 16);
        len += 28;
        memcpy(nv + len, l->header, l->header_size);
        len += l->header_size;
        for (size_t k = 0; k < l->n_sigs; k++) {
            const uint8_t *sig = l->sigs + k * l->sig_size;
            if (old_has(old, n_old, l, sig))
                continue;
            memcpy(nv + len, sig, l->sig_size);
            len += l->sig_size;
            kept++;
        }
        if (!kept) {
            len = start;
            continue;
        }
        put_u32le(nv + start + 16, (uint32_t)(len - start));
        put_u32le(nv + start + 20, l->header_size);
        put_u32le(nv + start + 24, l->sig_size);
        added += kept;
    }
    fprintf(stderr, "bootgatectl: %s: %s%s adds %zu new entr%s to %s\n", var, path,
            auth ? " (authenticated update, signature not checked here)" : "", added,
            added == 1 ? "y" : "ies", var);

    /* UEFI_VARIABLE_DATA with the new value; its SHA-256 is the digest. */
    size_t hdr = 32 + chars * 2;
    uint8_t *data = malloc(hdr + len);
    if (!data)
        return ctl_error(CTL_EXIT_RUNTIME, "out of memory");
    memcpy(data, ev->data, 16);
    put_u64le(data + 16, chars);
    put_u64le(data + 24, len);
    memcpy(data + 32, ev->data + 32, chars * 2);
    memcpy(data + hdr, nv, len);
    eventlog_digest *d = (eventlog_digest *)eventlog_event_digest(ev, TPMALG_SHA256);
    if (!d || d->size != 32 ||
        EVP_Digest(data, hdr + len, d->bytes, NULL, EVP_sha256(), NULL) != 1) {
        free(data);
        return ctl_error(CTL_EXIT_FAIL, "PCR 7 event %u: no sha256 digest", ev->index);
    }
    /* The other banks are not predicted: dropped rather than left stale. */
    for (unsigned k = 0; k < ev->n_digests; k++)
        if (&ev->digests[k] != d)
            ev->digests[k].size = 0, ev->digests[k].alg = 0;
    ev->data = data;
    ev->data_size = (uint32_t)(hdr + len);
    *ret_data = data;
    return CTL_EXIT_OK;
}
