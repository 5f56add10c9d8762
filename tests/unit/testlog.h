/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Builds small synthetic logs for policy tests, in the real binary formats,
 * so that the tests go through eventlog_parse / ima_parse like the server:
 *  - a crypto-agile UEFI log (TCG PC Client PFP 10.2.1/10.2.2: a SHA-1 format
 *    header event carrying "Spec ID Event03" with one bank, sha256, then
 *    TCG_PCR_EVENT2 records);
 *  - an IMA binary_runtime_measurements log with ima-ng entries. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "eventlog.h"
#include "ima.h"

typedef struct tbuf {
    uint8_t *p;
    size_t n;
} tbuf;

static inline void tb_put(tbuf *b, const void *d, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

static inline void tb_u8(tbuf *b, uint8_t v)
{
    tb_put(b, &v, 1);
}
static inline void tb_u16(tbuf *b, uint16_t v)
{
    uint8_t d[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    tb_put(b, d, 2);
}
static inline void tb_u32(tbuf *b, uint32_t v)
{
    uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    tb_put(b, d, 4);
}

static inline void tl_sha256(const void *d, size_t n, uint8_t out[32])
{
    EVP_Digest(d, n, out, NULL, EVP_sha256(), NULL);
}

/* The header: an EV_NO_ACTION in the legacy format with the Spec ID event. */
static inline void tl_begin(tbuf *b)
{
    static const uint8_t zero[20];
    tbuf spec = {0};
    tb_put(&spec, "Spec ID Event03", 16);
    tb_u32(&spec, 0); /* platformClass */
    tb_u8(&spec, 0);  /* specVersionMinor */
    tb_u8(&spec, 2);  /* specVersionMajor */
    tb_u8(&spec, 0);  /* specErrata */
    tb_u8(&spec, 2);  /* uintnSize: 64-bit */
    tb_u32(&spec, 1); /* numberOfAlgorithms */
    tb_u16(&spec, 0x000B);
    tb_u16(&spec, 32);
    tb_u8(&spec, 0); /* vendorInfoSize */
    memset(b, 0, sizeof *b);
    tb_u32(b, 0);
    tb_u32(b, EV_NO_ACTION);
    tb_put(b, zero, 20);
    tb_u32(b, (uint32_t)spec.n);
    tb_put(b, spec.p, spec.n);
    free(spec.p);
}

static inline void tl_event(tbuf *b, uint32_t pcr, uint32_t type, const uint8_t digest[32],
                            const void *data, size_t size)
{
    tb_u32(b, pcr);
    tb_u32(b, type);
    tb_u32(b, 1);
    tb_u16(b, 0x000B);
    tb_put(b, digest, 32);
    tb_u32(b, (uint32_t)size);
    tb_put(b, data, size);
}

/* EV_EVENT_TAG as Linux's EFI stub writes it: tag id, size, NUL-terminated
 * description; the digest is of the measured object (initrd, load options). */
static inline void tl_tag(tbuf *b, uint32_t pcr, uint32_t tag, const char *desc,
                          const uint8_t digest[32])
{
    tbuf d = {0};
    tb_u32(&d, tag);
    tb_u32(&d, (uint32_t)strlen(desc) + 1);
    tb_put(&d, desc, strlen(desc) + 1);
    tl_event(b, pcr, EV_EVENT_TAG, digest, d.p, d.n);
    free(d.p);
}

/* An event whose digest is the SHA-256 of its (string) data, e.g. EV_IPL. */
static inline void tl_string(tbuf *b, uint32_t pcr, uint32_t type, const char *s)
{
    uint8_t d[32];
    tl_sha256(s, strlen(s) + 1, d);
    tl_event(b, pcr, type, d, s, strlen(s) + 1);
}

static inline void tl_separator(tbuf *b, uint32_t pcr)
{
    static const uint8_t zero4[4];
    uint8_t d[32];
    tl_sha256(zero4, 4, d);
    tl_event(b, pcr, EV_SEPARATOR, d, zero4, 4);
}

/* UEFI_IMAGE_LOAD_EVENT without a device path; digest = Authenticode hash. */
static inline void tl_image(tbuf *b, uint32_t pcr, const uint8_t digest[32])
{
    tbuf d = {0};
    for (int i = 0; i < 4; i++) {
        tb_u32(&d, 0);
        tb_u32(&d, 0);
    }
    tl_event(b, pcr, EV_EFI_BOOT_SERVICES_APPLICATION, digest, d.p, d.n);
    free(d.p);
}

/* ima-ng entry: d-ng "sha256:\0" + digest, n-ng "path\0". */
static inline void tl_ima(tbuf *b, const char *path, const uint8_t filedigest[32])
{
    tbuf t = {0};
    uint8_t sha1[20];
    tb_u32(&t, 8 + 32);
    tb_put(&t, "sha256:", 8);
    tb_put(&t, filedigest, 32);
    tb_u32(&t, (uint32_t)strlen(path) + 1);
    tb_put(&t, path, strlen(path) + 1);
    EVP_Digest(t.p, t.n, sha1, NULL, EVP_sha1(), NULL);
    tb_u32(b, 10);
    tb_put(b, sha1, 20);
    tb_u32(b, 6);
    tb_put(b, "ima-ng", 6);
    tb_u32(b, (uint32_t)t.n);
    tb_put(b, t.p, t.n);
    free(t.p);
}
