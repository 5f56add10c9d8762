/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bounds on what unauthenticated callers can make bootgated write. A denial
 * before the quote signature verifies (bad nonce, unknown node, AK mismatch,
 * bad signature) costs the caller one HTTP request and the server one
 * fsync'd audit row: the rows go through a token bucket per source IP and
 * one for all sources, the rest is counted in /metrics and logged to syslog
 * at a bounded rate. */
#include "srv.h"
#include "log.h"

#include <errno.h>
#include <syslog.h>
#include <time.h>

#include "audit.h"
#include "metrics.h"

#define DENIAL_IP_SLOTS       4096u
#define DENIAL_LOG_BURST      20u
#define DENIAL_LOG_PER_MINUTE 60u

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int srv_denial_limits_init(srv *s)
{
    const srv_config *c = &s->cfg;
    s->denial_audit_ip =
        ratelimit_new(c->denial_audit_burst, c->denial_audit_per_minute, DENIAL_IP_SLOTS);
    s->denial_audit_all =
        ratelimit_new(c->denial_audit_global_per_minute, c->denial_audit_global_per_minute, 0);
    s->denial_log = ratelimit_new(DENIAL_LOG_BURST, DENIAL_LOG_PER_MINUTE, 0);
    s->forbidden_audit_ip =
        ratelimit_new(c->denial_audit_burst, c->denial_audit_per_minute, DENIAL_IP_SLOTS);
    if (!s->denial_audit_ip || !s->denial_audit_all || !s->denial_log || !s->forbidden_audit_ip) {
        srv_denial_limits_free(s);
        return -ENOMEM;
    }
    return 0;
}

void srv_denial_limits_free(srv *s)
{
    ratelimit_free(s->denial_audit_ip);
    ratelimit_free(s->denial_audit_all);
    ratelimit_free(s->denial_log);
    ratelimit_free(s->forbidden_audit_ip);
    s->denial_audit_ip = s->denial_audit_all = s->denial_log = s->forbidden_audit_ip = NULL;
}

bool srv_denial_audit_allowed(srv *s, const char *peer)
{
    double now = now_mono();
    /* the per-source bucket first: one noisy source must not drain the
     * global bucket for everyone else */
    if (!ratelimit_take(s->denial_audit_ip, peer, now))
        return false;
    return ratelimit_take(s->denial_audit_all, NULL, now);
}

void srv_denial_log_unaudited(srv *s, const char *node, const char *verdict, const char *detail)
{
    unsigned long long left_out;
    char n[PROTO_MAX_ID + 1];
    srv_log_fields f = {
        .action = "unlock_denied", .node = node, .seq = -1, .verdict = verdict, .unaudited = true};

    metrics_denial_unaudited();
    if (!ratelimit_take(s->denial_log, NULL, now_mono())) {
        atomic_fetch_add(&s->denial_log_suppressed, 1);
        return;
    }
    left_out = atomic_exchange(&s->denial_log_suppressed, 0);
    srv_log_field(n, sizeof(n), node);
    srv_log(LOG_NOTICE, &f,
            "BOOTGATE_ACTION=unlock_denied BOOTGATE_NODE=%s BOOTGATE_AUDIT_SEQ=-1 "
            "BOOTGATE_UNAUDITED=1 BOOTGATE_LOG_SUPPRESSED=%llu %s",
            n, left_out, detail);
}

void srv_denial_forbidden(srv_req *r, enum evhttp_cmd_type cmd, const char *route)
{
    const char *method = cmd == EVHTTP_REQ_GET      ? "GET"
                         : cmd == EVHTTP_REQ_POST   ? "POST"
                         : cmd == EVHTTP_REQ_DELETE ? "DELETE"
                                                    : "other";
    json_object *det;
    char a[192];

    /* a certificate of our CA asked for what its role may not do: worth a
     * record, within per-source bounds of the unlock denials' sizes */
    double now = now_mono();
    if (!ratelimit_take(r->srv->forbidden_audit_ip, r->peer, now) ||
        !ratelimit_take(r->srv->denial_audit_all, NULL, now)) {
        metrics_denial_unaudited();
        if (!ratelimit_take(r->srv->denial_log, NULL, now)) {
            atomic_fetch_add(&r->srv->denial_log_suppressed, 1);
            return;
        }
        srv_log_field(a, sizeof(a), r->actor);
        srv_log(LOG_NOTICE,
                &(srv_log_fields){
                    .action = "admin_forbidden", .actor = r->actor, .seq = -1, .unaudited = true},
                "BOOTGATE_ACTION=admin_forbidden BOOTGATE_ACTOR=%s BOOTGATE_AUDIT_SEQ=-1 "
                "BOOTGATE_UNAUDITED=1 BOOTGATE_LOG_SUPPRESSED=%llu %s %s",
                a, atomic_exchange(&r->srv->denial_log_suppressed, 0), method, route);
        return;
    }
    det = json_object_new_object();
    json_object_object_add(det, "method", json_object_new_string(method));
    json_object_object_add(det, "route", json_object_new_string(route));
    json_object_object_add(det, "peer", json_object_new_string(r->peer));
    /* nothing changes either way: a record that cannot be committed is
     * only missing from the log (the 403 stands) */
    (void)srv_audited(
        r->srv, &(srv_audit_rec){.actor = r->actor, .action = "admin_forbidden", .details = det},
        NULL, NULL, NULL);
    json_object_put(det);
}
