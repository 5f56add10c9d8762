/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "util.h"

/* A record's log entry (journal or syslog), kept until the commit; with the
 * record's details when the record is notified (notify.h). */
typedef struct pending_line {
    int64_t seq;
    char *action, *node, *actor, *detail, *verdict, *policy, *details;
} pending_line;

struct srv_audit_tx {
    srv *srv;
    pending_line *lines;
    size_t n_lines;
    bool failed;
};

store *srv_audit_tx_store(srv_audit_tx *tx)
{
    return tx->srv->store;
}

static void lines_free(srv_audit_tx *tx)
{
    for (size_t i = 0; i < tx->n_lines; i++) {
        free(tx->lines[i].action);
        free(tx->lines[i].node);
        free(tx->lines[i].actor);
        free(tx->lines[i].detail);
        free(tx->lines[i].verdict);
        free(tx->lines[i].policy);
        free(tx->lines[i].details);
    }
    free(tx->lines);
    tx->lines = NULL;
    tx->n_lines = 0;
}

static int keep_line(srv_audit_tx *tx, const srv_audit_rec *rec, const char *line, const char *det,
                     int64_t seq)
{
    pending_line *l, *a = reallocarray(tx->lines, tx->n_lines + 1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    tx->lines = a;
    l = &a[tx->n_lines];
    *l = (pending_line){
        .seq = seq,
        .action = strdup(rec->action),
        .node = strdup(rec->node ? rec->node : ""),
        .actor = strdup(rec->actor),
        .detail = strdup(line),
        .details = notify_wanted(rec->action) ? strdup(det ? det : "{}") : NULL,
        .verdict = rec->verdict ? strdup(rec->verdict) : NULL,
        .policy = rec->policy ? strdup(rec->policy) : NULL,
    };
    tx->n_lines++;
    if (!l->action || !l->node || !l->actor || !l->detail || (rec->verdict && !l->verdict) ||
        (rec->policy && !l->policy))
        return -ENOMEM;
    return 0;
}

int srv_audit_tx_append(srv_audit_tx *tx, const srv_audit_rec *rec, int64_t *ret_seq)
{
    int64_t seq = 0;
    const char *det;
    int r;
    if (tx->failed)
        return SRV_AUDIT_FAILED;
    /* the details as stored and hashed (json-c's plain form), serialized once
     * for the record and its log line */
    det = rec->details ? json_object_to_json_string_ext(
                             rec->details, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                       : NULL;
    r = store_audit_append(tx->srv->store, rec->actor, rec->action, rec->node, det, &seq);
    if (r >= 0)
        r = keep_line(tx, rec, rec->summary ? rec->summary : det ? det : "", det, seq);
    if (r < 0) {
        tx->failed = true;
        return SRV_AUDIT_FAILED;
    }
    if (ret_seq)
        *ret_seq = seq;
    return 0;
}

int srv_audited(srv *s, const srv_audit_rec *rec, srv_audit_change_fn change, void *arg,
                int64_t *ret_seq)
{
    srv_audit_tx tx = {.srv = s};
    int r, changed = 0;

    r = store_begin(s->store);
    if (r < 0)
        return SRV_AUDIT_FAILED;
    if (change)
        changed = r = change(&tx, arg);
    if (tx.failed)
        r = SRV_AUDIT_FAILED;
    if (r >= 0 && rec && rec->action)
        r = srv_audit_tx_append(&tx, rec, NULL);
    r = store_end(s->store, r);
    if (r < 0) {
        lines_free(&tx);
        /* the change's own refusal, or the audit that failed */
        return tx.failed || changed >= 0 ? SRV_AUDIT_FAILED : r;
    }
    for (size_t i = 0; i < tx.n_lines; i++) {
        const pending_line *l = &tx.lines[i];
        srv_log_audit(LOG_INFO,
                      &(srv_log_fields){.action = l->action,
                                        .node = l->node,
                                        .actor = l->actor,
                                        .seq = l->seq,
                                        .verdict = l->verdict,
                                        .policy = l->policy},
                      l->detail);
        /* a notification is of what happened: after the commit, never before;
         * one that cannot be copied is dropped, not the change */
        if (l->details)
            notify_audited(l->action, l->seq, l->actor, l->node, l->details);
        else if (notify_wanted(l->action))
            metrics_notify_dropped();
    }
    if (tx.n_lines > 0)
        metrics_audit_head(tx.lines[tx.n_lines - 1].seq);
    if (ret_seq && tx.n_lines > 0)
        *ret_seq = tx.lines[tx.n_lines - 1].seq;
    lines_free(&tx);
    return changed;
}

/* The same reason is logged once a second at most: a store that fails under
 * a flood of requests must not fill the disk through the log. A new reason
 * is logged at once. */
static void log_store_error(int r)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char last[192];
    static int64_t last_s = -1;
    static unsigned left_out;
    const char *why = *store_last_error() ? store_last_error() : "no reason given";
    struct timespec ts;
    unsigned n;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    pthread_mutex_lock(&lock);
    if ((int64_t)ts.tv_sec == last_s && !strcmp(last, why)) {
        left_out++;
        pthread_mutex_unlock(&lock);
        return;
    }
    last_s = (int64_t)ts.tv_sec;
    snprintf(last, sizeof(last), "%s", why);
    n = left_out;
    left_out = 0;
    pthread_mutex_unlock(&lock);
    srv_log(LOG_ERR, &(srv_log_fields){.action = "store_error", .seq = -1},
            "store unavailable%s: %s (%u similar left out of the log before)",
            r == SRV_AUDIT_FAILED ? " (audit record)" : "", why, n);
}

void srv_reply_audit_error(srv_req *req, int r)
{
    log_store_error(r);
    srv_reply_error(req, 503, "unavailable",
                    r == SRV_AUDIT_FAILED ? "audit record not committed; nothing was changed"
                                          : "store error");
}
