/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgated's route matching (routes.c, srv_route_find): method + pattern with '*'
 * segments + roles. Every route is found by its own method and path with its
 * parameters and roles; another method is 405, an unknown path 404; segments that
 * are empty, "." or "..", overlong, percent-encoded or carry a query do not match
 * a '*' or a literal segment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "srv.h"

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define DELETE EVHTTP_REQ_DELETE
#define PUT    EVHTTP_REQ_PUT

#define ADMIN    ROLE_ADMIN
#define ENROLLER ROLE_ENROLLER
#define APPROVER ROLE_APPROVER
#define AUDITOR  ROLE_AUDITOR

/* A route the server must have, with a path that fills its '*' segments. */
typedef struct {
    enum evhttp_cmd_type method;
    const char *path;
    unsigned roles;
    const char *params[SRV_MAX_PARAMS];
} route_vector;

static const route_vector every_route[] = {
    {POST, "/v1/challenge", ROLE_OPEN, {NULL}},
    {POST, "/v1/unlock", ROLE_OPEN, {NULL}},
    {POST, "/v1/enroll", ENROLLER, {NULL}},
    {POST, "/v1/enroll/activate", ENROLLER, {NULL}},
    {GET, "/healthz", ROLE_OPEN, {NULL}},
    {GET, "/readyz", ROLE_OPEN, {NULL}},
    {GET, "/metrics", ROLE_OPEN, {NULL}},
    {GET, "/v1/admin/nodes", ADMIN | AUDITOR, {NULL}},
    {GET, "/v1/admin/nodes/n-1", ADMIN | AUDITOR, {"n-1"}},
    {POST, "/v1/admin/nodes/n-1/approve", ADMIN, {"n-1"}},
    {POST, "/v1/admin/nodes/n_2/revoke", ADMIN, {"n_2"}},
    {DELETE, "/v1/admin/nodes/N.3", ADMIN, {"N.3"}},
    {POST, "/v1/admin/policies", ADMIN, {NULL}},
    {GET, "/v1/admin/policies", ADMIN | AUDITOR, {NULL}},
    {GET, "/v1/admin/policies/web/7", ADMIN | AUDITOR, {"web", "7"}},
    {POST, "/v1/admin/policies/web/7/activate", ADMIN, {"web", "7"}},
    {POST, "/v1/admin/breakglass", ADMIN | APPROVER, {NULL}},
    {GET, "/v1/admin/breakglass", ADMIN | APPROVER | AUDITOR, {NULL}},
    {GET, "/v1/admin/breakglass/g-9", ADMIN | APPROVER | AUDITOR, {"g-9"}},
    {POST, "/v1/admin/breakglass/g-9/approve", APPROVER, {"g-9"}},
    {POST, "/v1/admin/breakglass/g-9/revoke", ADMIN | APPROVER, {"g-9"}},
    {GET, "/v1/admin/audit", ADMIN | AUDITOR, {NULL}},
    {GET, "/v1/admin/audit/verify", ADMIN | AUDITOR, {NULL}},
};

static int find(enum evhttp_cmd_type method, const char *path,
                char params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1], unsigned *roles)
{
    memset(params, 0, SRV_MAX_PARAMS * (PROTO_MAX_ID + 1));
    *roles = 0xdead;
    return srv_route_find(method, path, params, roles);
}

static void test_every_route(void **state)
{
    char params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1];
    int seen[ELEMENTSOF(every_route)];

    for (size_t i = 0; i < ELEMENTSOF(every_route); i++) {
        const route_vector *v = &every_route[i];
        unsigned roles;
        int k = find(v->method, v->path, params, &roles);

        print_message("%s\n", v->path);
        assert_true(k >= 0);
        assert_int_equal(roles, v->roles);
        for (size_t p = 0; p < SRV_MAX_PARAMS && v->params[p]; p++)
            assert_string_equal(params[p], v->params[p]);
        /* a route of its own: no two vectors land on one table entry */
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(seen[j], k);
        seen[i] = k;
    }
    /* ret_roles may be NULL */
    assert_true(srv_route_find(GET, "/healthz", params, NULL) >= 0);
}

typedef struct {
    enum evhttp_cmd_type method;
    const char *path;
    int want; /* -EOPNOTSUPP (405) or -ENOENT (404) */
} miss_vector;

static const miss_vector misses[] = {
    /* the path has routes, the method none: 405 */
    {GET, "/v1/challenge", -EOPNOTSUPP},
    {PUT, "/v1/unlock", -EOPNOTSUPP},
    {GET, "/v1/enroll/activate", -EOPNOTSUPP},
    {POST, "/healthz", -EOPNOTSUPP},
    {DELETE, "/metrics", -EOPNOTSUPP},
    {DELETE, "/v1/admin/policies", -EOPNOTSUPP},
    {PUT, "/v1/admin/nodes/n-1", -EOPNOTSUPP},
    {GET, "/v1/admin/nodes/n-1/approve", -EOPNOTSUPP},
    {DELETE, "/v1/admin/policies/web/7", -EOPNOTSUPP},
    {GET, "/v1/admin/breakglass/g-9/revoke", -EOPNOTSUPP},
    {POST, "/v1/admin/audit/verify", -EOPNOTSUPP},
    /* no route has the path: 404 */
    {GET, "/", -ENOENT},
    {GET, "", -ENOENT},
    {POST, "/v1", -ENOENT},
    {POST, "/v1/", -ENOENT},
    {POST, "/v2/challenge", -ENOENT},
    {POST, "/v1/challenges", -ENOENT},
    {POST, "/v1/challeng", -ENOENT},
    {POST, "/V1/CHALLENGE", -ENOENT},
    {POST, "v1/challenge", -ENOENT},
    {GET, "/v1/admin/nodes/n-1/approve/x", -ENOENT},
    {GET, "/v1/admin/policies/web", -ENOENT},
    {GET, "/v1/admin/policies/web/7/8", -ENOENT},
    /* trailing slash and empty segments are not folded */
    {GET, "/healthz/", -ENOENT},
    {POST, "/v1/challenge/", -ENOENT},
    {GET, "/v1/admin/nodes/", -ENOENT},
    {GET, "//healthz", -ENOENT},
    {POST, "/v1//challenge", -ENOENT},
    {POST, "/v1/admin/nodes//approve", -ENOENT},
    {GET, "/v1/admin/policies//7", -ENOENT},
    /* "." and ".." are never a '*' segment, nor resolved */
    {GET, "/v1/admin/nodes/.", -ENOENT},
    {GET, "/v1/admin/nodes/..", -ENOENT},
    {POST, "/v1/admin/nodes/../approve", -ENOENT},
    {GET, "/v1/admin/policies/../..", -ENOENT},
    {POST, "/v1/admin/../challenge", -ENOENT},
    {GET, "/v1/admin/nodes/../../../healthz", -ENOENT},
    /* percent-encoding is not decoded: '%' is not a segment character, and an
     * encoded literal is not the literal */
    {GET, "/v1/admin/nodes/%2e%2e", -ENOENT},
    {GET, "/v1/admin/nodes/n%2F1", -ENOENT},
    {GET, "/v1/admin/nodes/n%201", -ENOENT},
    {POST, "/v1/%63hallenge", -ENOENT},
    {GET, "/healthz%00", -ENOENT},
    /* the query is split off before matching; left on, it does not match */
    {GET, "/healthz?x=1", -ENOENT},
    {GET, "/v1/admin/nodes/n-1?full=1", -ENOENT},
    /* other characters a '*' segment refuses */
    {GET, "/v1/admin/nodes/a b", -ENOENT},
    {GET, "/v1/admin/nodes/a:b", -ENOENT},
    {GET, "/v1/admin/nodes/a\\b", -ENOENT},
    {GET, "/v1/admin/nodes/\xc3\xa9", -ENOENT},
};

static void test_misses(void **state)
{
    char params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1];

    for (size_t i = 0; i < ELEMENTSOF(misses); i++) {
        unsigned roles;
        print_message("%s\n", misses[i].path);
        assert_int_equal(find(misses[i].method, misses[i].path, params, &roles), misses[i].want);
        assert_int_equal(roles, 0xdead); /* untouched */
    }
}

/* A '*' segment is 1..PROTO_MAX_ID characters: the longest fits its buffer
 * whole, one more is no match (never truncated to a shorter id). */
static void test_segment_length(void **state)
{
    char params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1];
    char path[64 + 2 * PROTO_MAX_ID], id[PROTO_MAX_ID + 2];
    unsigned roles;

    memset(id, 'a', PROTO_MAX_ID);
    id[PROTO_MAX_ID] = '\0';
    snprintf(path, sizeof(path), "/v1/admin/policies/%s/%s/activate", id, id);
    assert_true(find(POST, path, params, &roles) >= 0);
    assert_int_equal(roles, ADMIN);
    assert_int_equal(strlen(params[0]), PROTO_MAX_ID);
    assert_string_equal(params[0], id);
    assert_string_equal(params[1], id);

    id[PROTO_MAX_ID] = 'a';
    id[PROTO_MAX_ID + 1] = '\0';
    snprintf(path, sizeof(path), "/v1/admin/nodes/%s", id);
    assert_int_equal(find(GET, path, params, &roles), -ENOENT);
    snprintf(path, sizeof(path), "/v1/admin/policies/web/%s/activate", id);
    assert_int_equal(find(POST, path, params, &roles), -ENOENT);
    /* one character is enough, and "..." or "a.b" are names, not dot segments */
    assert_true(find(GET, "/v1/admin/nodes/x", params, &roles) >= 0);
    assert_string_equal(params[0], "x");
    assert_true(find(GET, "/v1/admin/nodes/...", params, &roles) >= 0);
    assert_string_equal(params[0], "...");
    assert_true(find(GET, "/v1/admin/policies/a.b/1.0", params, &roles) >= 0);
    assert_string_equal(params[0], "a.b");
    assert_string_equal(params[1], "1.0");
}

/* The literal route wins over nothing: "/v1/admin/audit/verify" is its own
 * route and "/v1/admin/nodes/approve" is a node called "approve". */
static void test_literal_and_star(void **state)
{
    char params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1];
    unsigned roles;
    int show, approve;

    show = find(GET, "/v1/admin/nodes/approve", params, &roles);
    assert_true(show >= 0);
    assert_string_equal(params[0], "approve");
    approve = find(POST, "/v1/admin/nodes/approve/approve", params, &roles);
    assert_true(approve >= 0);
    assert_int_not_equal(show, approve);
    assert_string_equal(params[0], "approve");
    assert_int_equal(roles, ADMIN);
    /* the same path, two methods, two routes with their own roles */
    assert_int_equal(find(DELETE, "/v1/admin/nodes/approve", params, &roles) >= 0, 1);
    assert_int_equal(roles, ADMIN);
    assert_int_not_equal(find(DELETE, "/v1/admin/nodes/approve", params, &roles), show);
    assert_true(find(GET, "/v1/enroll/activate", params, &roles) == -EOPNOTSUPP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_route),
        cmocka_unit_test(test_misses),
        cmocka_unit_test(test_segment_length),
        cmocka_unit_test(test_literal_and_star),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
