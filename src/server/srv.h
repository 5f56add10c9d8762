/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgated's shared state and the request context handed to route handlers. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <json-c/json.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "log.h"
#include "ratelimit.h"
#include "store.h"

/* Roles from the client certificate's subject OU (DESIGN §6). */
enum {
    ROLE_OPEN = 0, /* route needs no client certificate */
    ROLE_ADMIN = 1 << 0,
    ROLE_ENROLLER = 1 << 1,
    ROLE_APPROVER = 1 << 2,
    ROLE_AUDITOR = 1 << 3,
};

typedef struct srv {
    srv_config cfg;
    store *store;
    uint8_t *kek;          /* secmem, KEK_SIZE */
    uint8_t *nonce_secret; /* secmem, NONCE_SECRET_SIZE */
    SSL_CTX *ssl;
    X509_STORE *ek_cas;  /* NULL: no EK certificate is trusted, every node needs approval */
    EVP_PKEY *audit_key; /* NULL: audit heads are not signed */
    unsigned bound_port;
    atomic_bool ready;
    /* audit rows of denials before identity (config denial_audit_*) */
    ratelimit *denial_audit_ip, *denial_audit_all;
    /* admin_forbidden rows: a bucket per source of their own (same sizes) */
    ratelimit *forbidden_audit_ip;
    /* log records of the denials left out of the audit */
    ratelimit *denial_log;
    atomic_ullong denial_log_suppressed;
} srv;

#define SRV_MAX_PARAMS 3

/* Seconds a replica's clock may run ahead of another's before the nonces it
 * issues are refused there (unlock.c): more would widen the freshness window. */
#define SRV_NONCE_CLOCK_SKEW 60

typedef struct srv_req {
    srv *srv;
    struct evhttp_request *req;
    char path[512];
    char query[512];
    char params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1]; /* '*' segments of the route pattern */
    unsigned role;                                 /* 0 when no verified client certificate */
    char actor[192];                               /* "role:CN" or "node:<id>" or "anonymous" */
    char peer[64];
    const char *body; /* NUL-terminated copy of the request body */
    size_t body_size;
    size_t route;
    char node_group[PROTO_MAX_ID + 1]; /* /v1/unlock: the node's group once known (metrics) */
    double start;
    int status;
    /* Server-Timing response header: "phase;dur=ms" entries (srv_timing_mark) */
    char server_timing[320];
    double timing_mark;
} srv_req;

/* Ends a handler phase: appends "phase;dur=<ms since the previous mark or
 * the request start>" to the Server-Timing header of the reply, which then
 * also gets "total;dur=". Phase names only: no values from the request. */
void srv_timing_mark(srv_req *r, const char *phase);

/* Replies (and records metrics). json is consumed (put). */
void srv_reply_json(srv_req *r, int status, json_object *json);
/* {"error": error, "reason": reason} */
void srv_reply_error(srv_req *r, int status, const char *error, const char *reason);

/* denial.c: the buckets of denials before identity (config denial_audit_*). */
int srv_denial_limits_init(srv *s);
void srv_denial_limits_free(srv *s);
/* True when a denial before identity from peer may write an audit row. */
bool srv_denial_audit_allowed(srv *s, const char *peer);
/* The log record of a denial without an audit row, rate-limited; the next
 * record that goes out names how many were left out. */
void srv_denial_log_unaudited(srv *s, const char *node, const char *verdict, const char *detail);
/* An admin route refused to a verified certificate of another role: an
 * admin_forbidden record (method, route pattern, peer) within the per-source
 * buckets, else a rate-limited log line. */
void srv_denial_forbidden(srv_req *r, enum evhttp_cmd_type method, const char *route);

/* Handlers (one file each). */
void srv_handle_challenge(srv_req *r);
void srv_handle_unlock(srv_req *r);
void srv_handle_enroll(srv_req *r);
void srv_handle_enroll_activate(srv_req *r);
void srv_handle_admin_nodes(srv_req *r);
void srv_handle_admin_node_show(srv_req *r);
void srv_handle_admin_node_approve(srv_req *r);
void srv_handle_admin_node_revoke(srv_req *r);
void srv_handle_admin_node_delete(srv_req *r);
void srv_handle_admin_policy_upload(srv_req *r);
void srv_handle_admin_policies(srv_req *r);
void srv_handle_admin_policy_show(srv_req *r);
void srv_handle_admin_policy_activate(srv_req *r);
void srv_handle_admin_audit(srv_req *r);
void srv_handle_admin_node_attempts(srv_req *r);
void srv_handle_admin_attempts(srv_req *r);
void srv_handle_admin_attempt_show(srv_req *r);
void srv_handle_admin_evidence(srv_req *r);
void srv_handle_admin_audit_verify(srv_req *r);
void srv_handle_breakglass_request(srv_req *r);
void srv_handle_breakglass_list(srv_req *r);
void srv_handle_breakglass_show(srv_req *r);
void srv_handle_breakglass_approve(srv_req *r);
void srv_handle_breakglass_revoke(srv_req *r);

/* breakglass.c: an active grant that waives the policy for this attempt
 * (scope any, or observed with exactly these PCRs). 0 and *ret_grant filled,
 * -ENOENT when none. */
int srv_breakglass_find(srv *s, const char *node_id, const pcr_bank *pcrs, store_grant *ret_grant);

/* routes.c: the gencb installed on every worker's evhttp. */
void srv_routes_init(void);
/* routes.c: the route for method and path (the path of the request target: query
 * already split off, not percent-decoded). Returns the route's index (>= 0), its '*'
 * segments in ret_params and its roles (ROLE_OPEN or a mask) in *ret_roles (may be
 * NULL); -EOPNOTSUPP when the path has routes but none for method (405), -ENOENT
 * when no route has the path (404). ret_params may be written also on failure. */
int srv_route_find(enum evhttp_cmd_type method, const char *path,
                   char ret_params[SRV_MAX_PARAMS][PROTO_MAX_ID + 1], unsigned *ret_roles);
void srv_dispatch(struct evhttp_request *req, void *arg);
/* srv_dispatch with the peer's role given (ROLE_* or 0) instead of read from
 * its TLS client certificate: for tests/fuzz/fuzz_http.c, which feeds requests
 * over plain HTTP. bootgated never installs it. */
void srv_dispatch_as_role(struct evhttp_request *req, srv *s, unsigned role);

/* auditsign.c: appends a signed-head record when records arrived since the
 * last one (no-op without audit_key). */
int srv_audit_sign_head(srv *s, bg_err *err);
/* breakglass.c: marks grants past not_after expired, one audit record each. */
int srv_breakglass_expire(srv *s, bg_err *err);

/* http.c */
int srv_tls_init(srv *s, bg_err *err);
/* The request limits of s's config on an evhttp (body, headers, time,
 * methods): every worker's, and tests/fuzz/fuzz_http.c's. */
void srv_http_limits(struct evhttp *http, const srv *s);
/* Binds the listening sockets of the workers (as root, before privdrop: a
 * port below 1024); sets bound_port. srv_http_unlisten closes them when the
 * start fails before srv_http_run, which serves on them until a signal. */
int srv_http_listen(srv *s, bg_err *err);
void srv_http_unlisten(void);
int srv_http_run(srv *s, bg_err *err);
void srv_http_stop(void);
