/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The route table (in the manner of tang): method + path pattern + the roles
 * allowed, then one handler that validates first and acts last. */
#include "srv.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "cleanup.h"
#include "metrics.h"
#include "secmem.h"

static void handle_healthz(srv_req *r);
static void handle_readyz(srv_req *r);
static void handle_metrics(srv_req *r);

typedef struct route {
    enum evhttp_cmd_type method;
    const char *pattern; /* '*' = one path segment, captured into params */
    unsigned roles;      /* ROLE_OPEN or a mask of the roles allowed */
    bool needs_body;
    void (*handler)(srv_req *r);
} route;

static const route routes[] = {
    {EVHTTP_REQ_POST, "/v1/challenge", ROLE_OPEN, true, srv_handle_challenge},
    {EVHTTP_REQ_POST, "/v1/unlock", ROLE_OPEN, true, srv_handle_unlock},
    {EVHTTP_REQ_POST, "/v1/enroll", ROLE_ENROLLER, true, srv_handle_enroll},
    {EVHTTP_REQ_POST, "/v1/enroll/activate", ROLE_ENROLLER, true, srv_handle_enroll_activate},
    {EVHTTP_REQ_GET, "/healthz", ROLE_OPEN, false, handle_healthz},
    {EVHTTP_REQ_GET, "/readyz", ROLE_OPEN, false, handle_readyz},
    {EVHTTP_REQ_GET, "/metrics", ROLE_OPEN, false, handle_metrics},
    {EVHTTP_REQ_GET, "/v1/admin/nodes", ROLE_ADMIN | ROLE_AUDITOR, false, srv_handle_admin_nodes},
    {EVHTTP_REQ_GET, "/v1/admin/nodes/*", ROLE_ADMIN | ROLE_AUDITOR, false,
     srv_handle_admin_node_show},
    {EVHTTP_REQ_GET, "/v1/admin/nodes/*/attempts", ROLE_ADMIN | ROLE_AUDITOR, false,
     srv_handle_admin_node_attempts},
    {EVHTTP_REQ_GET, "/v1/admin/attempts", ROLE_ADMIN | ROLE_AUDITOR, false,
     srv_handle_admin_attempts},
    {EVHTTP_REQ_GET, "/v1/admin/attempts/*", ROLE_ADMIN | ROLE_AUDITOR, false,
     srv_handle_admin_attempt_show},
    {EVHTTP_REQ_GET, "/v1/admin/evidence/*", ROLE_ADMIN | ROLE_AUDITOR, false,
     srv_handle_admin_evidence},
    {EVHTTP_REQ_POST, "/v1/admin/nodes/*/approve", ROLE_ADMIN, true, srv_handle_admin_node_approve},
    {EVHTTP_REQ_POST, "/v1/admin/nodes/*/revoke", ROLE_ADMIN, false, srv_handle_admin_node_revoke},
    {EVHTTP_REQ_DELETE, "/v1/admin/nodes/*", ROLE_ADMIN, false, srv_handle_admin_node_delete},
    {EVHTTP_REQ_POST, "/v1/admin/policies", ROLE_ADMIN, true, srv_handle_admin_policy_upload},
    {EVHTTP_REQ_GET, "/v1/admin/policies", ROLE_ADMIN | ROLE_AUDITOR, false,
     srv_handle_admin_policies},
    {EVHTTP_REQ_GET, "/v1/admin/policies/*/*", ROLE_ADMIN | ROLE_AUDITOR, false,
     srv_handle_admin_policy_show},
    {EVHTTP_REQ_POST, "/v1/admin/policies/*/*/activate", ROLE_ADMIN, false,
     srv_handle_admin_policy_activate},
    {EVHTTP_REQ_POST, "/v1/admin/breakglass", ROLE_ADMIN | ROLE_APPROVER, true,
     srv_handle_breakglass_request},
    {EVHTTP_REQ_GET, "/v1/admin/breakglass", ROLE_ADMIN | ROLE_APPROVER | ROLE_AUDITOR, false,
     srv_handle_breakglass_list},
    {EVHTTP_REQ_GET, "/v1/admin/breakglass/*", ROLE_ADMIN | ROLE_APPROVER | ROLE_AUDITOR, false,
     srv_handle_breakglass_show},
    {EVHTTP_REQ_POST, "/v1/admin/breakglass/*/approve", ROLE_APPROVER, true,
     srv_handle_breakglass_approve},
    {EVHTTP_REQ_POST, "/v1/admin/breakglass/*/revoke", ROLE_ADMIN | ROLE_APPROVER, false,
     srv_handle_breakglass_revoke},
    {EVHTTP_REQ_GET, "/v1/admin/audit", ROLE_AUDITOR | ROLE_ADMIN, false, srv_handle_admin_audit},
    {EVHTTP_REQ_GET, "/v1/admin/audit/verify", ROLE_AUDITOR | ROLE_ADMIN, false,
     srv_handle_admin_audit_verify},
};

static const char *route_names[ELEMENTSOF(routes)];
static const char *route_methods[ELEMENTSOF(routes)];

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    default:
        return "OTHER";
    }
}

void srv_routes_init(void)
{
    for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
        route_names[i] = routes[i].pattern;
        route_methods[i] = method_name(routes[i].method);
    }
    metrics_init(route_names, route_methods, ELEMENTSOF(routes));
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool segment_ok(const char *s, size_t n)
{
    if (n == 0 || n > PROTO_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return !(n <= 2 && s[0] == '.'); /* no "." or ".." */
}

/* Matches path against pattern segment by segment; captures '*' segments. */
static bool match(const char *pattern, const char *path,
                  char params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1])
{
    unsigned np = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++, path++;
        size_t pl = strcspn(pattern, "/"), sl = strcspn(path, "/");
        if (pl == 1 && pattern[0] == '*') {
            if (!segment_ok(path, sl) || np >= SRV_MAX_PARAMS)
                return false;
            memcpy(params[np], path, sl);
            params[np][sl] = '\0';
            np++;
        } else if (pl != sl || memcmp(pattern, path, pl) != 0) {
            return false;
        }
        pattern += pl, path += sl;
    }
    return !*pattern && !*path;
}

int srv_route_find(enum evhttp_cmd_type method, const char *path,
                   char ret_params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1], unsigned *ret_roles)
{
    bool path_known = false;

    for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
        if (!match(routes[i].pattern, path, ret_params))
            continue;
        path_known = true;
        if (routes[i].method == method) {
            if (ret_roles)
                *ret_roles = routes[i].roles;
            return (int)i;
        }
    }
    return path_known ? -EOPNOTSUPP : -ENOENT;
}

/* The role of a verified client certificate: subject OU. */
static void peer_role(srv_req *r)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(r->req);
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *cert;
    char ou[64] = "", cn[128] = "";
    X509_NAME *name;

    r->role = 0;
    snprintf(r->actor, sizeof(r->actor), "anonymous");
    if (conn) {
        char *addr = NULL;
        ev_uint16_t port = 0;
        evhttp_connection_get_peer(conn, &addr, &port);
        snprintf(r->peer, sizeof(r->peer), "%s", addr ? addr : "");
    }
    if (!ssl)
        return;
    cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
        return;
    name = X509_get_subject_name(cert);
    X509_NAME_get_text_by_NID(name, NID_organizationalUnitName, ou, sizeof(ou));
    X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn));
    if (!strcmp(ou, "admin"))
        r->role = ROLE_ADMIN;
    else if (!strcmp(ou, "enroller"))
        r->role = ROLE_ENROLLER;
    else if (!strcmp(ou, "approver"))
        r->role = ROLE_APPROVER;
    else if (!strcmp(ou, "auditor"))
        r->role = ROLE_AUDITOR;
    if (r->role)
        snprintf(r->actor, sizeof(r->actor), "%s:%s", ou, cn);
}

void srv_reply_json(srv_req *r, int status, json_object *json)
{
    struct evbuffer *buf = evbuffer_new();
    const char *reason;
    size_t len = 0;
    const char *s =
        json ? json_object_to_json_string_length(json, JSON_C_TO_STRING_PLAIN, &len) : "{}";
    if (!json)
        len = 2;
    if (buf)
        evbuffer_add(buf, s, len);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                      "application/json");
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Cache-Control", "no-store");
    if (r->server_timing[0]) {
        r->timing_mark = r->start;
        srv_timing_mark(r, "total");
        evhttp_add_header(evhttp_request_get_output_headers(r->req), "Server-Timing",
                          r->server_timing);
    }
    switch (status) {
    case 200:
        reason = "OK";
        break;
    case 400:
        reason = "Bad Request";
        break;
    case 401:
        reason = "Unauthorized";
        break;
    case 403:
        reason = "Forbidden";
        break;
    case 404:
        reason = "Not Found";
        break;
    case 409:
        reason = "Conflict";
        break;
    case 413:
        reason = "Payload Too Large";
        break;
    case 503:
        reason = "Service Unavailable";
        break;
    default:
        reason = status >= 500 ? "Server Error" : "Error";
    }
    evhttp_send_reply(r->req, status, reason, buf);
    if (buf)
        evbuffer_free(buf);
    json_object_put(json);
    r->status = status;
}

void srv_timing_mark(srv_req *r, const char *phase)
{
    double now = now_mono(), last = r->timing_mark > 0 ? r->timing_mark : r->start;
    size_t n = strlen(r->server_timing);
    char entry[64];
    int k =
        snprintf(entry, sizeof(entry), "%s%s;dur=%.3f", n ? ", " : "", phase, (now - last) * 1e3);
    /* an entry that does not fit is left out whole: the header stays well formed */
    if (k > 0 && (size_t)k < sizeof(entry) && n + (size_t)k < sizeof(r->server_timing))
        memcpy(r->server_timing + n, entry, (size_t)k + 1);
    r->timing_mark = now;
}

void srv_reply_error(srv_req *r, int status, const char *error, const char *reason)
{
    srv_reply_json(r, status, proto_error_encode(error, reason));
}

static void handle_healthz(srv_req *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("ok"));
    srv_reply_json(r, 200, o);
}

static void handle_readyz(srv_req *r)
{
    bool ok = atomic_load(&r->srv->ready) && store_ping(r->srv->store) == 1;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string(ok ? "ready" : "not ready"));
    srv_reply_json(r, ok ? 200 : 503, o);
}

static void handle_metrics(srv_req *r)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf)
        return srv_reply_error(r, 500, "internal", "out of memory");
    metrics_render(buf);
    evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(r->req, 200, "OK", buf);
    evbuffer_free(buf);
    r->status = 200;
}

/* Copies the request body out of libevent's input buffer and wipes the
 * buffer's chains before they go back to the allocator: enrollment bodies
 * carry volume keys. (Copies that libevent and OpenSSL made on the way in
 * are out of reach; lock_memory keeps them out of swap.) */
static int body_take(struct evbuffer *in, char *out, size_t n)
{
    struct evbuffer_iovec vec[64], *v = vec;
    _cleanup_(freep) struct evbuffer_iovec *heap = NULL;
    int nv = evbuffer_peek(in, (ev_ssize_t)n, NULL, NULL, 0);
    size_t off = 0;

    if (nv < 0)
        return -EIO;
    if ((size_t)nv > ELEMENTSOF(vec)) {
        heap = calloc((size_t)nv, sizeof(*heap));
        if (!heap)
            return -ENOMEM;
        v = heap;
    }
    nv = evbuffer_peek(in, (ev_ssize_t)n, NULL, v, nv);
    for (int i = 0; i < nv && off < n; i++) {
        size_t len = v[i].iov_len < n - off ? v[i].iov_len : n - off;
        memcpy(out + off, v[i].iov_base, len);
        secmem_wipe(v[i].iov_base, len);
        off += len;
    }
    if (off != n || evbuffer_drain(in, n) < 0)
        return -EIO;
    return 0;
}

/* role < 0: the role of the peer's verified TLS certificate; else that role. */
static void dispatch(struct evhttp_request *req, srv *s, int role)
{
    srv_req r = {.srv = s, .req = req, .route = ELEMENTSOF(routes), .start = now_mono()};
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    _cleanup_(freep) char *body = NULL;
    int k;

    if (!path || strlen(path) >= sizeof(r.path) || (query && strlen(query) >= sizeof(r.query))) {
        srv_reply_error(&r, 400, "bad_request", "bad request target");
        goto out;
    }
    snprintf(r.path, sizeof(r.path), "%s", path);
    snprintf(r.query, sizeof(r.query), "%s", query ? query : "");

    k = srv_route_find(method, r.path, r.params, NULL);
    if (k < 0) {
        if (k == -EOPNOTSUPP)
            srv_reply_error(&r, 405, "method_not_allowed", NULL);
        else
            srv_reply_error(&r, 404, "not_found", NULL);
        goto out;
    }
    r.route = (size_t)k;

    peer_role(&r);
    if (role >= 0) {
        r.role = (unsigned)role;
        snprintf(r.actor, sizeof(r.actor), "%s", r.role ? "test:no-tls" : "anonymous");
    }
    if (routes[r.route].roles != ROLE_OPEN) {
        if (!r.role) {
            srv_reply_error(&r, 401, "unauthenticated",
                            "this endpoint needs a client certificate with a role");
            goto out;
        }
        if (!(routes[r.route].roles & r.role)) {
            srv_denial_forbidden(&r, method, routes[r.route].pattern);
            srv_reply_error(&r, 403, "forbidden", "the certificate's role may not do this");
            goto out;
        }
    }

    {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        /* evhttp already enforced max_body; keep an explicit check anyway */
        if (n > r.srv->cfg.max_body) {
            srv_reply_error(&r, 413, "too_large", NULL);
            goto out;
        }
        if (routes[r.route].needs_body && n == 0) {
            srv_reply_error(&r, 400, "bad_request", "empty body");
            goto out;
        }
        body = malloc(n + 1);
        if (!body) {
            srv_reply_error(&r, 500, "internal", "out of memory");
            goto out;
        }
        if (body_take(in, body, n) < 0) {
            srv_reply_error(&r, 400, "bad_request", "cannot read body");
            goto out;
        }
        body[n] = '\0';
        r.body = body;
        r.body_size = n;
    }
    routes[r.route].handler(&r);
out:
    /* enrollment bodies carry volume keys */
    if (body)
        secmem_wipe(body, r.body_size);
    metrics_request(r.route, r.status, now_mono() - r.start);
}

void srv_dispatch(struct evhttp_request *req, void *arg)
{
    dispatch(req, arg, -1);
}

void srv_dispatch_as_role(struct evhttp_request *req, srv *s, unsigned role)
{
    dispatch(req, s, (int)role);
}
