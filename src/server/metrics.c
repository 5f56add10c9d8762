/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "cleanup.h"
#include "policy.h"
#include "proto.h"
#include "store.h"

static const int statuses[] = {200, 400, 401, 403, 404, 405, 409, 413, 429, 500, 501, 503};
#define N_STATUS (ELEMENTSOF(statuses) + 1) /* + "other" */

static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
#define N_BUCKETS ELEMENTSOF(buckets)

/* release modes, as ok.policy_mode names them */
static const char *const modes[] = {"enforce", "audit", "breakglass"};
#define N_MODES ELEMENTSOF(modes)

typedef struct histogram {
    atomic_ullong le[N_BUCKETS + 1]; /* cumulative; [N_BUCKETS] is +Inf = count */
    atomic_ullong us_sum;
} histogram;

static const char *const *routes, *const *methods;
static size_t n_routes;
static atomic_ullong requests[METRICS_MAX_ROUTES + 1][N_STATUS];
static histogram latency;                               /* every request */
static histogram route_latency[METRICS_MAX_ROUTES + 1]; /* by route */
static atomic_ullong denials_unaudited;
static atomic_llong audit_head_seq = -1, audit_signed_seq = -1, audit_signed_time = -1;
static atomic_llong connections;
static atomic_ullong notify_sent[_METRICS_NOTIFY_MAX], notify_failed[_METRICS_NOTIFY_MAX];
static atomic_ullong notify_dropped;
static const char *const notify_hooks[_METRICS_NOTIFY_MAX] = {
    [METRICS_NOTIFY_COMMAND] = "command",
    [METRICS_NOTIFY_WEBHOOK] = "webhook",
};
static atomic_ullong limits[_METRICS_LIMIT_MAX];
static const char *const limit_names[_METRICS_LIMIT_MAX] = {
    [METRICS_LIMIT_HEADER_TIMEOUT] = "header_timeout",
    [METRICS_LIMIT_BODY_TIMEOUT] = "body_timeout",
    [METRICS_LIMIT_MAX_CONNECTIONS] = "max_connections",
    [METRICS_LIMIT_PER_SOURCE] = "max_connections_per_source",
    [METRICS_LIMIT_UNLOCKS_BUSY] = "max_concurrent_unlocks",
    [METRICS_LIMIT_ACCEPT_ERROR] = "accept_error",
};

typedef struct group_counters {
    char name[PROTO_MAX_ID + 1];
    unsigned long long releases[N_MODES];
    unsigned long long denials[_VERDICT_MAX];
    unsigned long long pcrs[PCR_COUNT];
    unsigned long long would_deny[_VERDICT_MAX]; /* audit mode: released, would deny */
    unsigned long long would_deny_pcrs[PCR_COUNT];
} group_counters;

/* [0] is the node not known yet (""), [METRICS_MAX_GROUPS + 1] every group
 * past the cap; a scrape's size and the memory stay bounded whatever the
 * enrolled groups are */
static pthread_mutex_t groups_lock = PTHREAD_MUTEX_INITIALIZER;
static group_counters groups[METRICS_MAX_GROUPS + 2];
static size_t n_groups = 1;
#define OTHER_GROUP (METRICS_MAX_GROUPS + 1)

void metrics_init(const char *const *route_names, const char *const *route_methods, size_t n)
{
    routes = route_names;
    methods = route_methods;
    n_routes = n < METRICS_MAX_ROUTES ? n : METRICS_MAX_ROUTES;
    snprintf(groups[OTHER_GROUP].name, sizeof(groups[OTHER_GROUP].name), "_other");
}

static void observe(histogram *h, double seconds)
{
    for (size_t i = 0; i < N_BUCKETS; i++)
        if (seconds <= buckets[i])
            atomic_fetch_add(&h->le[i], 1);
    atomic_fetch_add(&h->le[N_BUCKETS], 1);
    atomic_fetch_add(&h->us_sum, (unsigned long long)(seconds * 1e6));
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
    observe(&latency, seconds);
    observe(&route_latency[route], seconds);
}

/* The counters of group; the caller holds groups_lock. */
static group_counters *group_get(const char *group)
{
    if (!group || !*group)
        return &groups[0];
    for (size_t i = 1; i < n_groups; i++)
        if (strcmp(groups[i].name, group) == 0)
            return &groups[i];
    if (n_groups > METRICS_MAX_GROUPS || strlen(group) >= sizeof(groups[0].name))
        return &groups[OTHER_GROUP];
    snprintf(groups[n_groups].name, sizeof(groups[n_groups].name), "%s", group);
    return &groups[n_groups++];
}

void metrics_release(const char *group, const char *mode)
{
    size_t m = 0;
    for (size_t i = 0; i < N_MODES; i++)
        if (mode && strcmp(mode, modes[i]) == 0)
            m = i;
    pthread_mutex_lock(&groups_lock);
    group_get(group)->releases[m]++;
    pthread_mutex_unlock(&groups_lock);
}

/* One verdict and its PCRs into a group's counters (denials or audit mode's
 * would-be denials). */
static void count_verdict(bool audit, bg_verdict v, const char *group, uint32_t pcr_mask)
{
    group_counters *g;
    if ((unsigned)v >= _VERDICT_MAX)
        v = VERDICT_INTERNAL;
    pthread_mutex_lock(&groups_lock);
    g = group_get(group);
    (audit ? g->would_deny : g->denials)[v]++;
    for (unsigned p = 0; p < PCR_COUNT && p < 32; p++)
        if (pcr_mask & (1u << p))
            (audit ? g->would_deny_pcrs : g->pcrs)[p]++;
    pthread_mutex_unlock(&groups_lock);
}

void metrics_denial(bg_verdict v, const char *group, uint32_t pcr_mask)
{
    count_verdict(false, v, group, pcr_mask);
}

void metrics_audit_would_deny(bg_verdict v, const char *group, uint32_t pcr_mask)
{
    count_verdict(true, v, group, pcr_mask);
}

void metrics_denial_unaudited(void)
{
    atomic_fetch_add(&denials_unaudited, 1);
}

void metrics_audit_head(int64_t seq)
{
    long long cur = atomic_load(&audit_head_seq);
    /* the highest committed seq: workers commit in any order */
    while (seq > cur && !atomic_compare_exchange_weak(&audit_head_seq, &cur, seq))
        ;
}

void metrics_audit_signed_head(int64_t seq, int64_t unix_time)
{
    atomic_store(&audit_signed_seq, seq);
    atomic_store(&audit_signed_time, unix_time);
}

/* A label value: \, " and newline escaped (text format 0.0.4). */
static void label(struct evbuffer *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            evbuffer_add_printf(out, "\\%c", *v);
        else if (*v == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, v, 1);
    }
}

static void render_histogram(struct evbuffer *out, const char *name, const histogram *h,
                             const char *labels)
{
    const char *sep = *labels ? "," : "";
    for (size_t i = 0; i < N_BUCKETS; i++)
        evbuffer_add_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, buckets[i],
                            atomic_load(&h->le[i]));
    evbuffer_add_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                        atomic_load(&h->le[N_BUCKETS]));
    evbuffer_add_printf(out, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels,
                        *labels ? "}" : "", atomic_load(&h->us_sum) / 1e6);
    evbuffer_add_printf(out, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels,
                        *labels ? "}" : "", atomic_load(&h->le[N_BUCKETS]));
}

static void route_labels(char *buf, size_t size, size_t r)
{
    snprintf(buf, size, "method=\"%s\",route=\"%s\"", r < n_routes ? methods[r] : "",
             r < n_routes ? routes[r] : "unmatched");
}

/* NAME{group="GROUP",KEY="VALUE"} N, when N is not 0 */
static void group_series(struct evbuffer *out, const char *name, const char *group, const char *key,
                         const char *value, unsigned long long n)
{
    if (!n)
        return;
    evbuffer_add_printf(out, "%s{group=\"", name);
    label(out, group);
    evbuffer_add_printf(out, "\",%s=\"%s\"} %llu\n", key, value, n);
}

/* each group's verdicts and PCRs: audit, the would-be denials of audit
 * mode, else the denials */
static void render_verdicts(struct evbuffer *out, const char *name, bool audit)
{
    for (size_t i = 0; i < ELEMENTSOF(groups); i++)
        for (unsigned v = 0; v < _VERDICT_MAX; v++)
            group_series(out, name, groups[i].name, "verdict", verdict_name((bg_verdict)v),
                         audit ? groups[i].would_deny[v] : groups[i].denials[v]);
}

static void render_pcrs(struct evbuffer *out, const char *name, bool audit)
{
    char pcr[8];
    for (size_t i = 0; i < ELEMENTSOF(groups); i++)
        for (unsigned p = 0; p < PCR_COUNT; p++) {
            snprintf(pcr, sizeof(pcr), "%u", p);
            group_series(out, name, groups[i].name, "pcr", pcr,
                         audit ? groups[i].would_deny_pcrs[p] : groups[i].pcrs[p]);
        }
}

static void render_groups(struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP bootgate_releases_total Volume keys released, by the "
                             "node's group and the mode that released them.\n"
                             "# TYPE bootgate_releases_total counter\n");
    for (size_t i = 0; i < ELEMENTSOF(groups); i++)
        for (size_t m = 0; m < N_MODES; m++)
            group_series(out, "bootgate_releases_total", groups[i].name, "mode", modes[m],
                         groups[i].releases[m]);
    evbuffer_add_printf(out, "# HELP bootgate_denials_total Unlock denials, by the node's group "
                             "(empty before the node is known) and verdict.\n"
                             "# TYPE bootgate_denials_total counter\n");
    render_verdicts(out, "bootgate_denials_total", false);
    evbuffer_add_printf(out, "# HELP bootgate_denial_pcrs_total PCRs named by denials (differ "
                             "from the policy, or do not replay), by the node's group.\n"
                             "# TYPE bootgate_denial_pcrs_total counter\n");
    render_pcrs(out, "bootgate_denial_pcrs_total", false);
    evbuffer_add_printf(out, "# HELP bootgate_audit_would_deny_total Releases by a policy in audit "
                             "mode that would have denied, by the node's group and would-be "
                             "verdict.\n"
                             "# TYPE bootgate_audit_would_deny_total counter\n");
    render_verdicts(out, "bootgate_audit_would_deny_total", true);
    evbuffer_add_printf(out, "# HELP bootgate_audit_would_deny_pcrs_total PCRs named by audit-mode "
                             "would-be denials, by the node's group.\n"
                             "# TYPE bootgate_audit_would_deny_pcrs_total counter\n");
    render_pcrs(out, "bootgate_audit_would_deny_pcrs_total", true);
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

void metrics_notify_sent(metrics_notify_hook h)
{
    atomic_fetch_add(&notify_sent[h], 1);
}

void metrics_notify_failure(metrics_notify_hook h)
{
    atomic_fetch_add(&notify_failed[h], 1);
}

void metrics_notify_dropped(void)
{
    atomic_fetch_add(&notify_dropped, 1);
}

static void render_notify(struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP bootgate_notify_sent_total Notifications delivered, by hook.\n"
                             "# TYPE bootgate_notify_sent_total counter\n");
    for (unsigned h = 0; h < _METRICS_NOTIFY_MAX; h++)
        evbuffer_add_printf(out, "bootgate_notify_sent_total{hook=\"%s\"} %llu\n", notify_hooks[h],
                            atomic_load(&notify_sent[h]));
    evbuffer_add_printf(out,
                        "# HELP bootgate_notify_failures_total Notifications not delivered after "
                        "the retry, by hook.\n"
                        "# TYPE bootgate_notify_failures_total counter\n");
    for (unsigned h = 0; h < _METRICS_NOTIFY_MAX; h++)
        evbuffer_add_printf(out, "bootgate_notify_failures_total{hook=\"%s\"} %llu\n",
                            notify_hooks[h], atomic_load(&notify_failed[h]));
    evbuffer_add_printf(out,
                        "# HELP bootgate_notify_dropped_total Notifications dropped (queue full, "
                        "or given up at shutdown).\n"
                        "# TYPE bootgate_notify_dropped_total counter\n"
                        "bootgate_notify_dropped_total %llu\n",
                        atomic_load(&notify_dropped));
}

void metrics_render(struct evbuffer *out)
{
    char labels[256];
    long long seq;

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
            route_labels(labels, sizeof(labels), r);
            evbuffer_add_printf(out, "bootgate_requests_total{%s,status=\"%s\"} %llu\n", labels, st,
                                v);
        }
    pthread_mutex_lock(&groups_lock);
    render_groups(out);
    pthread_mutex_unlock(&groups_lock);
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
    render_notify(out);
    evbuffer_add_printf(out, "# HELP bootgate_request_seconds Request latency, every route.\n"
                             "# TYPE bootgate_request_seconds histogram\n");
    render_histogram(out, "bootgate_request_seconds", &latency, "");
    evbuffer_add_printf(out, "# HELP bootgate_route_request_seconds Request latency by route.\n"
                             "# TYPE bootgate_route_request_seconds histogram\n");
    for (size_t r = 0; r <= n_routes; r++) {
        if (!atomic_load(&route_latency[r].le[N_BUCKETS]))
            continue;
        route_labels(labels, sizeof(labels), r);
        render_histogram(out, "bootgate_route_request_seconds", &route_latency[r], labels);
    }
    evbuffer_add_printf(out,
                        "# HELP bootgate_store_fsyncs_total fsyncs of the store's log made to "
                        "commit (SQLite WAL; concurrent commits share one).\n"
                        "# TYPE bootgate_store_fsyncs_total counter\n"
                        "bootgate_store_fsyncs_total %llu\n",
                        (unsigned long long)store_fsyncs());
    seq = atomic_load(&audit_head_seq);
    if (seq >= 0)
        evbuffer_add_printf(out,
                            "# HELP bootgate_audit_head_seq Seq of the latest audit record "
                            "this server committed.\n"
                            "# TYPE bootgate_audit_head_seq gauge\n"
                            "bootgate_audit_head_seq %lld\n",
                            seq);
    seq = atomic_load(&audit_signed_seq);
    if (seq >= 0)
        evbuffer_add_printf(out,
                            "# HELP bootgate_audit_signed_head_seq Seq of the latest signed "
                            "audit head.\n"
                            "# TYPE bootgate_audit_signed_head_seq gauge\n"
                            "bootgate_audit_signed_head_seq %lld\n"
                            "# HELP bootgate_audit_signed_head_timestamp_seconds When the "
                            "latest signed head was written out.\n"
                            "# TYPE bootgate_audit_signed_head_timestamp_seconds gauge\n"
                            "bootgate_audit_signed_head_timestamp_seconds %lld\n",
                            seq, (long long)atomic_load(&audit_signed_time));
}
