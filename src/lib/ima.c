/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ima.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cursor.h"

/* Linux security/integrity/ima: the "ima" template's name field is hashed
 * padded to IMA_EVENT_NAME_LEN_MAX + 1 bytes. */
#define IMA_EVENT_NAME_LEN_MAX 255
#define IMA_TEMPLATE_NAME_MAX  31
#define IMA_SHA1_SIZE          20

static void md_ctx_freep(EVP_MD_CTX **ctx)
{
    EVP_MD_CTX_free(*ctx);
}

static void md_freep(EVP_MD **md)
{
    EVP_MD_free(*md);
}

void ima_log_free(ima_log *log)
{
    if (!log)
        return;
    free(log->entries);
    free(log->strings);
    free(log->buf);
    free(log);
}

static bool is_ima_template(const ima_entry *e)
{
    return !strcmp(e->template_name, "ima");
}

static bool is_violation(const ima_entry *e)
{
    for (size_t i = 0; i < IMA_SHA1_SIZE; i++)
        if (e->template_sha1[i])
            return false;
    return true;
}

/* The template hash as the kernel computes it (ima_calc_field_array_hash):
 * "ima" hashes the 20-byte digest and the name padded to 256 bytes without
 * length prefixes; every other template hashes each field as u32 length +
 * data, which is exactly its template data in the binary log. */
static int template_hash(EVP_MD_CTX *ctx, const EVP_MD *md, const ima_entry *e, uint8_t *out,
                         unsigned *out_len)
{
    if (!EVP_DigestInit_ex2(ctx, md, NULL))
        return -EIO;
    if (is_ima_template(e)) {
        uint8_t name[IMA_EVENT_NAME_LEN_MAX + 1] = {0};
        size_t nlen = e->template_data_size - IMA_SHA1_SIZE - 4; /* checked by the parser */
        memcpy(name, e->template_data + IMA_SHA1_SIZE + 4, nlen);
        if (!EVP_DigestUpdate(ctx, e->template_data, IMA_SHA1_SIZE) ||
            !EVP_DigestUpdate(ctx, name, sizeof(name)))
            return -EIO;
    } else if (!EVP_DigestUpdate(ctx, e->template_data, e->template_data_size)) {
        return -EIO;
    }
    return EVP_DigestFinal_ex(ctx, out, out_len) ? 0 : -EIO;
}

static uint16_t alg_from_kernel_name(const char *name, size_t n)
{
    static const struct {
        const char *name;
        uint16_t alg;
    } map[] = {
        {"sha1", TPMALG_SHA1},     {"sha256", TPMALG_SHA256}, {"sha384", TPMALG_SHA384},
        {"sha512", TPMALG_SHA512}, {"sm3", TPMALG_SM3_256},   {"sm3-256", TPMALG_SM3_256},
    };
    for (size_t i = 0; i < ELEMENTSOF(map); i++)
        if (strlen(map[i].name) == n && !memcmp(map[i].name, name, n))
            return map[i].alg;
    return 0;
}

/* "d-ng" (ima_template_lib.c, ima_eventdigest_init_common): "<algo>:\0"
 * followed by the digest; a plain "d" field is the digest alone. */
static void decode_digest_field(ima_entry *e, const uint8_t *f, uint32_t n)
{
    const uint8_t *colon = memchr(f, ':', n < 16 ? n : 16);
    const uint8_t *digest = f;
    size_t dlen = n;

    e->file_digest_alg = 0;
    if (colon && (size_t)(colon - f) + 1 < n && colon[1] == '\0') {
        e->file_digest_alg = alg_from_kernel_name((const char *)f, (size_t)(colon - f));
        digest = colon + 2;
        dlen = n - (size_t)(colon - f) - 2;
    } else if (n == IMA_SHA1_SIZE) {
        e->file_digest_alg = TPMALG_SHA1;
    }
    if (dlen <= TPMALG_MAX_DIGEST) {
        memcpy(e->file_digest, digest, dlen);
        e->file_digest_size = (uint16_t)dlen;
    }
}

static char *copy_string(char **arena, const uint8_t *s, size_t n)
{
    char *out = *arena;
    const uint8_t *nul = memchr(s, '\0', n);
    if (nul)
        n = (size_t)(nul - s);
    memcpy(out, s, n);
    out[n] = '\0';
    *arena += n + 1;
    return out;
}

/* Template data of every template except "ima": fields with u32 length
 * prefixes that exactly fill the data (ima_fs.c, ima_measurements_show). */
static int parse_fields(ima_entry *e, size_t data_off, char **arena, bg_err *err)
{
    cursor c = cursor_init(e->template_data, e->template_data_size);
    unsigned field = 0;

    while (!cursor_eof(&c)) {
        size_t at = c.off;
        uint32_t len = 0;
        const uint8_t *f = NULL;
        int r;

        r = cursor_u32le(&c, &len, "template field length", err);
        if (r == 0)
            r = cursor_bytes(&c, len, &f, "template field", err);
        if (r < 0)
            return bg_err_set(err, -EBADMSG,
                              "offset %zu: field %u of the %s template data overruns it (%u bytes "
                              "at template data offset %zu)",
                              data_off + at, field, e->template_name, len, at);
        if (field == 0)
            decode_digest_field(e, f, len);
        else if (field == 1)
            e->file_name = copy_string(arena, f, len);
        field++;
    }
    return 0;
}

static int parse_entry(cursor *c, ima_entry *e, size_t index, char **arena, bg_err *err)
{
    uint32_t name_len, data_len;
    const uint8_t *p;
    int r;

    e->offset = c->off;
    r = cursor_u32le(c, &e->pcr, "PCR index", err);
    if (r < 0)
        return r;
    if (e->pcr >= PCR_COUNT)
        return bg_err_set(err, -EBADMSG, "offset %zu: entry %zu: PCR index %u out of range",
                          e->offset, index, e->pcr);
    r = cursor_copy(c, e->template_sha1, IMA_SHA1_SIZE, "template digest", err);
    if (r < 0)
        return r;
    r = cursor_u32le(c, &name_len, "template name length", err);
    if (r < 0)
        return r;
    if (name_len == 0 || name_len > IMA_TEMPLATE_NAME_MAX)
        return bg_err_set(err, -EBADMSG, "offset %zu: entry %zu: template name length %u",
                          c->off - 4, index, name_len);
    r = cursor_copy(c, e->template_name, name_len, "template name", err);
    if (r < 0)
        return r;
    e->template_name[name_len] = '\0';
    if (memchr(e->template_name, '\0', name_len))
        return bg_err_set(err, -EBADMSG, "offset %zu: entry %zu: NUL in template name",
                          c->off - name_len, index);
    e->file_name = "";

    if (is_ima_template(e)) {
        /* "ima": 20-byte file digest, u32 name length, name (no NUL), and no
         * template data length in front (ima_fs.c). */
        size_t start = c->off;
        r = cursor_copy(c, e->file_digest, IMA_SHA1_SIZE, "ima file digest", err);
        if (r < 0)
            return r;
        r = cursor_u32le(c, &name_len, "ima file name length", err);
        if (r < 0)
            return r;
        if (name_len > IMA_EVENT_NAME_LEN_MAX)
            return bg_err_set(err, -EBADMSG,
                              "offset %zu: entry %zu: ima file name of %u bytes, at most %u",
                              c->off - 4, index, name_len, IMA_EVENT_NAME_LEN_MAX);
        r = cursor_bytes(c, name_len, &p, "ima file name", err);
        if (r < 0)
            return r;
        e->file_digest_alg = TPMALG_SHA1;
        e->file_digest_size = IMA_SHA1_SIZE;
        e->template_data = c->buf + start;
        e->template_data_size = (uint32_t)(c->off - start);
        e->file_name = copy_string(arena, p, name_len);
        return 0;
    }

    r = cursor_u32le(c, &data_len, "template data length", err);
    if (r < 0)
        return r;
    if (data_len > IMA_MAX_TEMPLATE)
        return bg_err_set(err, -E2BIG,
                          "offset %zu: entry %zu: template data of %u bytes exceeds the cap of %u",
                          c->off - 4, index, data_len, IMA_MAX_TEMPLATE);
    r = cursor_bytes(c, data_len, &e->template_data, "template data", err);
    if (r < 0)
        return r;
    e->template_data_size = data_len;
    return parse_fields(e, c->off - data_len, arena, err);
}

int ima_parse(const uint8_t *buf, size_t size, ima_log **ret, bg_err *err)
{
    _cleanup_(ima_log_freep) ima_log *log = NULL;
    _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = NULL;
    _cleanup_(md_freep) EVP_MD *sha1 = NULL;
    size_t cap = 0;
    char *arena;
    cursor c;
    int r;

    if (size > IMA_MAX_SIZE)
        return bg_err_set(err, -E2BIG, "offset 0: IMA log of %zu bytes exceeds the cap of %u", size,
                          IMA_MAX_SIZE);
    log = calloc(1, sizeof(*log));
    if (!log)
        return -ENOMEM;
    /* Every name is copied with a NUL, and each occupies at least 4 + its
     * length bytes of input: size + 1 bytes hold them all. */
    log->buf = malloc(size + 1);
    log->strings = malloc(size + 1);
    sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    ctx = EVP_MD_CTX_new();
    if (!log->buf || !log->strings || !sha1 || !ctx)
        return -ENOMEM;
    if (size)
        memcpy(log->buf, buf, size);
    log->size = size;
    arena = log->strings;

    c = cursor_init(log->buf, size);
    while (!cursor_eof(&c)) {
        ima_entry *e;
        uint8_t digest[EVP_MAX_MD_SIZE];
        unsigned len = 0;

        if (log->n_entries >= IMA_MAX_ENTRIES)
            return bg_err_set(err, -E2BIG, "offset %zu: more than %u IMA entries", c.off,
                              IMA_MAX_ENTRIES);
        if (log->n_entries == cap) {
            size_t ncap = cap ? 2 * cap : 256;
            ima_entry *n = reallocarray(log->entries, ncap, sizeof(*n));
            if (!n)
                return -ENOMEM;
            log->entries = n;
            cap = ncap;
        }
        e = &log->entries[log->n_entries];
        memset(e, 0, sizeof(*e));
        r = parse_entry(&c, e, log->n_entries, &arena, err);
        if (r < 0)
            return r;
        if (!is_violation(e)) {
            r = template_hash(ctx, sha1, e, digest, &len);
            if (r < 0)
                return bg_err_set(err, r, "SHA-1 failed");
            if (len != IMA_SHA1_SIZE || memcmp(digest, e->template_sha1, IMA_SHA1_SIZE))
                return bg_err_set(err, -EBADMSG,
                                  "offset %zu: entry %zu (%s): template digest does not match "
                                  "its template data",
                                  e->offset, log->n_entries, e->file_name);
        }
        log->n_entries++;
    }
    *ret = TAKE_PTR(log);
    return 0;
}

int ima_replay(const ima_log *log, pcr_bank *bank, bg_err *err)
{
    _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = NULL;
    _cleanup_(md_freep) EVP_MD *md = NULL;
    const tpmalg *info = tpmalg_by_id(bank->alg);
    const EVP_MD *builtin = tpmalg_md(bank->alg);

    if (!info || !builtin || bank->digest_size != info->size)
        return bg_err_set(err, -EOPNOTSUPP, "cannot replay the IMA log into bank 0x%04x",
                          bank->alg);
    md = EVP_MD_fetch(NULL, EVP_MD_get0_name(builtin), NULL);
    ctx = EVP_MD_CTX_new();
    if (!md || !ctx)
        return bg_err_set(err, -EOPNOTSUPP, "cannot compute %s", info->name);

    for (size_t i = 0; i < log->n_entries; i++) {
        const ima_entry *e = &log->entries[i];
        uint8_t digest[EVP_MAX_MD_SIZE];
        uint8_t *pcr = bank->pcr[e->pcr];
        unsigned len = 0;
        int r;

        if (is_violation(e))
            /* ima_add_violation: the PCR is invalidated with all ones. */
            memset(digest, 0xff, info->size);
        else if (bank->alg == TPMALG_SHA1)
            memcpy(digest, e->template_sha1, IMA_SHA1_SIZE);
        else if ((r = template_hash(ctx, md, e, digest, &len)) < 0 || len != info->size)
            return bg_err_set(err, -EIO, "%s failed", info->name);
        if (!EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, pcr, info->size) ||
            !EVP_DigestUpdate(ctx, digest, info->size) || !EVP_DigestFinal_ex(ctx, pcr, &len))
            return bg_err_set(err, -EIO, "%s extend failed", info->name);
        bank->mask |= 1u << e->pcr;
    }
    return 0;
}
