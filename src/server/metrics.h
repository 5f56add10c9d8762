/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Prometheus counters, updated lock-free from every worker. */

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "verdict.h"

#define METRICS_MAX_ROUTES 32

void metrics_init(const char *const *route_names, size_t n_routes);
/* route: index into route_names, or n_routes for "unmatched". */
void metrics_request(size_t route, int status, double seconds);
void metrics_release(void);
void metrics_denial(bg_verdict v);
/* A denial before identity whose audit row the rate limit left out. */
void metrics_denial_unaudited(void);
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
void metrics_limit_hit(metrics_limit l);
void metrics_render(struct evbuffer *out);
