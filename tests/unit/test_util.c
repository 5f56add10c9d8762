/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cursor.h"
#include "secmem.h"
#include "util.h"

static void test_hex(void **state)
{
    const uint8_t in[] = {0x00, 0xab, 0xff, 0x10};
    char out[9];
    uint8_t *dec = NULL, exact[4];
    size_t n = 0;
    bg_err err = {0};

    hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00abff10");
    assert_int_equal(hex_decode_alloc("00ABff10", &dec, &n, &err), 0);
    assert_int_equal(n, 4);
    assert_memory_equal(dec, in, 4);
    free(dec);
    assert_int_equal(hex_decode_alloc("abc", &dec, &n, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "odd length"));
    assert_int_equal(hex_decode_alloc("zz", &dec, &n, &err), -EINVAL);
    assert_int_equal(hex_decode_exact("00abff10", exact, 4, &err), 0);
    assert_int_equal(hex_decode_exact("00abff", exact, 4, &err), -EINVAL);
}

static void test_base64(void **state)
{
    static const struct {
        const char *plain, *b64;
    } vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
        char *enc =
            base64_encode_alloc((const uint8_t *)vectors[i].plain, strlen(vectors[i].plain));
        uint8_t *dec = NULL;
        size_t n = 0;
        assert_string_equal(enc, vectors[i].b64);
        assert_int_equal(base64_decode_alloc(enc, &dec, &n, NULL), 0);
        assert_int_equal(n, strlen(vectors[i].plain));
        assert_memory_equal(dec, vectors[i].plain, n);
        free(enc);
        free(dec);
    }
    static const char *bad[] = {"Zg=", "Z===", "Zm9v!", "=Zm8", "Zg=a"};
    for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
        uint8_t *dec = NULL;
        size_t n;
        assert_int_equal(base64_decode_alloc(bad[i], &dec, &n, NULL), -EINVAL);
        assert_null(dec);
    }
}

static void test_cursor_bounds(void **state)
{
    /* The length is opaque to the optimizer: with constants gcc 12's -Warray-bounds
     * reports the (never taken) read past the end of the failing path. */
    static volatile size_t six = 6;
    uint8_t *buf = malloc(six);
    assert_non_null(buf);
    memcpy(buf, (const uint8_t[]){1, 2, 3, 4, 5, 6}, 6);
    cursor c = cursor_init(buf, six);
    uint32_t v32;
    uint16_t v16;
    const uint8_t *p;
    bg_err err = {0};

    assert_int_equal(cursor_u32le(&c, &v32, "a", &err), 0);
    assert_int_equal(v32, 0x04030201);
    assert_int_equal(cursor_u32be(&c, &v32, "field X", &err), -EBADMSG);
    assert_string_equal(err.msg, "offset 4: field X: need 4 bytes, 2 left");
    assert_int_equal(cursor_u16be(&c, &v16, "b", &err), 0);
    assert_int_equal(v16, 0x0506);
    assert_int_equal(cursor_bytes(&c, SIZE_MAX, &p, "huge", &err), -EBADMSG);
    assert_true(cursor_eof(&c));
    free(buf);
}

static void test_config_line_split(void **state)
{
    char l1[] = "  server =  https://127.0.0.1:8443 \n", l2[] = "   \n", l3[] = " # x = y\n",
         l4[] = "no equals sign\n", l5[] = "k=\n", l6[] = "a = b = c";
    char *k = NULL, *v = NULL;
    (void)state;
    assert_int_equal(config_line_split(l1, &k, &v), 0);
    assert_string_equal(k, "server");
    assert_string_equal(v, "https://127.0.0.1:8443");
    assert_int_equal(config_line_split(l2, &k, &v), 1);
    assert_int_equal(config_line_split(l3, &k, &v), 1);
    assert_int_equal(config_line_split(l4, &k, &v), -EINVAL);
    assert_int_equal(config_line_split(l5, &k, &v), 0);
    assert_string_equal(k, "k");
    assert_string_equal(v, "");
    /* the first '=' splits; the value keeps the rest */
    assert_int_equal(config_line_split(l6, &k, &v), 0);
    assert_string_equal(k, "a");
    assert_string_equal(v, "b = c");
}

static void test_secmem(void **state)
{
    uint8_t *p = secmem_alloc(32);
    assert_non_null(p);
    for (int i = 0; i < 32; i++)
        assert_int_equal(p[i], 0);
    memset(p, 0xaa, 32);
    assert_int_equal(secmem_memcmp(p, p, 32), 0);
    secmem_free(p);
    assert_null(secmem_alloc(0));
    assert_null(secmem_alloc(SIZE_MAX));

    /* freed pages are reused: every allocation still starts all zero,
     * whatever the previous owner left (the whole page is wiped on free),
     * also when more are live at once than the pool keeps */
    {
        enum { LIVE = 40 };
        uint8_t *live[LIVE];
        size_t sizes[] = {1, 32, 4000, 5000, 64 * 1024};
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < LIVE; i++) {
                size_t n = sizes[(size_t)(i + round) % (sizeof(sizes) / sizeof(sizes[0]))];
                live[i] = secmem_alloc(n);
                assert_non_null(live[i]);
                for (size_t k = 0; k < n; k++)
                    assert_int_equal(live[i][k], 0);
                memset(live[i], 0x5c, n);
            }
            for (int i = 0; i < LIVE; i++)
                secmem_free(live[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),           cmocka_unit_test(test_base64),
        cmocka_unit_test(test_cursor_bounds), cmocka_unit_test(test_config_line_split),
        cmocka_unit_test(test_secmem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
