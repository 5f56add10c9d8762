/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The strict answer decoder of the shared HTTPS client (src/lib/https.c):
 * what bootgate-unlock and bootgatectl accept as a server's answer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "https.h"
#include "proto.h"

static void test_answer_json(void **state)
{
    static const struct {
        long status;
        const char *content_type, *body;
        int want;
        const char *msg; /* part of the error message */
    } v[] = {
        {200, "application/json", "{\"a\":1}", 0, NULL},
        {200, "application/json; charset=utf-8", "{}", 0, NULL},
        {200, "Application/JSON;charset=UTF-8", " {\"a\":[1,2]}\n", 0, NULL},
        {403, "application/json", "{\"error\":\"x\"}", 0, NULL},
        {200, "", "{}", -EBADMSG, "Content-Type ''"},
        {200, "text/html", "{}", -EBADMSG, "Content-Type 'text/html'"},
        {200, "application/jsonp", "{}", -EBADMSG, "not JSON"},
        {200, "application/json-seq", "{}", -EBADMSG, "not JSON"},
        {500, "text/html", "<html>500</html>", -EBADMSG, "HTTP 500 answer is not JSON"},
        {200, "application/json", "", -EBADMSG, "empty body"},
        {200, "application/json", "[1]", -EBADMSG, "HTTP 200 answer"},
        {200, "application/json", "\"s\"", -EBADMSG, NULL},
        {200, "application/json", "{\"a\":1} {}", -EBADMSG, "trailing data"},
        {200, "application/json", "{\"a\":", -EBADMSG, "truncated"},
        {502, "application/json", "<html>bad gateway</html>", -EBADMSG, "HTTP 502 answer"},
    };

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        https_response resp = {.status = v[i].status, .size = strlen(v[i].body)};
        json_object *j = (json_object *)1;
        bg_err err = {{0}};
        int r;

        snprintf(resp.content_type, sizeof(resp.content_type), "%s", v[i].content_type);
        resp.body = strdup(v[i].body);
        assert_non_null(resp.body);
        r = https_answer_json(&resp, &j, &err);
        if (r != v[i].want)
            fail_msg("vector %zu: %d, want %d (%s)", i, r, v[i].want, err.msg);
        if (r == 0)
            assert_true(json_object_is_type(j, json_type_object));
        else
            assert_null(j);
        if (v[i].msg && !strstr(err.msg, v[i].msg))
            fail_msg("vector %zu: message '%s' lacks '%s'", i, err.msg, v[i].msg);
        json_object_put(r == 0 ? j : NULL);
        https_response_done(&resp);
    }
}

/* The excerpt of a bad answer in the message is printable and bounded. */
static void test_answer_excerpt(void **state)
{
    char body[4096];
    https_response resp = {.status = 200, .content_type = "text/plain", .body = body};
    json_object *j = NULL;
    bg_err err = {{0}};

    memset(body, 'A', sizeof(body) - 1);
    body[0] = '\x1b';
    body[1] = '\n';
    body[sizeof(body) - 1] = 0;
    resp.size = sizeof(body) - 1;
    assert_int_equal(https_answer_json(&resp, &j, &err), -EBADMSG);
    assert_null(strchr(err.msg, '\x1b'));
    assert_null(strchr(err.msg, '\n'));
    assert_non_null(strstr(err.msg, "4095 bytes"));
    assert_non_null(strstr(err.msg, "AAA..."));
}

static void test_request_refuses_config(void **state)
{
    https_opts o = {.ca_file = "/nonexistent/ca.pem"};
    https_response resp;
    bg_err err = {{0}};

    assert_int_equal(https_request(&o, "GET", "http://127.0.0.1:1/", NULL, &resp, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "https://"));
    o.ca_file = NULL;
    assert_int_equal(https_request(&o, "GET", "https://127.0.0.1:1/", NULL, &resp, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "no CA file"));
    o.ca_file = "";
    assert_int_equal(https_request(&o, "POST", "https://127.0.0.1:1/", "{}", &resp, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_json),
        cmocka_unit_test(test_answer_excerpt),
        cmocka_unit_test(test_request_refuses_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
