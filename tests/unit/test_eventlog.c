/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UEFI event log: synthetic logs built here (legacy and crypto-agile), replay
 * checked against PCR values computed independently with OpenSSL, every
 * description decoder, and malformed inputs with their error and offset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "eventlog.h"

/* ---- a small writer of event logs ---- */

typedef struct logbuf {
    uint8_t *buf;
    size_t len, cap;
    unsigned n_algs;
    uint16_t algs[8], sizes[8];
} logbuf;

static void lb_reserve(logbuf *b, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 256;
        b->buf = realloc(b->buf, b->cap);
        assert_non_null(b->buf);
    }
}

static void put(logbuf *b, const void *p, size_t n)
{
    lb_reserve(b, n);
    if (n)
        memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static void put_u8(logbuf *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put_u16(logbuf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, p, 2);
}

static void put_u32(logbuf *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, p, 4);
}

static void put_u64(logbuf *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void hash(uint16_t alg, const void *data, size_t n, uint8_t *out)
{
    const EVP_MD *md = tpmalg_md(alg);
    unsigned len = 0;
    assert_non_null(md);
    assert_true(EVP_Digest(data, n, out, &len, md, NULL));
}

/* The digest an event carries: H(data) for algorithms OpenSSL knows, a
 * recognisable pattern for the others. */
static void event_digest(uint16_t alg, uint16_t size, const void *data, size_t n, uint8_t *out)
{
    if (tpmalg_md(alg))
        hash(alg, data, n, out);
    else
        memset(out, 0xab, size);
}

static void legacy_event(logbuf *b, uint32_t pcr, uint32_t type, const void *data, size_t n)
{
    uint8_t d[20];
    hash(TPMALG_SHA1, data, n, d);
    put_u32(b, pcr);
    put_u32(b, type);
    put(b, d, 20);
    put_u32(b, (uint32_t)n);
    put(b, data, n);
}

/* The Spec ID event (PFP 10.4.5.1) as the first, SHA-1 format record. */
static void specid(logbuf *b, unsigned n, const uint16_t *algs, const uint16_t *sizes)
{
    uint8_t zero[20] = {0};
    size_t size_at;

    b->n_algs = n;
    if (n) {
        memcpy(b->algs, algs, n * sizeof(*algs));
        memcpy(b->sizes, sizes, n * sizeof(*sizes));
    }
    put_u32(b, 0);
    put_u32(b, EV_NO_ACTION);
    put(b, zero, 20);
    size_at = b->len;
    put_u32(b, 0);
    put(b, "Spec ID Event03", 16);
    put_u32(b, 0); /* platformClass */
    put_u8(b, 0);  /* specVersionMinor */
    put_u8(b, 2);  /* specVersionMajor */
    put_u8(b, 0);  /* specErrata */
    put_u8(b, 2);  /* uintnSize */
    put_u32(b, n);
    for (unsigned i = 0; i < n; i++) {
        put_u16(b, algs[i]);
        put_u16(b, sizes[i]);
    }
    put_u8(b, 0); /* vendorInfoSize */
    uint32_t data_size = (uint32_t)(b->len - size_at - 4);
    uint8_t *p = b->buf + size_at;
    p[0] = (uint8_t)data_size;
    p[1] = (uint8_t)(data_size >> 8);
    p[2] = 0;
    p[3] = 0;
}

static const uint16_t sha1_sha256[] = {TPMALG_SHA1, TPMALG_SHA256};
static const uint16_t sha1_sha256_sizes[] = {20, 32};

/* A TCG_PCR_EVENT2 with a digest for every algorithm of the Spec ID event. */
static size_t agile_event(logbuf *b, uint32_t pcr, uint32_t type, const void *data, size_t n)
{
    size_t at = b->len;
    put_u32(b, pcr);
    put_u32(b, type);
    put_u32(b, b->n_algs);
    for (unsigned i = 0; i < b->n_algs; i++) {
        uint8_t d[TPMALG_MAX_DIGEST];
        event_digest(b->algs[i], b->sizes[i], data, n, d);
        put_u16(b, b->algs[i]);
        put(b, d, b->sizes[i]);
    }
    put_u32(b, (uint32_t)n);
    put(b, data, n);
    return at;
}

/* Independent replay: PCR := H(PCR || H(data)). */
static void model_extend(uint16_t alg, uint8_t *pcr, const void *data, size_t n)
{
    const tpmalg *a = tpmalg_by_id(alg);
    uint8_t buf[2 * TPMALG_MAX_DIGEST];
    memcpy(buf, pcr, a->size);
    hash(alg, data, n, buf + a->size);
    hash(alg, buf, 2 * a->size, pcr);
}

static eventlog *parse_ok(const logbuf *b)
{
    eventlog *log = NULL;
    bg_err err = {0};
    int r = eventlog_parse(b->buf, b->len, &log, &err);
    if (r < 0)
        fail_msg("parse failed: %s", err.msg);
    return log;
}

/* ---- replay ---- */

static void test_legacy(void **state)
{
    logbuf b = {0};
    const char ver[] = "1.0", sep[4] = {0};
    uint8_t pcr0[20] = {0}, pcr4[20] = {0};
    pcr_bank bank;
    bg_err err = {0};

    legacy_event(&b, 0, EV_S_CRTM_VERSION, ver, sizeof(ver));
    legacy_event(&b, 4, EV_SEPARATOR, sep, 4);
    legacy_event(&b, 0, EV_POST_CODE, "POST CODE", 9);
    model_extend(TPMALG_SHA1, pcr0, ver, sizeof(ver));
    model_extend(TPMALG_SHA1, pcr4, sep, 4);
    model_extend(TPMALG_SHA1, pcr0, "POST CODE", 9);

    eventlog *log = parse_ok(&b);
    assert_false(log->crypto_agile);
    assert_int_equal(log->n_banks, 1);
    assert_int_equal(log->bank_algs[0], TPMALG_SHA1);
    assert_int_equal(log->n_events, 3);
    assert_int_equal(log->events[1].offset, 32 + sizeof(ver));
    assert_int_equal(eventlog_replay(log, TPMALG_SHA1, &bank, &err), 0);
    assert_memory_equal(bank.pcr[0], pcr0, 20);
    assert_memory_equal(bank.pcr[4], pcr4, 20);
    assert_int_equal(bank.mask, (1u << 0) | (1u << 4));
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), -EOPNOTSUPP);
    eventlog_free(log);
    free(b.buf);
}

static void test_agile_two_banks(void **state)
{
    logbuf b = {0};
    uint8_t m1[24][20] = {{0}}, m256[24][32] = {{0}};
    static const struct {
        uint32_t pcr, type;
        const char *data;
    } events[] = {
        {0, EV_S_CRTM_VERSION, "v1"},
        {7, EV_EFI_VARIABLE_DRIVER_CONFIG, "sb"},
        {4, EV_EFI_ACTION, "Calling EFI Application from Boot Option"},
        {7, EV_SEPARATOR, "\0\0\0\0"},
        {23, EV_IPL, "last pcr"},
    };
    pcr_bank bank;
    bg_err err = {0};

    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        size_t n = events[i].type == EV_SEPARATOR ? 4 : strlen(events[i].data);
        agile_event(&b, events[i].pcr, events[i].type, events[i].data, n);
        model_extend(TPMALG_SHA1, m1[events[i].pcr], events[i].data, n);
        model_extend(TPMALG_SHA256, m256[events[i].pcr], events[i].data, n);
    }
    eventlog *log = parse_ok(&b);
    assert_true(log->crypto_agile);
    assert_int_equal(log->n_banks, 2);
    assert_int_equal(log->n_events, 6);
    assert_int_equal(log->events[0].type, EV_NO_ACTION);

    assert_int_equal(eventlog_replay(log, TPMALG_SHA1, &bank, &err), 0);
    for (unsigned i = 0; i < 24; i++)
        assert_memory_equal(bank.pcr[i], m1[i], 20);
    assert_int_equal(bank.mask, (1u << 0) | (1u << 4) | (1u << 7) | (1u << 23));
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), 0);
    for (unsigned i = 0; i < 24; i++)
        assert_memory_equal(bank.pcr[i], m256[i], 32);
    assert_int_equal(bank.digest_size, 32);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA384, &bank, &err), -EOPNOTSUPP);

    const eventlog_digest *d = eventlog_event_digest(&log->events[2], TPMALG_SHA256);
    assert_non_null(d);
    assert_int_equal(d->size, 32);
    assert_null(eventlog_event_digest(&log->events[2], TPMALG_SHA384));
    eventlog_free(log);
    free(b.buf);
}

/* PFP 10.4.5.3: StartupLocality 3 makes PCR 0 start at 00..03. */
static void test_startup_locality(void **state)
{
    logbuf b = {0};
    uint8_t loc[17] = "StartupLocality";
    uint8_t m256[32] = {0}, m1[20] = {0};
    pcr_bank bank;
    bg_err err = {0};

    loc[16] = 3;
    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    agile_event(&b, 0, EV_NO_ACTION, loc, sizeof(loc));
    agile_event(&b, 0, EV_S_CRTM_VERSION, "v", 1);
    m256[31] = 3;
    m1[19] = 3;
    model_extend(TPMALG_SHA256, m256, "v", 1);
    model_extend(TPMALG_SHA1, m1, "v", 1);

    eventlog *log = parse_ok(&b);
    assert_int_equal(log->startup_locality, 3);
    assert_false(log->hcrtm);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), 0);
    assert_memory_equal(bank.pcr[0], m256, 32);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA1, &bank, &err), 0);
    assert_memory_equal(bank.pcr[0], m1, 20);
    eventlog_free(log);
    free(b.buf);

    /* Without any event on PCR 0 the start value alone is PCR 0. */
    memset(&b, 0, sizeof(b));
    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    agile_event(&b, 0, EV_NO_ACTION, loc, sizeof(loc));
    log = parse_ok(&b);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), 0);
    assert_int_equal(bank.mask, 1u);
    assert_int_equal(bank.pcr[0][31], 3);
    eventlog_free(log);
    free(b.buf);
}

/* H-CRTM (PFP 10.4.1, TPM 2.0 Part 1 34.3): PCR 0 starts at locality 4 and
 * the EV_EFI_HCRTM_EVENT digest is extended. */
static void test_hcrtm(void **state)
{
    logbuf b = {0};
    uint8_t loc[17] = "StartupLocality";
    uint8_t m256[32] = {0};
    pcr_bank bank;
    bg_err err = {0};

    loc[16] = 4;
    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    agile_event(&b, 0, EV_NO_ACTION, loc, sizeof(loc));
    agile_event(&b, 0, EV_EFI_HCRTM_EVENT, "HCRTM", 5);
    agile_event(&b, 0, EV_S_CRTM_VERSION, "v", 1);
    m256[31] = 4;
    model_extend(TPMALG_SHA256, m256, "HCRTM", 5);
    model_extend(TPMALG_SHA256, m256, "v", 1);

    eventlog *log = parse_ok(&b);
    assert_true(log->hcrtm);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), 0);
    assert_memory_equal(bank.pcr[0], m256, 32);
    eventlog_free(log);
    free(b.buf);

    /* H-CRTM without a StartupLocality event still starts at 4. */
    memset(&b, 0, sizeof(b));
    memset(m256, 0, sizeof(m256));
    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    agile_event(&b, 0, EV_EFI_HCRTM_EVENT, "HCRTM", 5);
    m256[31] = 4;
    model_extend(TPMALG_SHA256, m256, "HCRTM", 5);
    log = parse_ok(&b);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), 0);
    assert_memory_equal(bank.pcr[0], m256, 32);
    eventlog_free(log);
    free(b.buf);
}

static void test_no_action_not_extended(void **state)
{
    logbuf b = {0};
    uint8_t zero[32] = {0}, m[32] = {0};
    pcr_bank bank;
    bg_err err = {0};

    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    /* agile_event gives it real (non-zero) digests: they must still be ignored. */
    agile_event(&b, 5, EV_NO_ACTION, "informational", 13);
    agile_event(&b, 6, EV_IPL, "x", 1);
    model_extend(TPMALG_SHA256, m, "x", 1);
    eventlog *log = parse_ok(&b);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), 0);
    assert_memory_equal(bank.pcr[5], zero, 32);
    assert_memory_equal(bank.pcr[6], m, 32);
    assert_int_equal(bank.mask, 1u << 6);
    eventlog_free(log);
    free(b.buf);

    /* Legacy logs too. */
    memset(&b, 0, sizeof(b));
    legacy_event(&b, 5, EV_NO_ACTION, "x", 1);
    log = parse_ok(&b);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA1, &bank, &err), 0);
    assert_int_equal(bank.mask, 0);
    eventlog_free(log);
    free(b.buf);
}

/* An algorithm this code does not know, with a size declared in the header,
 * is skipped exactly; digests in a different order than the header's are
 * stored in the header's order. */
static void test_unknown_alg(void **state)
{
    static const uint16_t algs[] = {TPMALG_SHA1, 0x1234, TPMALG_SHA256};
    static const uint16_t sizes[] = {20, 40, 32};
    logbuf b = {0};
    uint8_t m[32] = {0}, d1[20], d256[32], dx[40];
    pcr_bank bank;
    bg_err err = {0};

    specid(&b, 3, algs, sizes);
    agile_event(&b, 2, EV_EFI_BOOT_SERVICES_DRIVER, "drv", 3);
    model_extend(TPMALG_SHA256, m, "drv", 3);
    /* Second event: sha256, unknown, sha1 order. */
    hash(TPMALG_SHA1, "app", 3, d1);
    hash(TPMALG_SHA256, "app", 3, d256);
    memset(dx, 0xcd, sizeof(dx));
    put_u32(&b, 2);
    put_u32(&b, EV_IPL);
    put_u32(&b, 3);
    put_u16(&b, TPMALG_SHA256);
    put(&b, d256, 32);
    put_u16(&b, 0x1234);
    put(&b, dx, 40);
    put_u16(&b, TPMALG_SHA1);
    put(&b, d1, 20);
    put_u32(&b, 3);
    put(&b, "app", 3);
    model_extend(TPMALG_SHA256, m, "app", 3);

    eventlog *log = parse_ok(&b);
    assert_int_equal(log->n_banks, 3);
    assert_int_equal(log->bank_sizes[1], 40);
    assert_int_equal(log->n_events, 3);
    const eventlog_digest *d = eventlog_event_digest(&log->events[2], 0x1234);
    assert_non_null(d);
    assert_int_equal(d->size, 40);
    assert_memory_equal(d->bytes, dx, 40);
    assert_int_equal(log->events[2].digests[0].alg, TPMALG_SHA1);
    assert_memory_equal(log->events[2].digests[0].bytes, d1, 20);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), 0);
    assert_memory_equal(bank.pcr[2], m, 32);
    assert_int_equal(eventlog_replay(log, 0x1234, &bank, &err), -EOPNOTSUPP);
    eventlog_free(log);
    free(b.buf);
}

/* An event without a digest for a bank parses; replaying that bank fails
 * and names the event's offset, the other bank replays. */
static void test_missing_bank_digest(void **state)
{
    logbuf b = {0};
    uint8_t d1[20];
    pcr_bank bank;
    bg_err err = {0};
    size_t at;

    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    at = b.len;
    hash(TPMALG_SHA1, "a", 1, d1);
    put_u32(&b, 4);
    put_u32(&b, EV_IPL);
    put_u32(&b, 1);
    put_u16(&b, TPMALG_SHA1);
    put(&b, d1, 20);
    put_u32(&b, 1);
    put(&b, "a", 1);
    eventlog *log = parse_ok(&b);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA1, &bank, &err), 0);
    assert_int_equal(eventlog_replay(log, TPMALG_SHA256, &bank, &err), -ENODATA);
    char want[32];
    snprintf(want, sizeof(want), "offset %zu:", at);
    assert_non_null(strstr(err.msg, want));
    eventlog_free(log);
    free(b.buf);
}

/* ---- descriptions ---- */

static void put_utf16(logbuf *b, const char *s, bool nul)
{
    for (; *s; s++)
        put_u16(b, (uint8_t)*s);
    if (nul)
        put_u16(b, 0);
}

static const uint8_t guid_global[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                        0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
static const uint8_t guid_part[16] = {0x40, 0xf7, 0xa6, 0x6e, 0xef, 0x25, 0x69, 0x42,
                                      0x83, 0x8d, 0x1a, 0x6f, 0x21, 0xeb, 0xf2, 0x7f};
#define GUID_GLOBAL_TEXT "8be4df61-93ca-11d2-aa0d-00e098032b8c"
#define GUID_PART_TEXT   "6ea6f740-25ef-4269-838d-1a6f21ebf27f"

static void dp_node(logbuf *b, uint8_t type, uint8_t sub, const logbuf *body)
{
    put_u8(b, type);
    put_u8(b, sub);
    put_u16(b, (uint16_t)(4 + body->len));
    put(b, body->buf, body->len);
}

/* PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x1,0xffff,0x0)/HD(1,GPT,..)/File(\EFI\BOOT\BOOTX64.EFI) */
static void build_devpath(logbuf *dp, bool with_unknown)
{
    logbuf n = {0};
    put_u32(&n, 0x0a0341d0); /* PNP0A03 */
    put_u32(&n, 0);
    dp_node(dp, 2, 1, &n);
    n.len = 0;
    put_u8(&n, 2);    /* function */
    put_u8(&n, 0x1f); /* device */
    dp_node(dp, 1, 1, &n);
    n.len = 0;
    put_u16(&n, 1);
    put_u16(&n, 0xffff);
    put_u16(&n, 0);
    dp_node(dp, 3, 0x12, &n);
    n.len = 0;
    put_u32(&n, 1);
    put_u64(&n, 0x800);
    put_u64(&n, 0x100000);
    put(&n, guid_part, 16);
    put_u8(&n, 2);
    put_u8(&n, 2);
    dp_node(dp, 4, 1, &n);
    if (with_unknown) {
        n.len = 0;
        put(&n, "\x01\x02", 2);
        dp_node(dp, 0x42, 9, &n);
    }
    n.len = 0;
    put_utf16(&n, "\\EFI\\BOOT\\BOOTX64.EFI", true);
    dp_node(dp, 4, 4, &n);
    n.len = 0;
    dp_node(dp, 0x7f, 0xff, &n);
    free(n.buf);
}

#define DEVPATH_TEXT                                                                               \
    "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x1,0xffff,0x0)/HD(1,GPT," GUID_PART_TEXT                     \
    ",0x800,0x100000)/File(\\EFI\\BOOT\\BOOTX64.EFI)"

static void build_variable(logbuf *b, const char *name, const logbuf *value)
{
    put(b, guid_global, 16);
    put_u64(b, strlen(name));
    put_u64(b, value ? value->len : 0);
    put_utf16(b, name, false);
    if (value)
        put(b, value->buf, value->len);
}

typedef void (*build_fn)(logbuf *b);

static void d_secureboot(logbuf *b)
{
    logbuf v = {0};
    put_u8(&v, 1);
    build_variable(b, "SecureBoot", &v);
    free(v.buf);
}

static void d_bootorder(logbuf *b)
{
    logbuf v = {0};
    put_u16(&v, 1);
    put_u16(&v, 0);
    build_variable(b, "BootOrder", &v);
    free(v.buf);
}

static void d_boot0001(logbuf *b)
{
    logbuf v = {0}, dp = {0};
    build_devpath(&dp, false);
    put_u32(&v, 1); /* LOAD_OPTION_ACTIVE */
    put_u16(&v, (uint16_t)dp.len);
    put_utf16(&v, "Linux Boot Manager", true);
    put(&v, dp.buf, dp.len);
    build_variable(b, "Boot0001", &v);
    free(v.buf);
    free(dp.buf);
}

/* BootNext is not a load option even though its value could be read as one. */
static void d_bootnext(logbuf *b)
{
    logbuf v = {0};
    put_u32(&v, 1);
    put_u16(&v, 0);
    put_utf16(&v, "x", true);
    build_variable(b, "BootNext", &v);
    free(v.buf);
}

static void d_variable_bad(logbuf *b)
{
    put(b, guid_global, 16);
    put_u64(b, 1000); /* name longer than the data */
    put_u64(b, 0);
}

static void image_event(logbuf *b, bool with_unknown)
{
    logbuf dp = {0};
    build_devpath(&dp, with_unknown);
    put_u64(b, 0x7e000000);
    put_u64(b, 0x100000);
    put_u64(b, 0);
    put_u64(b, dp.len);
    put(b, dp.buf, dp.len);
    free(dp.buf);
}

static void d_image(logbuf *b)
{
    image_event(b, false);
}

static void d_image_unknown_node(logbuf *b)
{
    image_event(b, true);
}

static void d_image_truncated_path(logbuf *b)
{
    put_u64(b, 0);
    put_u64(b, 0);
    put_u64(b, 0);
    put_u64(b, 6);
    put_u8(b, 4);
    put_u8(b, 4);
    put_u16(b, 200); /* node length beyond the path */
    put_u16(b, 'A');
}

static void image_with_path(logbuf *b, const logbuf *dp)
{
    put_u64(b, 0);
    put_u64(b, 0);
    put_u64(b, 0);
    put_u64(b, dp->len);
    put(b, dp->buf, dp->len);
}

/* MAC(..)/IPv4(..)/IPv6(..), then a second instance holding a BBS node. */
static void d_image_network(logbuf *b)
{
    logbuf dp = {0}, n = {0};
    uint8_t mac[32] = {0x0c, 0xc4, 0x7a, 0xff, 0x60, 0x1c};
    static const uint8_t v6_remote[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    static const uint8_t v6_local[16] = {0xfe, 0x80, [15] = 2};

    put(&n, mac, sizeof(mac));
    put(&n, "\x01", 1);
    dp_node(&dp, 3, 0x0b, &n);
    n.len = 0;
    put(&n, "\x0a\x00\x00\x02", 4); /* local */
    put(&n, "\xc0\xa8\x01\x01", 4); /* remote */
    put_u16(&n, 68);
    put_u16(&n, 67);
    put_u16(&n, 17);
    put_u8(&n, 0); /* DHCP */
    put(&n, "\0\0\0\0\0\0\0\0", 8);
    dp_node(&dp, 3, 0x0c, &n);
    n.len = 0;
    put(&n, v6_local, 16);
    put(&n, v6_remote, 16);
    put_u16(&n, 0);
    put_u16(&n, 0);
    put_u16(&n, 6);
    put_u8(&n, 1); /* stateless */
    put_u8(&n, 64);
    put(&n, v6_local, 16);
    dp_node(&dp, 3, 0x0d, &n);
    n.len = 0;
    dp_node(&dp, 0x7f, 0x01, &n); /* end of instance */
    put_u16(&n, 2);
    put_u16(&n, 0);
    put(&n, "VirtScsi Disk", 14);
    dp_node(&dp, 5, 1, &n);
    n.len = 0;
    dp_node(&dp, 0x7f, 0xff, &n);
    image_with_path(b, &dp);
    free(dp.buf);
    free(n.buf);
}

static void d_tag_initrd(logbuf *b)
{
    put_u32(b, 0x8f3b22ec);
    put_u32(b, 13);
    put(b, "Linux initrd", 13);
}

static void d_tag_binary(logbuf *b)
{
    put_u32(b, 0x12345678);
    put_u32(b, 3);
    put(b, "\x01\x02\x03", 3);
}

static void d_ipl_ascii(logbuf *b)
{
    put(b, "grub_cmd: linux /vmlinuz root=/dev/sda1", 40);
}

static void d_ipl_utf16(logbuf *b)
{
    put_utf16(b, "console=ttyS0 quiet", true);
}

static void d_efi_action(logbuf *b)
{
    put(b, "Exit Boot Services Invocation", 29);
}

static void d_action(logbuf *b)
{
    put(b, "Start Option ROM Scan", 21);
}

static void d_separator(logbuf *b)
{
    put_u32(b, 0);
}

static void d_separator_error(logbuf *b)
{
    put_u32(b, 0xffffffff);
}

static void d_crtm_version(logbuf *b)
{
    put_utf16(b, "GCE Virtual Firmware v1", true);
}

static void d_post_code_string(logbuf *b)
{
    put(b, "POST CODE", 9);
}

static void d_post_code_blob(logbuf *b)
{
    put_u64(b, 0xffe00000);
    put_u64(b, 0x200000);
}

static void d_fw_blob(logbuf *b)
{
    put_u64(b, 0x820000);
    put_u64(b, 0xe0000);
}

static void d_fw_blob2(logbuf *b)
{
    put_u8(b, 4);
    put(b, "DXE0", 4);
    put_u64(b, 0x900000);
    put_u64(b, 0x10000);
}

static const uint8_t guid_acpi20[16] = {0x71, 0xe8, 0x68, 0x88, 0xf1, 0xe4, 0xd3, 0x11,
                                        0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81};

static void d_handoff(logbuf *b)
{
    put_u64(b, 2);
    put(b, guid_acpi20, 16);
    put_u64(b, 0x7fb7e000);
    put(b, guid_global, 16);
    put_u64(b, 0x1000);
}

static void d_handoff2(logbuf *b)
{
    put_u8(b, 6);
    put(b, "SMBIOS", 6);
    put_u64(b, 1);
    put(b, guid_acpi20, 16);
    put_u64(b, 0x42);
}

static void d_gpt(logbuf *b)
{
    uint8_t hdr[92] = "EFI PART";
    memcpy(hdr + 56, guid_part, 16);
    put(b, hdr, sizeof(hdr));
    put_u64(b, 3);
}

static void d_locality(logbuf *b)
{
    put(b, "StartupLocality", 16);
    put_u8(b, 3);
}

static void d_binary(logbuf *b)
{
    put(b, "\x00\x01\xfe\xff", 4);
}

static void d_empty(logbuf *b)
{
    (void)b;
}

static void test_describe(void **state)
{
    static const struct {
        uint32_t type;
        build_fn build;
        const char *want;
    } vectors[] = {
        {EV_EFI_VARIABLE_DRIVER_CONFIG, d_secureboot, GUID_GLOBAL_TEXT " SecureBoot: enabled"},
        {EV_EFI_VARIABLE_BOOT, d_bootorder, GUID_GLOBAL_TEXT " BootOrder"},
        {EV_EFI_VARIABLE_BOOT, d_boot0001,
         GUID_GLOBAL_TEXT " Boot0001: \"Linux Boot Manager\" " DEVPATH_TEXT},
        {EV_EFI_VARIABLE_BOOT, d_bootnext, GUID_GLOBAL_TEXT " BootNext"},
        {EV_EFI_VARIABLE_AUTHORITY, d_variable_bad,
         "malformed UEFI_VARIABLE_DATA: 61dfe48bca93d211aa0d00e098032b8c"
         "e8030000000000000000000000000000"},
        {EV_EFI_BOOT_SERVICES_APPLICATION, d_image, DEVPATH_TEXT},
        {EV_EFI_BOOT_SERVICES_DRIVER, d_image_unknown_node,
         "PciRoot(0x0)/Pci(0x1f,0x2)/Sata(0x1,0xffff,0x0)/HD(1,GPT," GUID_PART_TEXT
         ",0x800,0x100000)/Path(66,9,0102)/File(\\EFI\\BOOT\\BOOTX64.EFI)"},
        {EV_EFI_BOOT_SERVICES_APPLICATION, d_image_network,
         "MAC(0cc47aff601c)/IPv4(192.168.1.1,UDP,DHCP,10.0.0.2)/"
         "IPv6(2001:db8:0:0:0:0:0:1,TCP,StatelessAutoConfigure,fe80:0:0:0:0:0:0:2),"
         "BBS(0x2,\"VirtScsi Disk\",0x0)"},
        {EV_EFI_BOOT_SERVICES_APPLICATION, d_image_truncated_path,
         "<bad device path node at 0: 0404c8004100>"},
        {EV_EVENT_TAG, d_tag_initrd, "Linux initrd"},
        {EV_EVENT_TAG, d_tag_binary, "tag 0x12345678: 010203"},
        {EV_IPL, d_ipl_ascii, "grub_cmd: linux /vmlinuz root=/dev/sda1"},
        {EV_IPL, d_ipl_utf16, "console=ttyS0 quiet"},
        {EV_EFI_ACTION, d_efi_action, "Exit Boot Services Invocation"},
        {EV_ACTION, d_action, "Start Option ROM Scan"},
        {EV_SEPARATOR, d_separator, "0x00000000"},
        {EV_SEPARATOR, d_separator_error, "0xffffffff (error)"},
        {EV_S_CRTM_VERSION, d_crtm_version, "GCE Virtual Firmware v1"},
        {EV_POST_CODE, d_post_code_string, "POST CODE"},
        {EV_POST_CODE, d_post_code_blob, "base 0xffe00000 length 0x200000"},
        {EV_EFI_PLATFORM_FIRMWARE_BLOB, d_fw_blob, "base 0x820000 length 0xe0000"},
        {EV_EFI_PLATFORM_FIRMWARE_BLOB2, d_fw_blob2, "DXE0 base 0x900000 length 0x10000"},
        {EV_EFI_HANDOFF_TABLES, d_handoff,
         "2 tables: ACPI 2.0 at 0x7fb7e000, " GUID_GLOBAL_TEXT " at 0x1000"},
        {EV_EFI_HANDOFF_TABLES2, d_handoff2, "SMBIOS: 1 table: ACPI 2.0 at 0x42"},
        {EV_EFI_GPT_EVENT, d_gpt, "GPT disk " GUID_PART_TEXT ", 3 partitions"},
        {EV_NO_ACTION, d_locality, "StartupLocality 3"},
        {EV_COMPACT_HASH, d_binary, "0001feff"},
        {EV_EFI_ACTION, d_empty, "(no data)"},
    };

    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        logbuf b = {0};
        char out[1024];
        eventlog_event ev = {.type = vectors[i].type};

        vectors[i].build(&b);
        ev.data = b.buf ? b.buf : (const uint8_t *)"";
        ev.data_size = (uint32_t)b.len;
        eventlog_event_describe(&ev, out, sizeof(out));
        if (strcmp(out, vectors[i].want))
            fail_msg("vector %zu (%s): got \"%s\", want \"%s\"", i,
                     eventlog_type_name(vectors[i].type), out, vectors[i].want);

        /* A short buffer truncates but stays a terminated prefix. */
        char small[8];
        memset(small, 'Z', sizeof(small));
        eventlog_event_describe(&ev, small, sizeof(small));
        assert_true(strlen(small) < sizeof(small));
        assert_memory_equal(small, out, strlen(small));
        free(b.buf);
    }
}

static void test_describe_escapes(void **state)
{
    eventlog_event ev = {.type = EV_IPL, .data = (const uint8_t *)"a\tb\x01\x7f", .data_size = 5};
    char out[64];
    /* Not printable as a whole: hex. */
    eventlog_event_describe(&ev, out, sizeof(out));
    assert_string_equal(out, "610962017f");
    /* A tag whose string has a control byte in the middle is escaped. */
    logbuf b = {0};
    put_u32(&b, 1);
    put_u32(&b, 4);
    put(&b, "a\nb\0", 4);
    ev.type = EV_EVENT_TAG;
    ev.data = b.buf;
    ev.data_size = (uint32_t)b.len;
    eventlog_event_describe(&ev, out, sizeof(out));
    assert_string_equal(out, "a\\x0ab");
    free(b.buf);
}

static void test_type_names(void **state)
{
    uint32_t t = 0;
    assert_string_equal(eventlog_type_name(EV_EFI_BOOT_SERVICES_APPLICATION),
                        "EV_EFI_BOOT_SERVICES_APPLICATION");
    assert_string_equal(eventlog_type_name(EV_SEPARATOR), "EV_SEPARATOR");
    assert_null(eventlog_type_name(0x12345));
    assert_int_equal(eventlog_type_from_name("EV_EVENT_TAG", &t), 0);
    assert_int_equal(t, EV_EVENT_TAG);
    assert_int_equal(eventlog_type_from_name("0x80000010", &t), 0);
    assert_int_equal(t, EV_EFI_HCRTM_EVENT);
    assert_int_equal(eventlog_type_from_name("13", &t), 0);
    assert_int_equal(t, EV_IPL);
    assert_int_equal(eventlog_type_from_name("EV_BOGUS", &t), -EINVAL);
    assert_int_equal(eventlog_type_from_name("0x1ffffffff", &t), -EINVAL);
    assert_int_equal(eventlog_type_from_name("", &t), -EINVAL);
}

/* ---- malformed input ---- */

typedef struct bad_case {
    const char *name;
    void (*build)(logbuf *b, size_t *want_offset);
    int code;
} bad_case;

static void b_empty(logbuf *b, size_t *off)
{
    *off = 0;
}

static void b_truncated_header(logbuf *b, size_t *off)
{
    put_u32(b, 0);
    put_u32(b, EV_S_CRTM_VERSION);
    put(b, "short", 5); /* 20-byte digest needed */
    *off = 8;
}

static void b_truncated_specid(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    b->len -= 5; /* cut into the algorithm table */
    *off = 32;
}

static void b_specid_no_algs(logbuf *b, size_t *off)
{
    specid(b, 0, NULL, NULL);
    *off = 32 + 24;
}

static void b_specid_too_many_algs(logbuf *b, size_t *off)
{
    static const uint16_t algs[6] = {1, 2, 3, 4, 5, 6}, sizes[6] = {20, 20, 20, 20, 20, 20};
    specid(b, 6, algs, sizes);
    *off = 32 + 24;
}

static void b_specid_wrong_size(logbuf *b, size_t *off)
{
    static const uint16_t algs[] = {TPMALG_SHA1, TPMALG_SHA256}, sizes[] = {20, 20};
    specid(b, 2, algs, sizes);
    *off = 32 + 28 + 4;
}

static void b_specid_huge_digest(logbuf *b, size_t *off)
{
    static const uint16_t algs[] = {0x4242}, sizes[] = {65};
    specid(b, 1, algs, sizes);
    *off = 32 + 28;
}

static void b_count_mismatch(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    *off = agile_event(b, 0, EV_IPL, "x", 1) + 8;
    b->buf[*off] = 3; /* three digests, the header lists two */
}

static void b_count_zero(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    *off = b->len + 8;
    put_u32(b, 0);
    put_u32(b, EV_IPL);
    put_u32(b, 0);
    put_u32(b, 0);
}

static void b_alg_not_in_header(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    *off = agile_event(b, 0, EV_IPL, "x", 1) + 12;
    b->buf[*off] = 0x0c; /* sha384 instead of sha1 */
}

static void b_alg_repeated(logbuf *b, size_t *off)
{
    size_t at;
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    at = agile_event(b, 0, EV_IPL, "x", 1);
    *off = at + 12 + 2 + 20;
    b->buf[*off] = 0x04; /* sha1 twice; the sha256 digest is read as sha1 + garbage */
    b->buf[*off + 1] = 0x00;
}

static void b_data_size_overflow(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    *off = agile_event(b, 0, EV_IPL, "x", 1) + 12 + 22 + 34;
    memset(b->buf + *off, 0xff, 4); /* data_size = 0xffffffff */
}

static void b_data_size_past_end(logbuf *b, size_t *off)
{
    legacy_event(b, 0, EV_IPL, "abc", 3);
    *off = b->len + 32;
    put_u32(b, 0);
    put_u32(b, EV_IPL);
    put(b, "01234567890123456789", 20);
    put_u32(b, 100); /* 100 bytes announced, 4 present */
    put(b, "abcd", 4);
}

static void b_legacy_data_size_overflow(logbuf *b, size_t *off)
{
    put_u32(b, 0);
    put_u32(b, EV_IPL);
    put(b, "01234567890123456789", 20);
    put_u32(b, 0xffffffff);
    *off = 28;
}

static void b_pcr_out_of_range(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    *off = agile_event(b, 24, EV_IPL, "x", 1);
}

static void b_trailing_garbage(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    agile_event(b, 4, EV_IPL, "x", 1);
    *off = b->len + 4;
    put(b, "\x04\0\0\0\x0d\0\0", 7); /* half an event: the type is cut */
}

static void b_specid_digest_not_zero(logbuf *b, size_t *off)
{
    specid(b, 2, sha1_sha256, sha1_sha256_sizes);
    b->buf[10] = 1;
    *off = 8;
}

static void b_too_many_events(logbuf *b, size_t *off)
{
    /* Minimal legacy events (32 bytes each), one more than the cap. */
    uint8_t ev[32] = {0};
    ev[4] = EV_IPL;
    for (unsigned i = 0; i <= EVENTLOG_MAX_EVENTS; i++)
        put(b, ev, sizeof(ev));
    *off = (size_t)EVENTLOG_MAX_EVENTS * 32;
}

static void test_malformed(void **state)
{
    static const bad_case cases[] = {
        {"empty", b_empty, -EBADMSG},
        {"truncated header", b_truncated_header, -EBADMSG},
        {"truncated Spec ID", b_truncated_specid, -EBADMSG},
        {"Spec ID without algorithms", b_specid_no_algs, -EBADMSG},
        {"Spec ID with 6 algorithms", b_specid_too_many_algs, -E2BIG},
        {"Spec ID sha256 of 20 bytes", b_specid_wrong_size, -EBADMSG},
        {"Spec ID digest of 65 bytes", b_specid_huge_digest, -EBADMSG},
        {"Spec ID digest not zero", b_specid_digest_not_zero, -EBADMSG},
        {"digest count mismatch", b_count_mismatch, -EBADMSG},
        {"digest count zero", b_count_zero, -EBADMSG},
        {"digest algorithm not in header", b_alg_not_in_header, -EBADMSG},
        {"digest algorithm repeated", b_alg_repeated, -EBADMSG},
        {"data_size 0xffffffff", b_data_size_overflow, -E2BIG},
        {"legacy data_size 0xffffffff", b_legacy_data_size_overflow, -E2BIG},
        {"data past the end", b_data_size_past_end, -EBADMSG},
        {"PCR 24", b_pcr_out_of_range, -EBADMSG},
        {"half an event at the end", b_trailing_garbage, -EBADMSG},
        {"event count over the cap", b_too_many_events, -E2BIG},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        logbuf b = {0};
        size_t want_off = 0;
        eventlog *log = NULL;
        bg_err err = {0};
        char want[48];

        cases[i].build(&b, &want_off);
        int r = eventlog_parse(b.buf ? b.buf : (const uint8_t *)"", b.len, &log, &err);
        snprintf(want, sizeof(want), "offset %zu:", want_off);
        if (r != cases[i].code || !strstr(err.msg, want))
            fail_msg("%s: got %d \"%s\", want %d with \"%s\"", cases[i].name, r, err.msg,
                     cases[i].code, want);
        assert_null(log);
        free(b.buf);
    }
}

static void test_size_cap(void **state)
{
    size_t n = (size_t)EVENTLOG_MAX_SIZE + 1;
    uint8_t *buf = calloc(1, n);
    eventlog *log = NULL;
    bg_err err = {0};

    assert_non_null(buf);
    assert_int_equal(eventlog_parse(buf, n, &log, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "offset 0:"));
    assert_null(log);
    free(buf);
}

/* The parser copies its input: events stay valid after the caller's buffer
 * is gone. */
static void test_owns_copy(void **state)
{
    logbuf b = {0};
    char out[64];

    specid(&b, 2, sha1_sha256, sha1_sha256_sizes);
    agile_event(&b, 4, EV_EFI_ACTION, "kept", 4);
    eventlog *log = parse_ok(&b);
    memset(b.buf, 0, b.len);
    free(b.buf);
    eventlog_event_describe(&log->events[1], out, sizeof(out));
    assert_string_equal(out, "kept");
    eventlog_free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_legacy),
        cmocka_unit_test(test_agile_two_banks),
        cmocka_unit_test(test_startup_locality),
        cmocka_unit_test(test_hcrtm),
        cmocka_unit_test(test_no_action_not_extended),
        cmocka_unit_test(test_unknown_alg),
        cmocka_unit_test(test_missing_bank_digest),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_describe_escapes),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_owns_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
