/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* secjson_wipe overwrites every string value of a tree in place (short
 * strings and long ones alike), and the
 * tokener's buffer of proto_parse_body is wiped too (checked by parsing the
 * same document twice: the result must be unaffected). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "secjson.h"

static bool all_zero(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i])
            return false;
    return true;
}

static void test_wipe_tree(void **state)
{
    /* a long and a short base64 key */
    static const char body[] = "{\"group\":\"web\",\"volumes\":[{\"uuid\":\"u1\",\"key\":"
                               "\"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
                               "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ==\"},{\"uuid\":\"u2\",\"key\":"
                               "\"QUFB\"}],\"n\":3}";
    json_object *j = NULL, *vols, *v0, *v1, *k0, *k1, *g;
    const char *s0, *s1, *sg;
    size_t n0, n1, ng;

    assert_int_equal(proto_parse_body(body, strlen(body), &j, NULL), 0);
    assert_true(json_object_object_get_ex(j, "volumes", &vols));
    v0 = json_object_array_get_idx(vols, 0);
    v1 = json_object_array_get_idx(vols, 1);
    assert_true(json_object_object_get_ex(v0, "key", &k0));
    assert_true(json_object_object_get_ex(v1, "key", &k1));
    assert_true(json_object_object_get_ex(j, "group", &g));
    s0 = json_object_get_string(k0), n0 = (size_t)json_object_get_string_len(k0);
    s1 = json_object_get_string(k1), n1 = (size_t)json_object_get_string_len(k1);
    sg = json_object_get_string(g), ng = (size_t)json_object_get_string_len(g);
    assert_true(n0 > 64);
    assert_int_equal(n1, 4);
    assert_false(all_zero(s0, n0));
    assert_false(all_zero(s1, n1));

    secjson_wipe(j);
    assert_true(all_zero(s0, n0));
    assert_true(all_zero(s1, n1));
    assert_true(all_zero(sg, ng));
    /* non-strings untouched */
    {
        json_object *n;
        assert_true(json_object_object_get_ex(j, "n", &n));
        assert_int_equal(json_object_get_int(n), 3);
    }
    secjson_putp(&j);
    assert_null(j);
    secjson_putp(&j); /* NULL-safe */
    secjson_wipe(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wipe_tree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
