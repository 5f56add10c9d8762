/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Prometheus metrics (text format 0.0.4, `promtool check metrics` clean):
 * request counters and latency histograms by route, releases and denials by
 * the node's group, verdict and PCR, audit-mode would-be denials the same way,
 * break-glass uses, and the audit log's
 * head. Request counters are lock-free; the per-group table takes a mutex
 * once per unlock outcome. */

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "verdict.h"

#define METRICS_MAX_ROUTES 32
/* groups with counters of their own; the rest are counted as group="_other" */
#define METRICS_MAX_GROUPS 64

/* names[i] and methods[i] ("GET", "POST", ...) label route i */
void metrics_init(const char *const *route_names, const char *const *route_methods,
                  size_t n_routes);
/* route: index into route_names, or n_routes for "unmatched". */
void metrics_request(size_t route, int status, double seconds);
/* A released key: the node's group and the mode (enforce, audit, breakglass). */
void metrics_release(const char *group, const char *mode);
/* A denial: the node's group ("" before the node is known), the verdict and
 * the PCRs that differ or do not replay (bit n = PCR n). */
void metrics_denial(bg_verdict v, const char *group, uint32_t pcr_mask);
/* An audit-mode release the policy would have denied (DESIGN §3, "audit"):
 * the node's group, the would-be verdict and the PCRs its explanation names. */
void metrics_audit_would_deny(bg_verdict v, const char *group, uint32_t pcr_mask);
/* A denial before identity whose audit row the rate limit left out. */
void metrics_denial_unaudited(void);
/* The latest committed audit record, and the latest signed head (its seq and
 * the time it was written out). */
void metrics_audit_head(int64_t seq);
void metrics_audit_signed_head(int64_t seq, int64_t unix_time);
/* Connections (conn.c): open now, and those closed or answered by a limit. */
typedef enum metrics_limit {
    METRICS_LIMIT_HEADER_TIMEOUT,
    METRICS_LIMIT_BODY_TIMEOUT,
    METRICS_LIMIT_MAX_CONNECTIONS,
    METRICS_LIMIT_PER_SOURCE,
    METRICS_LIMIT_UNLOCKS_BUSY, /* 503 */
    METRICS_LIMIT_ACCEPT_ERROR, /* accept paused (out of descriptors) */
    _METRICS_LIMIT_MAX,
} metrics_limit;
void metrics_connection(int delta);
/* Notifications (notify.c): delivered and failed (after the retry) by hook,
 * and events dropped (queue full, or given up at shutdown). */
typedef enum metrics_notify_hook {
    METRICS_NOTIFY_COMMAND,
    METRICS_NOTIFY_WEBHOOK,
    _METRICS_NOTIFY_MAX,
} metrics_notify_hook;
void metrics_notify_sent(metrics_notify_hook h);
void metrics_notify_failure(metrics_notify_hook h);
void metrics_notify_dropped(void);
void metrics_limit_hit(metrics_limit l);
void metrics_render(struct evbuffer *out);
