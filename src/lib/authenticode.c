/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "authenticode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cursor.h"
#include "tpmalg.h"

/* PE/COFF layout (Microsoft PE Format): "MZ" header with e_lfanew at 0x3c;
 * "PE\0\0"; COFF file header (20 bytes: NumberOfSections at +2,
 * SizeOfOptionalHeader at +16); optional header (magic 0x10b PE32 / 0x20b
 * PE32+, SizeOfHeaders at +60, CheckSum at +64, NumberOfRvaAndSizes at +92 /
 * +108, data directories after it; directory 4 is the Certificate Table with
 * a file offset, not an RVA); section table (40 bytes each). */

typedef struct pe_info {
    size_t checksum_off; /* file offset of CheckSum */
    size_t certdir_off;  /* file offset of the Certificate Table directory entry */
    size_t size_of_headers;
    uint32_t cert_off, cert_size;
    size_t n_sections;
    pe_section sections[AUTHENTICODE_MAX_SECTIONS];
} pe_info;

/* Moves the cursor to an absolute offset inside the buffer. */
static int seek(cursor *c, size_t off, const char *what, bg_err *err)
{
    if (off > c->len)
        return bg_err_set(err, -EBADMSG, "offset %zu: %s beyond the end of the file", off, what);
    c->off = off;
    return 0;
}

static int pe_parse(const uint8_t *buf, size_t size, pe_info *pe, bg_err *err)
{
    cursor c = cursor_init(buf, size);
    uint16_t mz, n_sections, opt_size, magic;
    uint32_t lfanew, sig, soh, n_dirs;
    int r;

    memset(pe, 0, sizeof *pe);
    if ((r = cursor_u16le(&c, &mz, "DOS magic", err)) < 0)
        return r;
    if (mz != 0x5a4d)
        return bg_err_set(err, -EBADMSG, "offset 0: not a PE image (no MZ)");
    if ((r = seek(&c, 0x3c, "e_lfanew", err)) < 0)
        return r;
    if ((r = cursor_u32le(&c, &lfanew, "e_lfanew", err)) < 0)
        return r;
    if (lfanew > size)
        return bg_err_set(err, -EBADMSG, "offset 60: e_lfanew %u beyond the file", lfanew);
    if ((r = seek(&c, lfanew, "PE signature", err)) < 0)
        return r;
    if ((r = cursor_u32le(&c, &sig, "PE signature", err)) < 0)
        return r;
    if (sig != 0x00004550)
        return bg_err_set(err, -EBADMSG, "offset %u: no PE signature", lfanew);
    size_t coff = c.off;
    if ((r = seek(&c, coff + 2, "COFF header", err)) < 0)
        return r;
    if ((r = cursor_u16le(&c, &n_sections, "NumberOfSections", err)) < 0)
        return r;
    if ((r = seek(&c, coff + 16, "COFF header", err)) < 0)
        return r;
    if ((r = cursor_u16le(&c, &opt_size, "SizeOfOptionalHeader", err)) < 0)
        return r;
    size_t opt = coff + 20;
    if ((r = seek(&c, opt, "optional header", err)) < 0 ||
        (r = cursor_need(&c, opt_size, "optional header", err)) < 0)
        return r;
    if ((r = cursor_u16le(&c, &magic, "optional header magic", err)) < 0)
        return r;
    size_t ndirs_off, dirs_off;
    if (magic == 0x10b)
        ndirs_off = 92, dirs_off = 96;
    else if (magic == 0x20b)
        ndirs_off = 108, dirs_off = 112;
    else
        return bg_err_set(err, -EBADMSG, "offset %zu: optional header magic 0x%x", opt, magic);
    if (opt_size < dirs_off)
        return bg_err_set(err, -EBADMSG, "offset %zu: optional header too small (%u)", opt,
                          opt_size);
    c.off = opt + 60;
    if ((r = cursor_u32le(&c, &soh, "SizeOfHeaders", err)) < 0)
        return r;
    pe->checksum_off = opt + 64;
    c.off = opt + ndirs_off;
    if ((r = cursor_u32le(&c, &n_dirs, "NumberOfRvaAndSizes", err)) < 0)
        return r;
    if (n_dirs > (opt_size - dirs_off) / 8)
        return bg_err_set(err, -EBADMSG, "offset %zu: %u data directories do not fit", opt, n_dirs);
    if (n_dirs > 4) {
        pe->certdir_off = opt + dirs_off + 4 * 8;
        c.off = pe->certdir_off;
        if ((r = cursor_u32le(&c, &pe->cert_off, "certificate table offset", err)) < 0 ||
            (r = cursor_u32le(&c, &pe->cert_size, "certificate table size", err)) < 0)
            return r;
        if (pe->cert_size && (pe->cert_off > size || pe->cert_size > size - pe->cert_off))
            return bg_err_set(err, -EBADMSG, "offset %zu: certificate table %u+%u beyond the file",
                              pe->certdir_off, pe->cert_off, pe->cert_size);
    }
    size_t sect = opt + opt_size;
    if (n_sections > AUTHENTICODE_MAX_SECTIONS)
        return bg_err_set(err, -EBADMSG, "offset %zu: %u sections (max %u)", coff + 2, n_sections,
                          AUTHENTICODE_MAX_SECTIONS);
    if (soh > size || soh < sect + (size_t)n_sections * 40)
        return bg_err_set(err, -EBADMSG, "offset %zu: SizeOfHeaders %u does not cover the headers",
                          opt + 60, soh);
    pe->size_of_headers = soh;
    if (pe->certdir_off && pe->certdir_off + 8 > soh)
        return bg_err_set(err, -EBADMSG, "offset %zu: certificate directory outside headers",
                          pe->certdir_off);
    for (size_t i = 0; i < n_sections; i++) {
        pe_section *s = &pe->sections[i];
        c.off = sect + i * 40;
        const uint8_t *name;
        if ((r = cursor_bytes(&c, 8, &name, "section name", err)) < 0)
            return r;
        memcpy(s->name, name, 8);
        s->name[8] = 0;
        if ((r = cursor_u32le(&c, &s->virtual_size, "VirtualSize", err)) < 0)
            return r;
        c.off += 4; /* VirtualAddress */
        if ((r = cursor_u32le(&c, &s->raw_size, "SizeOfRawData", err)) < 0 ||
            (r = cursor_u32le(&c, &s->raw_offset, "PointerToRawData", err)) < 0)
            return r;
        if (s->raw_size && (s->raw_offset > size || s->raw_size > size - s->raw_offset))
            return bg_err_set(err, -EBADMSG, "offset %zu: section %zu data beyond the file",
                              sect + i * 40, i);
    }
    pe->n_sections = n_sections;
    return 0;
}

int pe_sections(const uint8_t *buf, size_t size, pe_section *ret, size_t max, bg_err *err)
{
    pe_info *pe = malloc(sizeof *pe);
    if (!pe)
        return -ENOMEM;
    int r = pe_parse(buf, size, pe, err);
    if (r >= 0) {
        size_t n = pe->n_sections < max ? pe->n_sections : max;
        memcpy(ret, pe->sections, n * sizeof *ret);
        r = (int)n;
    }
    free(pe);
    return r;
}

static int section_cmp(const void *a, const void *b)
{
    const pe_section *x = a, *y = b;
    return x->raw_offset < y->raw_offset ? -1 : x->raw_offset > y->raw_offset;
}

int authenticode_digest(const uint8_t *buf, size_t size, uint16_t md_alg, uint8_t *ret,
                        size_t ret_size, bg_err *err)
{
    const EVP_MD *md = tpmalg_md(md_alg);
    const tpmalg *a = tpmalg_by_id(md_alg);
    if (!md || !a || ret_size < a->size)
        return bg_err_set(err, -EOPNOTSUPP, "hash algorithm 0x%04x not available", md_alg);
    if (size > AUTHENTICODE_MAX_SIZE)
        return bg_err_set(err, -EFBIG, "image larger than %u bytes", AUTHENTICODE_MAX_SIZE);
    pe_info *pe = malloc(sizeof *pe);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int r = pe && ctx ? pe_parse(buf, size, pe, err) : -ENOMEM;
    if (r < 0)
        goto out;
    bool ok = EVP_DigestInit_ex(ctx, md, NULL) == 1;
    /* 1-3: the headers, leaving out CheckSum and the Certificate Table entry. */
    ok = ok && EVP_DigestUpdate(ctx, buf, pe->checksum_off) == 1;
    if (pe->certdir_off) {
        ok = ok && EVP_DigestUpdate(ctx, buf + pe->checksum_off + 4,
                                    pe->certdir_off - (pe->checksum_off + 4)) == 1;
        ok = ok && EVP_DigestUpdate(ctx, buf + pe->certdir_off + 8,
                                    pe->size_of_headers - (pe->certdir_off + 8)) == 1;
    } else
        ok = ok && EVP_DigestUpdate(ctx, buf + pe->checksum_off + 4,
                                    pe->size_of_headers - (pe->checksum_off + 4)) == 1;
    /* 4: the sections in file order. */
    qsort(pe->sections, pe->n_sections, sizeof *pe->sections, section_cmp);
    size_t hashed = pe->size_of_headers;
    for (size_t i = 0; i < pe->n_sections && ok; i++) {
        const pe_section *s = &pe->sections[i];
        if (!s->raw_size)
            continue;
        ok = EVP_DigestUpdate(ctx, buf + s->raw_offset, s->raw_size) == 1;
        if (__builtin_add_overflow(hashed, (size_t)s->raw_size, &hashed)) {
            r = bg_err_set(err, -EBADMSG, "section sizes overflow");
            goto out;
        }
    }
    /* 5: data after the sections, except the certificate table at the end. */
    size_t end = size;
    if (pe->cert_size) {
        if (pe->cert_off + (size_t)pe->cert_size != size || pe->cert_off < hashed) {
            r = bg_err_set(err, -EBADMSG, "certificate table is not at the end of the file");
            goto out;
        }
        end = pe->cert_off;
    }
    if (ok && end > hashed)
        ok = EVP_DigestUpdate(ctx, buf + hashed, end - hashed) == 1;
    unsigned out_len = 0;
    if (!ok || EVP_DigestFinal_ex(ctx, ret, &out_len) != 1 || out_len != a->size)
        r = bg_err_set(err, -EIO, "hash computation failed");
    else
        r = 0;
out:
    EVP_MD_CTX_free(ctx);
    free(pe);
    return r;
}
