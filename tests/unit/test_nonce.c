/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nonce.h"

static const uint8_t secret[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static void test_nonce_cases(void **state)
{
    uint8_t n[PROTO_NONCE_SIZE], n2[PROTO_NONCE_SIZE], other_secret[32] = {9}, zero[32] = {0};
    uint64_t exp = 0, got = 0, now = 1800000000;

    assert_int_equal(nonce_make(secret, "node-a", now, 120, n, &exp), 0);
    assert_int_equal(exp, now + 120);
    /* valid, and it carries its expiry */
    assert_int_equal(nonce_check(secret, "node-a", n, sizeof(n), now, &got), NONCE_OK);
    assert_int_equal(got, now + 120);
    assert_int_equal(nonce_check(secret, "node-a", n, sizeof(n), now + 120, NULL), NONCE_OK);
    /* expired */
    assert_int_equal(nonce_check(secret, "node-a", n, sizeof(n), now + 121, NULL), NONCE_EXPIRED);
    /* issued for another node */
    assert_int_equal(nonce_check(secret, "node-b", n, sizeof(n), now, NULL), NONCE_FORGED);
    /* another server's secret */
    assert_int_equal(nonce_check(other_secret, "node-a", n, sizeof(n), now, NULL), NONCE_FORGED);
    /* missing, wrong size, all zero */
    assert_int_equal(nonce_check(secret, "node-a", NULL, 0, now, NULL), NONCE_MISSING);
    assert_int_equal(nonce_check(secret, "node-a", n, 0, now, NULL), NONCE_MISSING);
    assert_int_equal(nonce_check(secret, "node-a", n, 31, now, NULL), NONCE_MALFORMED);
    assert_int_equal(nonce_check(secret, "node-a", zero, 32, now, NULL), NONCE_MALFORMED);
    /* every byte is covered: flip each one */
    for (size_t i = 0; i < sizeof(n); i++) {
        memcpy(n2, n, sizeof(n));
        n2[i] ^= 0x01;
        assert_int_equal(nonce_check(secret, "node-a", n2, sizeof(n2), now, NULL), NONCE_FORGED);
    }
    /* extending the expiry by editing it is a forgery, not a longer life */
    memcpy(n2, n, sizeof(n));
    n2[15] += 100;
    assert_int_equal(nonce_check(secret, "node-a", n2, sizeof(n2), now + 150, NULL), NONCE_FORGED);
    /* two nonces differ */
    assert_int_equal(nonce_make(secret, "node-a", now, 120, n2, NULL), 0);
    assert_memory_not_equal(n, n2, sizeof(n));
    assert_string_equal(nonce_status_name(NONCE_EXPIRED), "nonce_expired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonce_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
