/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "metrics.h"

#include <stdatomic.h>
#include <string.h>

#include "cleanup.h"

static const int statuses[] = {200, 400, 401, 403, 404, 405, 409, 413, 429, 500, 501, 503};
#define N_STATUS (ELEMENTSOF(statuses) + 1) /* + "other" */

static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BUCKETS ELEMENTSOF(buckets)

static const char *const *routes;
static size_t n_routes;
static atomic_ullong requests[METRICS_MAX_ROUTES + 1][N_STATUS];
static atomic_ullong latency[N_BUCKETS + 1];
static atomic_ullong latency_us_sum;
static atomic_ullong releases;
static atomic_ullong denials_unaudited;
static atomic_ullong denials[_VERDICT_MAX];
static atomic_llong connections;
static atomic_ullong limits[_METRICS_LIMIT_MAX];
static const char *const limit_names[_METRICS_LIMIT_MAX] = {
    [METRICS_LIMIT_HEADER_TIMEOUT] = "header_timeout",
    [METRICS_LIMIT_BODY_TIMEOUT] = "body_timeout",
    [METRICS_LIMIT_MAX_CONNECTIONS] = "max_connections",
    [METRICS_LIMIT_PER_SOURCE] = "max_connections_per_source",
    [METRICS_LIMIT_UNLOCKS_BUSY] = "max_concurrent_unlocks",
    [METRICS_LIMIT_ACCEPT_ERROR] = "accept_error",
};

void metrics_init(const char *const *route_names, size_t n)
{
    routes = route_names;
    n_routes = n < METRICS_MAX_ROUTES ? n : METRICS_MAX_ROUTES;
}

void metrics_request(size_t route, int status, double seconds)
{
    size_t s = ELEMENTSOF(statuses);
    if (route > n_routes)
        route = n_routes;
    for (size_t i = 0; i < ELEMENTSOF(statuses); i++)
        if (statuses[i] == status)
            s = i;
    atomic_fetch_add(&requests[route][s], 1);
    for (size_t i = 0; i < N_BUCKETS; i++)
        if (seconds <= buckets[i])
            atomic_fetch_add(&latency[i], 1);
    atomic_fetch_add(&latency[N_BUCKETS], 1);
    atomic_fetch_add(&latency_us_sum, (unsigned long long)(seconds * 1e6));
}

void metrics_release(void)
{
    atomic_fetch_add(&releases, 1);
}

void metrics_denial(bg_verdict v)
{
    if ((unsigned)v >= _VERDICT_MAX)
        v = VERDICT_INTERNAL;
    atomic_fetch_add(&denials[v], 1);
}

void metrics_denial_unaudited(void)
{
    atomic_fetch_add(&denials_unaudited, 1);
}

void metrics_connection(int delta)
{
    atomic_fetch_add(&connections, delta);
}

void metrics_limit_hit(metrics_limit l)
{
    if ((unsigned)l < _METRICS_LIMIT_MAX)
        atomic_fetch_add(&limits[l], 1);
}

void metrics_render(struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP bootgate_requests_total HTTP requests by route and status.\n"
                             "# TYPE bootgate_requests_total counter\n");
    for (size_t r = 0; r <= n_routes; r++)
        for (size_t s = 0; s < N_STATUS; s++) {
            unsigned long long v = atomic_load(&requests[r][s]);
            char st[8];
            if (!v)
                continue;
            if (s < ELEMENTSOF(statuses))
                snprintf(st, sizeof(st), "%d", statuses[s]);
            else
                snprintf(st, sizeof(st), "other");
            evbuffer_add_printf(out, "bootgate_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                                r < n_routes ? routes[r] : "unmatched", st, v);
        }
    evbuffer_add_printf(out,
                        "# HELP bootgate_releases_total Volume keys released.\n"
                        "# TYPE bootgate_releases_total counter\n"
                        "bootgate_releases_total %llu\n",
                        atomic_load(&releases));
    evbuffer_add_printf(out, "# HELP bootgate_denials_total Unlock denials by verdict.\n"
                             "# TYPE bootgate_denials_total counter\n");
    for (unsigned v = 0; v < _VERDICT_MAX; v++) {
        unsigned long long c = atomic_load(&denials[v]);
        if (c)
            evbuffer_add_printf(out, "bootgate_denials_total{reason=\"%s\"} %llu\n",
                                verdict_name((bg_verdict)v), c);
    }
    evbuffer_add_printf(
        out,
        "# HELP bootgate_denials_unaudited_total Denials before identity without an "
        "audit row (rate limit).\n"
        "# TYPE bootgate_denials_unaudited_total counter\n"
        "bootgate_denials_unaudited_total %llu\n",
        atomic_load(&denials_unaudited));
    evbuffer_add_printf(out,
                        "# HELP bootgate_connections Connections open (admitted).\n"
                        "# TYPE bootgate_connections gauge\n"
                        "bootgate_connections %lld\n"
                        "# HELP bootgate_limit_hits_total Connections closed or requests "
                        "answered by a resource limit.\n"
                        "# TYPE bootgate_limit_hits_total counter\n",
                        atomic_load(&connections));
    for (unsigned l = 0; l < _METRICS_LIMIT_MAX; l++)
        evbuffer_add_printf(out, "bootgate_limit_hits_total{limit=\"%s\"} %llu\n", limit_names[l],
                            atomic_load(&limits[l]));
    evbuffer_add_printf(out, "# HELP bootgate_request_seconds Request latency.\n"
                             "# TYPE bootgate_request_seconds histogram\n");
    for (size_t i = 0; i < N_BUCKETS; i++)
        evbuffer_add_printf(out, "bootgate_request_seconds_bucket{le=\"%g\"} %llu\n", buckets[i],
                            atomic_load(&latency[i]));
    evbuffer_add_printf(out,
                        "bootgate_request_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "bootgate_request_seconds_sum %.6f\n"
                        "bootgate_request_seconds_count %llu\n",
                        atomic_load(&latency[N_BUCKETS]), atomic_load(&latency_us_sum) / 1e6,
                        atomic_load(&latency[N_BUCKETS]));
}
