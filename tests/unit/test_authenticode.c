/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PE Authenticode image hash on a synthetic PE32+ whose layout the test knows,
 * so the expected digest is computed from explicit byte ranges (Authenticode
 * PE spec, "Calculating the PE Image Hash"), and malformed images. The same
 * code is checked against a real kernel and osslsigncode in
 * tests/integration/policy_cli.test.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "authenticode.h"
#include "tpmalg.h"

#define LFANEW     0x40
#define COFF       (LFANEW + 4)
#define OPT        (COFF + 20)
#define OPT_SIZE   (112 + 16 * 8)
#define SECT       (OPT + OPT_SIZE)
#define CHECKSUM   (OPT + 64)
#define CERTDIR    (OPT + 112 + 4 * 8)
#define HDR_SIZE   0x200
#define DATA_OFF   0x200
#define TEXT_OFF   0x400
#define TRAIL_OFF  0x600
#define CERT_OFF   0x680
#define CERT_SIZE  0x80
#define IMAGE_SIZE (CERT_OFF + CERT_SIZE)

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static void section(uint8_t *img, int i, const char *name, uint32_t off, uint32_t size)
{
    uint8_t *s = img + SECT + 40 * i;
    memcpy(s, name, strlen(name));
    put32(s + 8, size);  /* VirtualSize */
    put32(s + 12, off);  /* VirtualAddress */
    put32(s + 16, size); /* SizeOfRawData */
    put32(s + 20, off);  /* PointerToRawData */
}

static uint8_t *make_image(void)
{
    uint8_t *img = calloc(1, IMAGE_SIZE);
    img[0] = 'M', img[1] = 'Z';
    put32(img + 0x3c, LFANEW);
    memcpy(img + LFANEW, "PE\0\0", 4);
    put16(img + COFF, 0x8664);
    put16(img + COFF + 2, 2);
    put16(img + COFF + 16, OPT_SIZE);
    put16(img + OPT, 0x20b);
    put32(img + OPT + 60, HDR_SIZE);
    put32(img + CHECKSUM, 0xdeadbeef);
    put32(img + OPT + 108, 16);
    put32(img + CERTDIR, CERT_OFF);
    put32(img + CERTDIR + 4, CERT_SIZE);
    /* The section table lists .text (later in the file) first: the hash
     * must follow file order, not table order. */
    section(img, 0, ".text", TEXT_OFF, 0x200);
    section(img, 1, ".data", DATA_OFF, 0x200);
    for (size_t i = DATA_OFF; i < IMAGE_SIZE; i++)
        img[i] = (uint8_t)(i * 7 + 3);
    return img;
}

static void expected(const uint8_t *img, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    EVP_DigestUpdate(c, img, CHECKSUM);
    EVP_DigestUpdate(c, img + CHECKSUM + 4, CERTDIR - (CHECKSUM + 4));
    EVP_DigestUpdate(c, img + CERTDIR + 8, HDR_SIZE - (CERTDIR + 8));
    EVP_DigestUpdate(c, img + DATA_OFF, 0x200);
    EVP_DigestUpdate(c, img + TEXT_OFF, 0x200);
    EVP_DigestUpdate(c, img + TRAIL_OFF, CERT_OFF - TRAIL_OFF);
    EVP_DigestFinal_ex(c, out, NULL);
    EVP_MD_CTX_free(c);
}

static void test_digest(void **state)
{
    uint8_t *img = make_image(), want[32], got[32], other[32];
    bg_err err = {{0}};
    expected(img, want);
    if (authenticode_digest(img, IMAGE_SIZE, TPMALG_SHA256, got, sizeof got, &err) < 0)
        fail_msg("%s", err.msg);
    assert_memory_equal(got, want, 32);

    /* CheckSum, the certificate directory entry and the certificate itself
     * are outside the hash: signing an image does not change it. */
    put32(img + CHECKSUM, 0x12345678);
    img[CERT_OFF + 5] ^= 0xff;
    assert_int_equal(authenticode_digest(img, IMAGE_SIZE, TPMALG_SHA256, other, 32, &err), 0);
    assert_memory_equal(other, want, 32);

    /* Without a certificate table, the trailing bytes are all hashed. */
    put32(img + CERTDIR, 0);
    put32(img + CERTDIR + 4, 0);
    assert_int_equal(authenticode_digest(img, IMAGE_SIZE, TPMALG_SHA256, other, 32, &err), 0);
    assert_memory_not_equal(other, want, 32);
    put32(img + CERTDIR, CERT_OFF);
    put32(img + CERTDIR + 4, CERT_SIZE);

    /* Any byte of a section or of the trailing data changes it. */
    static const size_t pos[] = {DATA_OFF + 1, TEXT_OFF + 0x1ff, TRAIL_OFF + 3, 0x10};
    for (size_t i = 0; i < ELEMENTSOF(pos); i++) {
        img[pos[i]] ^= 1;
        assert_int_equal(authenticode_digest(img, IMAGE_SIZE, TPMALG_SHA256, other, 32, &err), 0);
        assert_memory_not_equal(other, want, 32);
        img[pos[i]] ^= 1;
    }

    pe_section s[4];
    assert_int_equal(pe_sections(img, IMAGE_SIZE, s, 4, &err), 2);
    assert_string_equal(s[0].name, ".text");
    assert_int_equal(s[1].raw_offset, DATA_OFF);
    free(img);
}

static void test_truncated(void **state)
{
    /* Every truncation of a valid image is refused (a section or the
     * certificate table then lies beyond the end), never read past. */
    uint8_t *img = make_image(), d[32];
    for (size_t n = 0; n < IMAGE_SIZE; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, img, n);
        bg_err err = {{0}};
        int r = authenticode_digest(copy, n, TPMALG_SHA256, d, sizeof d, &err);
        if (r != -EBADMSG)
            fail_msg("length %zu: %d (%s)", n, r, err.msg);
        assert_non_null(strstr(err.msg, "offset") ? err.msg : strstr(err.msg, "certificate"));
        free(copy);
    }
    free(img);
}

static void test_malformed(void **state)
{
    static const struct {
        size_t off;
        int width;
        uint32_t value;
        const char *msg;
    } v[] = {
        {0, 16, 0x4d5a, "no MZ"},
        {0x3c, 32, 0xfffffff0, "e_lfanew"},
        {LFANEW, 32, 0x00004551, "no PE signature"},
        {COFF + 2, 16, 97, "sections (max 96)"},
        {COFF + 16, 16, 0xffff, "optional header"},
        {COFF + 16, 16, 64, "optional header too small"},
        {OPT, 16, 0x107, "optional header magic"},
        {OPT + 108, 32, 17, "data directories do not fit"},
        {OPT + 60, 32, 0x100, "SizeOfHeaders"},
        {OPT + 60, 32, IMAGE_SIZE + 1, "SizeOfHeaders"},
        {CERTDIR, 32, 0x600, "not at the end"},
        {CERTDIR + 4, 32, CERT_SIZE + 1, "beyond the file"},
        {SECT + 20, 32, IMAGE_SIZE - 0x100, "data beyond the file"},
        {SECT + 16, 32, 0xffffffff, "data beyond the file"},
    };
    for (size_t i = 0; i < ELEMENTSOF(v); i++) {
        uint8_t *img = make_image(), d[32];
        bg_err err = {{0}};
        if (v[i].width == 16)
            put16(img + v[i].off, (uint16_t)v[i].value);
        else
            put32(img + v[i].off, v[i].value);
        int r = authenticode_digest(img, IMAGE_SIZE, TPMALG_SHA256, d, sizeof d, &err);
        if (r != -EBADMSG || !strstr(err.msg, v[i].msg))
            fail_msg("vector %zu: %d '%s', want '%s'", i, r, err.msg, v[i].msg);
        free(img);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
