/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Observed PCRs as data (tpmalg.h): the canonical encoding, its decoding and
 * the comparison break-glass scope "observed" rests on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tpmalg.h"

static pcr_bank sample(void)
{
    pcr_bank b = {.alg = TPMALG_SHA256, .digest_size = 32, .mask = 0xFFF};
    for (unsigned i = 0; i < PCR_COUNT; i++)
        memset(b.pcr[i], (int)(0x10 + i), 32);
    return b;
}

static void test_roundtrip(void **state)
{
    pcr_bank a = sample(), back;
    uint8_t enc[PCR_BANK_ENCODED_MAX];
    size_t n = pcr_bank_encode(&a, enc);
    /* alg | mask | 12 digests */
    assert_int_equal(n, 2 + 4 + 12 * 32);
    assert_int_equal(enc[0], 0x00);
    assert_int_equal(enc[1], 0x0B);
    assert_memory_equal(enc + 2, "\x00\x00\x0f\xff", 4);
    assert_int_equal(enc[6], 0x10);
    assert_int_equal(pcr_bank_decode(enc, n, &back), 0);
    assert_true(pcr_bank_equal(&a, &back));
    /* values outside the mask are not part of the data */
    memset(a.pcr[20], 0xAA, 32);
    assert_true(pcr_bank_equal(&a, &back));

    char *hex = pcr_bank_encode_hex(&a);
    assert_non_null(hex);
    assert_int_equal(strlen(hex), 2 * n);
    assert_int_equal(pcr_bank_decode_hex(hex, &back), 0);
    assert_true(pcr_bank_equal(&a, &back));
    free(hex);
}

static void test_equal(void **state)
{
    pcr_bank a = sample(), b = sample();
    assert_true(pcr_bank_equal(&a, &b));
    b.pcr[11][31] ^= 1; /* one bit of one PCR */
    assert_false(pcr_bank_equal(&a, &b));
    b = sample();
    b.mask &= ~(1u << 4); /* one PCR fewer */
    assert_false(pcr_bank_equal(&a, &b));
    b = sample();
    b.mask |= 1u << 14; /* one PCR more */
    assert_false(pcr_bank_equal(&a, &b));
    b = sample();
    b.alg = TPMALG_SHA384; /* another bank, digest size not its own */
    assert_false(pcr_bank_equal(&a, &b));
    b.digest_size = 48;
    assert_false(pcr_bank_equal(&a, &b));
    /* an unknown algorithm equals nothing, not even itself */
    b.alg = 0x7777;
    assert_false(pcr_bank_equal(&b, &b));
}

static void test_decode_rejects(void **state)
{
    pcr_bank a = sample(), back;
    uint8_t enc[PCR_BANK_ENCODED_MAX + 1];
    size_t n = pcr_bank_encode(&a, enc);
    assert_int_equal(pcr_bank_decode(enc, n - 1, &back), -EBADMSG); /* short */
    enc[n] = 0;
    assert_int_equal(pcr_bank_decode(enc, n + 1, &back), -EBADMSG); /* trailing */
    assert_int_equal(pcr_bank_decode(enc, 5, &back), -EBADMSG);
    assert_int_equal(pcr_bank_decode(NULL, 0, &back), -EBADMSG);
    enc[1] = 0x99; /* unknown algorithm */
    assert_int_equal(pcr_bank_decode(enc, n, &back), -EBADMSG);
    enc[1] = 0x0B;
    enc[2] = 0x01; /* PCR 24 and above */
    assert_int_equal(pcr_bank_decode(enc, n, &back), -EBADMSG);
    assert_int_equal(pcr_bank_decode_hex("", &back), -EBADMSG);
    assert_int_equal(pcr_bank_decode_hex("000b00000001zz", &back), -EBADMSG);
    assert_int_equal(pcr_bank_decode_hex("{\"0\":\"00\"}", &back), -EBADMSG); /* earlier JSON */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_decode_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
