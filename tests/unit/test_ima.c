/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IMA binary log: entries of every template are written here the way the
 * kernel writes them (ima_fs.c), expected PCR 10 values are computed
 * independently with OpenSSL, and malformed or tampered logs are rejected
 * with the entry and offset named. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "ima.h"

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, p, 4);
}

static void md(const char *name, const void *d, size_t n, uint8_t *out)
{
    unsigned len = 0;
    assert_true(EVP_Digest(d, n, out, &len, EVP_get_digestbyname(name), NULL));
}

static void field(buf *b, const void *d, size_t n)
{
    put_u32(b, (uint32_t)n);
    put(b, d, n);
}

/* What the test expects an entry to extend, per bank. */
typedef struct expect {
    uint8_t sha1[20], sha256[32];
} expect;

static void entry_header(buf *b, uint32_t pcr, const uint8_t sha1[20], const char *tmpl)
{
    put_u32(b, pcr);
    put(b, sha1, 20);
    put_u32(b, (uint32_t)strlen(tmpl));
    put(b, tmpl, strlen(tmpl));
}

/* "ima": d (20 bytes) and n (u32 length + name, no NUL), no template data
 * length; the template hash covers d and the name padded to 256 bytes. */
static void entry_ima(buf *b, const char *name, expect *e)
{
    uint8_t d[20], hashed[20 + 256] = {0};
    md("SHA1", name, strlen(name), d);
    memcpy(hashed, d, 20);
    memcpy(hashed + 20, name, strlen(name));
    md("SHA1", hashed, sizeof(hashed), e->sha1);
    md("SHA256", hashed, sizeof(hashed), e->sha256);
    entry_header(b, 10, e->sha1, "ima");
    put(b, d, 20);
    put_u32(b, (uint32_t)strlen(name));
    put(b, name, strlen(name));
}

/* Other templates: u32 template data length, then fields with u32 length
 * prefixes; the template hash covers the template data as it is. */
static void entry_fields(buf *b, const char *tmpl, const buf *data, expect *e, bool violation)
{
    md("SHA1", data->p, data->len, e->sha1);
    md("SHA256", data->p, data->len, e->sha256);
    if (violation) {
        memset(e->sha1, 0xff, 20);
        memset(e->sha256, 0xff, 32);
    }
    static const uint8_t zero[20] = {0};
    uint8_t digest[20];
    md("SHA1", data->p, data->len, digest);
    entry_header(b, 10, violation ? zero : digest, tmpl);
    put_u32(b, (uint32_t)data->len);
    put(b, data->p, data->len);
}

/* d-ng: "<algo>:\0" + digest of the file content; n-ng: name + NUL. */
static void dng_nng(buf *t, const char *algo, const char *name, bool zero_digest)
{
    uint8_t d[64] = {0};
    buf f = {0};
    size_t dlen = !strcmp(algo, "sha1") ? 20 : 32;
    if (!zero_digest)
        md(!strcmp(algo, "sha1") ? "SHA1" : "SHA256", name, strlen(name), d);
    put(&f, algo, strlen(algo));
    put(&f, ":", 2); /* ':' and NUL */
    put(&f, d, dlen);
    field(t, f.p, f.len);
    field(t, name, strlen(name) + 1);
    free(f.p);
}

static void extend(const char *alg, uint8_t *pcr, size_t n, const uint8_t *digest)
{
    uint8_t b[128];
    memcpy(b, pcr, n);
    memcpy(b + n, digest, n);
    md(alg, b, 2 * n, pcr);
}

static ima_log *parse_ok(const buf *b)
{
    ima_log *log = NULL;
    bg_err err = {0};
    if (ima_parse(b->p ? b->p : (const uint8_t *)"", b->len, &log, &err) < 0)
        fail_msg("ima_parse: %s", err.msg);
    return log;
}

static void replay_bank(const ima_log *log, uint16_t alg, size_t size, pcr_bank *bank)
{
    bg_err err = {0};
    memset(bank, 0, sizeof(*bank));
    bank->alg = alg;
    bank->digest_size = size;
    if (ima_replay(log, bank, &err) < 0)
        fail_msg("ima_replay: %s", err.msg);
}

static void test_templates(void **state)
{
    buf log = {0}, t = {0};
    expect e[6];
    uint8_t want1[20] = {0}, want256[32] = {0};
    pcr_bank bank;

    entry_ima(&log, "boot_aggregate", &e[0]);

    dng_nng(&t, "sha256", "/usr/bin/bash", false);
    entry_fields(&log, "ima-ng", &t, &e[1], false);

    t.len = 0;
    dng_nng(&t, "sha256", "/usr/lib/modules/x.ko", false);
    field(&t, "\x03\x02\x00\x01sig", 7);
    entry_fields(&log, "ima-sig", &t, &e[2], false);

    t.len = 0;
    dng_nng(&t, "sha256", "kexec-cmdline", false);
    field(&t, "root=/dev/vda1 ro", 17);
    entry_fields(&log, "ima-buf", &t, &e[3], false);

    /* A template this code does not know: fields with length prefixes. */
    t.len = 0;
    dng_nng(&t, "sha1", "/etc/custom", false);
    field(&t, "\x01\x02\x03\x04", 4);
    field(&t, "", 0);
    entry_fields(&log, "my-template", &t, &e[4], false);

    /* A violation: all-zero template digest, extends all ones. */
    t.len = 0;
    dng_nng(&t, "sha256", "/var/log/open-writers", true);
    entry_fields(&log, "ima-ng", &t, &e[5], true);

    for (int i = 0; i < 6; i++) {
        extend("SHA1", want1, 20, e[i].sha1);
        extend("SHA256", want256, 32, e[i].sha256);
    }

    ima_log *l = parse_ok(&log);
    assert_int_equal(l->n_entries, 6);
    assert_string_equal(l->entries[0].template_name, "ima");
    assert_string_equal(l->entries[0].file_name, "boot_aggregate");
    assert_int_equal(l->entries[0].file_digest_alg, TPMALG_SHA1);
    assert_string_equal(l->entries[1].template_name, "ima-ng");
    assert_string_equal(l->entries[1].file_name, "/usr/bin/bash");
    assert_int_equal(l->entries[1].file_digest_alg, TPMALG_SHA256);
    assert_int_equal(l->entries[1].file_digest_size, 32);
    uint8_t fd[32];
    md("SHA256", "/usr/bin/bash", 13, fd);
    assert_memory_equal(l->entries[1].file_digest, fd, 32);
    assert_string_equal(l->entries[2].file_name, "/usr/lib/modules/x.ko");
    assert_string_equal(l->entries[3].file_name, "kexec-cmdline");
    assert_string_equal(l->entries[4].template_name, "my-template");
    assert_string_equal(l->entries[4].file_name, "/etc/custom");
    assert_int_equal(l->entries[4].file_digest_alg, TPMALG_SHA1);
    /* pcr 4 + digest 20 + name 4+3 + d 20 + n 4+14 */
    assert_int_equal(l->entries[1].offset, 4 + 20 + 4 + 3 + 20 + 4 + 14);

    replay_bank(l, TPMALG_SHA1, 20, &bank);
    assert_memory_equal(bank.pcr[10], want1, 20);
    assert_int_equal(bank.mask, 1u << 10);
    replay_bank(l, TPMALG_SHA256, 32, &bank);
    assert_memory_equal(bank.pcr[10], want256, 32);

    /* Replay continues from the bank's current value. */
    uint8_t start[32], chained[32];
    memset(start, 0x11, 32);
    memcpy(chained, start, 32);
    for (int i = 0; i < 6; i++)
        extend("SHA256", chained, 32, e[i].sha256);
    memset(&bank, 0, sizeof(bank));
    bank.alg = TPMALG_SHA256;
    bank.digest_size = 32;
    memcpy(bank.pcr[10], start, 32);
    bg_err err = {0};
    assert_int_equal(ima_replay(l, &bank, &err), 0);
    assert_memory_equal(bank.pcr[10], chained, 32);

    /* A bank that is not a hash: refused. */
    bank.alg = 0x0001;
    assert_int_equal(ima_replay(l, &bank, &err), -EOPNOTSUPP);

    ima_log_free(l);
    free(log.p);
    free(t.p);
}

static void test_empty(void **state)
{
    buf b = {0};
    pcr_bank bank;
    uint8_t zero[32] = {0};
    ima_log *l = parse_ok(&b);
    assert_int_equal(l->n_entries, 0);
    replay_bank(l, TPMALG_SHA256, 32, &bank);
    assert_memory_equal(bank.pcr[10], zero, 32);
    assert_int_equal(bank.mask, 0);
    ima_log_free(l);
}

/* A template digest that does not match the data: rejected, and the
 * message names the entry and its offset. */
static void test_bad_template_digest(void **state)
{
    buf log = {0}, t = {0};
    expect e;
    ima_log *l = NULL;
    bg_err err = {0};
    size_t second;
    char want[64];

    entry_ima(&log, "boot_aggregate", &e);
    second = log.len;
    dng_nng(&t, "sha256", "/usr/bin/ls", false);
    entry_fields(&log, "ima-ng", &t, &e, false);
    log.p[log.len - 3] ^= 1; /* flip a bit of the file name */
    assert_int_equal(ima_parse(log.p, log.len, &l, &err), -EBADMSG);
    snprintf(want, sizeof(want), "offset %zu: entry 1", second);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, "template digest"));
    assert_null(l);

    /* The same for the "ima" template, whose hash pads the name. */
    free(log.p);
    memset(&log, 0, sizeof(log));
    entry_ima(&log, "boot_aggregate", &e);
    log.p[4] ^= 0x80;
    assert_int_equal(ima_parse(log.p, log.len, &l, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, "offset 0: entry 0"));
    free(log.p);
    free(t.p);
}

typedef struct bad_case {
    const char *name;
    void (*build)(buf *b, size_t *off);
    int code;
} bad_case;

static void b_truncated_digest(buf *b, size_t *off)
{
    put_u32(b, 10);
    put(b, "0123456789", 10);
    *off = 4;
}

static void b_name_len_zero(buf *b, size_t *off)
{
    uint8_t d[20] = {1};
    put_u32(b, 10);
    put(b, d, 20);
    put_u32(b, 0);
    *off = 24;
}

static void b_name_len_huge(buf *b, size_t *off)
{
    uint8_t d[20] = {1};
    put_u32(b, 10);
    put(b, d, 20);
    put_u32(b, 0xffffffff);
    *off = 24;
}

static void b_template_data_over_cap(buf *b, size_t *off)
{
    uint8_t d[20] = {1};
    entry_header(b, 10, d, "ima-ng");
    *off = b->len;
    put_u32(b, 0xffffffff);
}

static void b_template_data_past_end(buf *b, size_t *off)
{
    uint8_t d[20] = {1};
    entry_header(b, 10, d, "ima-ng");
    put_u32(b, 100);
    *off = b->len;
    put(b, "abc", 3);
}

static void b_field_overrun(buf *b, size_t *off)
{
    uint8_t d[20] = {1};
    entry_header(b, 10, d, "ima-ng");
    put_u32(b, 8);
    *off = b->len;
    put_u32(b, 50); /* field of 50 bytes inside 8 bytes of template data */
    put(b, "abcd", 4);
}

static void b_ima_name_too_long(buf *b, size_t *off)
{
    uint8_t d[20] = {1};
    char name[300];
    memset(name, 'a', sizeof(name));
    entry_header(b, 10, d, "ima");
    put(b, d, 20);
    *off = b->len;
    put_u32(b, sizeof(name));
    put(b, name, sizeof(name));
}

static void b_pcr_out_of_range(buf *b, size_t *off)
{
    expect e;
    entry_ima(b, "x", &e);
    *off = b->len;
    entry_ima(b, "y", &e);
    b->p[*off] = 24;
}

static void test_malformed(void **state)
{
    static const bad_case cases[] = {
        {"truncated template digest", b_truncated_digest, -EBADMSG},
        {"template name length 0", b_name_len_zero, -EBADMSG},
        {"template name length 0xffffffff", b_name_len_huge, -EBADMSG},
        {"template data 0xffffffff", b_template_data_over_cap, -E2BIG},
        {"template data past the end", b_template_data_past_end, -EBADMSG},
        {"field overruns template data", b_field_overrun, -EBADMSG},
        {"ima name of 300 bytes", b_ima_name_too_long, -EBADMSG},
        {"PCR 24", b_pcr_out_of_range, -EBADMSG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf b = {0};
        size_t off = 0;
        ima_log *l = NULL;
        bg_err err = {0};
        char want[48];

        cases[i].build(&b, &off);
        int r = ima_parse(b.p, b.len, &l, &err);
        snprintf(want, sizeof(want), "offset %zu:", off);
        if (r != cases[i].code || !strstr(err.msg, want))
            fail_msg("%s: got %d \"%s\", want %d with \"%s\"", cases[i].name, r, err.msg,
                     cases[i].code, want);
        assert_null(l);
        free(b.p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_bad_template_digest),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
