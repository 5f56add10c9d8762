/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/admin/.../attempts and /v1/admin/evidence: the evidence kept of each
 * unlock attempt whose quote verified (store.h attempts), for `bootgatectl
 * node attempts|explain`, `policy what-if|propose` and `report drift`. Read
 * only; roles admin and auditor (route table). */
#include "srv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "audit.h"
#include "util.h"

#define ATTEMPTS_MAX_LIST 100000

static json_object *attempt_json(const store_attempt *a)
{
    json_object *o = json_object_new_object();
    json_object *ev = json_tokener_parse(a->evaluation ? a->evaluation : "{}");
    json_object_object_add(o, "id", json_object_new_int64(a->id));
    json_object_object_add(o, "node_id", json_object_new_string(a->node_id));
    json_object_object_add(o, "group", json_object_new_string(a->group));
    json_object_object_add(o, "time", json_object_new_int64(a->time));
    json_object_object_add(o, "released", json_object_new_boolean(a->released));
    json_object_object_add(o, "verdict", json_object_new_string(a->verdict));
    json_object_object_add(o, "mode", json_object_new_string(a->mode));
    json_object_object_add(o, "policy", json_object_new_string(a->policy_name));
    json_object_object_add(o, "policy_version", json_object_new_int64(a->policy_version));
    json_object_object_add(o, "audit_verdict", json_object_new_string(a->audit_verdict));
    json_object_object_add(o, "audit_seq", json_object_new_int64(a->audit_seq));
    json_object_object_add(o, "pcrs", json_object_new_string(a->pcrs ? a->pcrs : ""));
    json_object_object_add(o, "eventlog_sha256", json_object_new_string(a->eventlog_sha256));
    json_object_object_add(o, "ima_sha256", json_object_new_string(a->ima_sha256));
    json_object_object_add(o, "evaluation", ev ? ev : json_object_new_object());
    return o;
}

static void reply_attempts(srv_req *r, store_attempt *a, size_t n)
{
    json_object *arr = json_object_new_array(), *o = json_object_new_object();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(arr, attempt_json(&a[i]));
    store_attempts_free(a, n);
    json_object_object_add(o, "attempts", arr);
    srv_reply_json(r, 200, o);
}

static int parse_i64(const char *s, int64_t max, int64_t *ret)
{
    char *end;
    long long v;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* GET /v1/admin/nodes/{id}/attempts?limit=N: newest first */
void srv_handle_admin_node_attempts(srv_req *r)
{
    struct evkeyvalq q = {0};
    const char *v;
    store_attempt *a = NULL;
    size_t n = 0;
    int64_t limit = 0;
    store_node node;
    int r0;

    if (r->query[0] && evhttp_parse_query_str(r->query, &q) < 0)
        return srv_reply_error(r, 400, "bad_request", "bad query string");
    v = evhttp_find_header(&q, "limit");
    r0 = v ? parse_i64(v, ATTEMPTS_MAX_LIST, &limit) : 0;
    evhttp_clear_headers(&q);
    if (r0 < 0)
        return srv_reply_error(r, 400, "bad_request", "limit must be 0..100000");
    r0 = store_node_get(r->srv->store, r->params[0], &node);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "node_unknown", NULL);
    if (r0 < 0 || store_attempt_list(r->srv->store, r->params[0], limit, &a, &n) < 0)
        return srv_reply_audit_error(r, -EIO);
    reply_attempts(r, a, n);
}

/* GET /v1/admin/attempts?group=G&since=UNIX&latest=1&limit=N */
void srv_handle_admin_attempts(srv_req *r)
{
    struct evkeyvalq q = {0};
    const char *group, *since_s, *latest, *limit_s;
    int64_t limit = ATTEMPTS_MAX_LIST;
    char grp[PROTO_MAX_ID + 1] = "";
    store_attempt *a = NULL;
    size_t n = 0;
    int64_t since = 0;
    int r0 = 0;

    if (r->query[0] && evhttp_parse_query_str(r->query, &q) < 0)
        return srv_reply_error(r, 400, "bad_request", "bad query string");
    group = evhttp_find_header(&q, "group");
    since_s = evhttp_find_header(&q, "since");
    latest = evhttp_find_header(&q, "latest");
    limit_s = evhttp_find_header(&q, "limit");
    if (group && strlen(group) >= sizeof(grp))
        r0 = -EINVAL;
    else if (group)
        snprintf(grp, sizeof(grp), "%s", group);
    if (r0 >= 0 && since_s)
        r0 = parse_i64(since_s, INT64_MAX, &since);
    if (r0 >= 0 && latest && strcmp(latest, "1") && strcmp(latest, "0"))
        r0 = -EINVAL;
    if (r0 >= 0 && limit_s && (parse_i64(limit_s, ATTEMPTS_MAX_LIST, &limit) < 0 || limit < 1))
        r0 = -EINVAL;
    bool only_latest = latest && !strcmp(latest, "1");
    evhttp_clear_headers(&q);
    if (r0 < 0)
        return srv_reply_error(r, 400, "bad_request",
                               "group: a group name, since: unix seconds, latest: 0 or 1, "
                               "limit: 1..100000");
    if (only_latest)
        r0 = store_attempt_latest(r->srv->store, grp, since, &a, &n);
    else
        r0 = store_attempt_since(r->srv->store, grp, since, limit, &a, &n);
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    reply_attempts(r, a, n);
}

/* GET /v1/admin/attempts/{id}: the attempt and its logs (base64) */
void srv_handle_admin_attempt_show(srv_req *r)
{
    _cleanup_(store_attempt_done) store_attempt a = {0};
    const char *shas[2], *keys[2] = {"eventlog", "ima"};
    json_object *o;
    int64_t id;
    int r0;

    if (parse_i64(r->params[0], INT64_MAX, &id) < 0)
        return srv_reply_error(r, 400, "bad_request", "attempt id must be a number");
    r0 = store_attempt_get(r->srv->store, id, &a);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "attempt_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    o = attempt_json(&a);
    shas[0] = a.eventlog_sha256;
    shas[1] = a.ima_sha256;
    for (size_t i = 0; i < 2; i++) {
        _cleanup_(freep) uint8_t *log = NULL;
        _cleanup_(freep) char *b64 = NULL;
        size_t size = 0;
        if (shas[i][0] && store_evidence_get(r->srv->store, shas[i], &log, &size) < 0) {
            json_object_put(o);
            return srv_reply_audit_error(r, -EIO);
        }
        b64 = base64_encode_alloc(log ? log : (const uint8_t *)"", size);
        if (!b64) {
            json_object_put(o);
            return srv_reply_error(r, 500, "internal", "out of memory");
        }
        json_object_object_add(o, keys[i], json_object_new_string(b64));
    }
    srv_reply_json(r, 200, o);
}

/* GET /v1/admin/evidence/{sha256}: one stored log (base64) */
void srv_handle_admin_evidence(srv_req *r)
{
    _cleanup_(freep) uint8_t *log = NULL;
    _cleanup_(freep) char *b64 = NULL;
    const char *sha = r->params[0];
    size_t size = 0;
    json_object *o;
    int r0;

    if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)
        return srv_reply_error(r, 400, "bad_request", "a lowercase hex SHA-256 is required");
    r0 = store_evidence_get(r->srv->store, sha, &log, &size);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "evidence_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    b64 = base64_encode_alloc(log, size);
    if (!b64)
        return srv_reply_error(r, 500, "internal", "out of memory");
    o = json_object_new_object();
    json_object_object_add(o, "sha256", json_object_new_string(sha));
    json_object_object_add(o, "data", json_object_new_string(b64));
    srv_reply_json(r, 200, o);
}
