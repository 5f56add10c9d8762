/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Bounded connections (DESIGN §6 "bounded everything"): admission by total
 * and per-source counts, deadlines for the headers and the body of each
 * request that hold however slowly the bytes trickle in, and the cap on
 * unlock requests in progress. The state of a connection hangs off its SSL
 * object (ex_data), so it lives exactly as long as the connection. */

#include <stdbool.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "srv.h"

/* Once, before the first connection. 0 or -errno. */
int srv_conn_init(srv *s);
/* The bufferevent evhttp wraps a new connection in (its bevcb): TLS, and
 * the admission check that runs once evhttp gave it its socket. */
struct bufferevent *srv_conn_bev_new(struct event_base *base, srv *s);
/* Before the request goes to the handler: false when it was answered here
 * (503 + Retry-After: an unlock beyond max_concurrent_unlocks). Marks the
 * end of the request's reading (no deadline while the handler runs). */
bool srv_conn_request_admit(struct evhttp_request *req);
/* Open connections now (all sources), for tests and /metrics. */
unsigned srv_conn_count(void);
/* A warning about resources, at most a few a minute of each kind (one kind
 * flooding does not mute the others); the next line that goes out names how
 * many were left out. */
typedef enum srv_conn_warning {
    SRV_WARN_DEADLINE,
    SRV_WARN_LIMIT,
    SRV_WARN_SOURCE,
    SRV_WARN_UNLOCK,
    SRV_WARN_ACCEPT,
    _SRV_WARN_MAX,
} srv_conn_warning;
void srv_conn_warn(srv_conn_warning kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
