/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bootgate LUKS2 token's server list (src/client/token.c, compiled into
 * this test: the client's sources are not part of libbootgate): tokens
 * written before the list still name their one server, a list is taken in
 * order, and a bad list is refused with the field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/client/token.c"

#define T(body) "{\"type\":\"bootgate\",\"keyslots\":[],\"node_id\":\"n1\"" body "}"

static void test_token_servers(void **state)
{
    static const struct {
        const char *json;
        int rc;
        const char *servers; /* joined by server_list_format, or a part of the error */
    } cases[] = {
        /* a token from before the list */
        {T(",\"server\":\"https://a:8443\""), 0, "https://a:8443"},
        /* the list, in order; "server" is its first entry for old clients */
        {T(",\"server\":\"https://a\",\"servers\":[\"https://a\",\"https://b\",\"https://c\"]"), 0,
         "https://a, https://b, https://c"},
        /* the list alone is enough */
        {T(",\"servers\":[\"https://b\",\"https://a\"]"), 0, "https://b, https://a"},
        /* a URL twice is asked once */
        {T(",\"servers\":[\"https://a\",\"https://a\",\"https://b\"]"), 0, "https://a, https://b"},
        {T(""), -EBADMSG, "no \"server\""},
        {T(",\"servers\":[]"), -EBADMSG, "\"servers\" holds 0 URLs"},
        {T(",\"servers\":\"https://a\""), -EBADMSG, "\"servers\" is not an array"},
        {T(",\"servers\":[\"https://a\",7]"), -EBADMSG, "\"servers\"[1] is not a string"},
        {T(",\"servers\":[\"https://a b\"]"), -EBADMSG, "\"servers\"[0]"},
        {T(",\"servers\":[\"\"]"), -EBADMSG, "\"servers\"[0]"},
        {T(",\"servers\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]"), -EBADMSG,
         "holds 9 URLs"},
        {T(",\"server\":7"), -EBADMSG, "\"server\" is not a string"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        luks_token tok;
        bg_err err = {{0}};
        char got[SERVERS_MAX * SERVER_URL_MAX];
        int r = luks_token_parse(cases[i].json, &tok, &err);
        if (r != cases[i].rc)
            fail_msg("case %zu: rc %d (%s)", i, r, err.msg);
        if (r < 0) {
            if (!strstr(err.msg, cases[i].servers))
                fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].servers);
            continue;
        }
        server_list_format(&tok.servers, got, sizeof(got));
        assert_string_equal(got, cases[i].servers);
        assert_string_equal(tok.node_id, "n1");
    }
}

/* unlock.conf's server and rd.bootgate.url=: commas and/or blanks */
static void test_server_list_parse(void **state)
{
    server_list l;
    bg_err err = {{0}};
    char got[SERVERS_MAX * SERVER_URL_MAX], big[SERVER_URL_MAX + 8];

    assert_int_equal(server_list_parse("https://a:1,https://b:2  https://c:3 ,", &l, &err), 0);
    server_list_format(&l, got, sizeof(got));
    assert_string_equal(got, "https://a:1, https://b:2, https://c:3");
    assert_int_equal(server_list_parse("", &l, &err), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(server_list_parse("a b c d e f g h i", &l, &err), -E2BIG);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(server_list_parse(big, &l, &err), -EINVAL);
    memset(&l, 0, sizeof(l));
    assert_int_equal(server_list_add(&l, "https://a,https://b", &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_servers),
        cmocka_unit_test(test_server_list_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
