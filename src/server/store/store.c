/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The store's front (store.h): the backend named by the URL, every call
 * dispatched to its table (backend.h), and what is the same for every
 * backend: names of states, freeing, the audit chain's verification. */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "backend.h"
#include "cleanup.h"
#include "schema.h"

static const store_backend *const backends[] = {&store_backend_sqlite, &store_backend_postgres};

static _Thread_local char last_error[192];
static _Atomic uint64_t fsyncs;

void store_group_init(store_group *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->done, NULL);
    g->durable = 0;
    g->syncing = false;
}

void store_group_destroy(store_group *g)
{
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->done);
}

int store_group_wait(store_group *g, uint64_t seq, int (*sync)(void *arg, uint64_t *ret_upto),
                     void *arg)
{
    int r = 0;
    pthread_mutex_lock(&g->lock);
    while (g->durable < seq) {
        uint64_t upto = 0;
        if (g->syncing) {
            pthread_cond_wait(&g->done, &g->lock);
            continue;
        }
        g->syncing = true;
        pthread_mutex_unlock(&g->lock);
        r = sync(arg, &upto);
        if (r >= 0)
            fsyncs++;
        pthread_mutex_lock(&g->lock);
        g->syncing = false;
        if (r >= 0 && upto > g->durable)
            g->durable = upto;
        pthread_cond_broadcast(&g->done);
        if (r < 0)
            break;
    }
    pthread_mutex_unlock(&g->lock);
    return r < 0 ? -EIO : 0;
}

uint64_t store_fsyncs(void)
{
    return fsyncs;
}

void store_error_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

const char *store_last_error(void)
{
    return last_error;
}

/* The backend and the location a URL names; a bare path is a SQLite file. */
static int resolve(const char *url, const store_backend **ret_be, const char **ret_location,
                   bg_err *err)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!url || !*url)
        return bg_err_set(err, -EINVAL, "store: empty URL");
    if (!sep) {
        *ret_be = &store_backend_sqlite;
        *ret_location = url;
        return 0;
    }
    for (size_t i = 0; i < ELEMENTSOF(backends); i++)
        if (strlen(backends[i]->scheme) == (size_t)(sep - url) &&
            !strncmp(url, backends[i]->scheme, (size_t)(sep - url))) {
            *ret_be = backends[i];
            *ret_location = sep + 3;
            return 0;
        }
    return bg_err_set(err, -EPROTONOSUPPORT,
                      "store: unsupported backend '%.*s' (this build has: sqlite, postgresql)",
                      (int)(sep - url) > 32 ? 32 : (int)(sep - url), url);
}

static int open_url(const char *url, store_open_mode mode, store **ret, bg_err *err)
{
    const store_backend *be = NULL;
    const char *location = NULL;
    int r = resolve(url, &be, &location, err);
    if (r < 0)
        return r;
    if (!*location)
        return bg_err_set(err, -EINVAL, "store: %s has no location", url);
    return be->open(location, mode, ret, err);
}

int store_open(const char *url, store **ret, bg_err *err)
{
    return open_url(url, STORE_OPEN_MIGRATE, ret, err);
}

int store_open_readonly(const char *url, store **ret, bg_err *err)
{
    return open_url(url, STORE_OPEN_READONLY, ret, err);
}

int store_open_connect(const char *url, store **ret, bg_err *err)
{
    return open_url(url, STORE_OPEN_CONNECT, ret, err);
}

int store_schema_version(store *s, int64_t *ret_version)
{
    return s->be->schema_version(s, ret_version);
}

int64_t store_schema_latest_version(void)
{
    return (int64_t)store_schema_latest;
}

int store_migrate(store *s, bg_err *err)
{
    return s->be->migrate(s, err);
}

const char *store_backend_name(const store *s)
{
    return s->be->scheme;
}

void store_close(store *s)
{
    if (s)
        s->be->close(s);
}

int store_ping(store *s)
{
    return s->be->ping(s);
}

int store_begin(store *s)
{
    return s->be->begin(s);
}

int store_commit(store *s)
{
    return s->be->commit(s);
}

void store_rollback(store *s)
{
    s->be->rollback(s);
}

int store_node_put(store *s, const store_node *n)
{
    return s->be->node_put(s, n);
}

int store_node_get(store *s, const char *id, store_node *ret)
{
    return s->be->node_get(s, id, ret);
}

int store_node_set_state(store *s, const char *id, store_node_state state)
{
    return s->be->node_set_state(s, id, state);
}

int store_node_delete(store *s, const char *id)
{
    return s->be->node_delete(s, id);
}

int store_node_list(store *s, store_node_summary **ret, size_t *ret_n)
{
    return s->be->node_list(s, ret, ret_n);
}

int store_volume_put(store *s, const char *node_id, const char *uuid, const uint8_t *wrapped,
                     size_t wrapped_size)
{
    return s->be->volume_put(s, node_id, uuid, wrapped, wrapped_size);
}

int store_volume_get(store *s, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                     size_t *ret_size)
{
    return s->be->volume_get(s, node_id, uuid, ret_wrapped, ret_size);
}

int store_volume_count(store *s, const char *node_id)
{
    return s->be->volume_count(s, node_id);
}

int store_nonce_use(store *s, const uint8_t *nonce, size_t size, int64_t expires, int64_t now)
{
    return s->be->nonce_use(s, nonce, size, expires, now);
}

int store_policy_put(store *s, const store_policy *p)
{
    return s->be->policy_put(s, p);
}

int store_policy_get(store *s, const char *name, int64_t version, store_policy *ret)
{
    return s->be->policy_get(s, name, version, ret);
}

int store_policy_get_active(store *s, const char *name, store_policy *ret)
{
    return s->be->policy_get_active(s, name, ret);
}

int store_policy_activate(store *s, const char *name, int64_t version)
{
    return s->be->policy_activate(s, name, version);
}

int store_policy_list(store *s, store_policy **ret, size_t *ret_n)
{
    return s->be->policy_list(s, ret, ret_n);
}

int store_denial_find(store *s, const char *code, char *ret_node, size_t node_size,
                      pcr_bank *ret_observed, bool *ret_has_observed)
{
    return s->be->denial_find(s, code, ret_node, node_size, ret_observed, ret_has_observed);
}

int store_grant_put(store *s, const store_grant *g)
{
    return s->be->grant_put(s, g);
}

int store_grant_get(store *s, const char *id, store_grant *ret)
{
    return s->be->grant_get(s, id, ret);
}

int store_grant_approve(store *s, const char *id, const char *approver, const char *sig_b64)
{
    return s->be->grant_approve(s, id, approver, sig_b64);
}

int store_grant_set_state(store *s, const char *id, store_grant_state state)
{
    return s->be->grant_set_state(s, id, state);
}

int store_grant_list_usable(store *s, const char *node_id, int64_t now, store_grant **ret,
                            size_t *ret_n)
{
    return s->be->grant_list_usable(s, node_id, now, ret, ret_n);
}

int store_grant_use(store *s, const char *id)
{
    return s->be->grant_use(s, id);
}

int store_grant_list(store *s, store_grant **ret, size_t *ret_n)
{
    return s->be->grant_list(s, ret, ret_n);
}

int store_grant_expire(store *s, int64_t now, store_grant **ret, size_t *ret_n)
{
    return s->be->grant_expire(s, now, ret, ret_n);
}

/* ---- attempts ---- */

/* The stored form of a log: its digest, and its compressed bytes unless a
 * blob of that digest is stored already (then data stays NULL). */
static int blob_prepare(store *s, const uint8_t *raw, size_t raw_size, store_blob *b,
                        uint8_t **ret_buf)
{
    uint8_t md[32];
    unsigned mdlen = 0;
    uLongf n;
    int r;

    if (EVP_Digest(raw, raw_size, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
        return -EIO;
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(b->sha256 + 2 * i, 3, "%02x", md[i]);
    b->raw_size = raw_size;
    r = s->be->evidence_has(s, b->sha256);
    if (r != 0)
        return r < 0 ? r : 0;
    n = compressBound((uLong)raw_size);
    *ret_buf = malloc(n);
    if (!*ret_buf)
        return -ENOMEM;
    if (compress2(*ret_buf, &n, raw, (uLong)raw_size, Z_BEST_SPEED) != Z_OK)
        return -EIO;
    b->data = *ret_buf;
    b->size = n;
    return 1;
}

int store_attempt_put(store *s, store_attempt *a, const uint8_t *eventlog, size_t eventlog_size,
                      const uint8_t *ima, size_t ima_size, const store_retention *keep)
{
    store_blob blobs[2] = {0};
    uint8_t *bufs[2] = {NULL, NULL};
    const uint8_t *raw[2] = {eventlog, ima};
    size_t sizes[2] = {eventlog_size, ima_size};
    char *names[2] = {a->eventlog_sha256, a->ima_sha256};
    size_t n = 0;
    int r = 0;

    for (size_t i = 0; i < 2 && r >= 0; i++) {
        names[i][0] = 0;
        if (!sizes[i])
            continue;
        r = blob_prepare(s, raw[i], sizes[i], &blobs[n], &bufs[i]);
        if (r >= 0) {
            memcpy(names[i], blobs[n].sha256, sizeof(blobs[n].sha256));
            /* the second log may be the first one's content: stored once */
            if (r > 0 && !(n == 1 && !strcmp(blobs[0].sha256, blobs[1].sha256)))
                n++;
            else
                memset(&blobs[n], 0, sizeof(blobs[n]));
        }
    }
    if (r >= 0)
        r = s->be->attempt_put(s, a, blobs, n, keep);
    free(bufs[0]);
    free(bufs[1]);
    return r;
}

int store_attempt_get(store *s, int64_t id, store_attempt *ret)
{
    return s->be->attempt_get(s, id, ret);
}

int store_attempt_list(store *s, const char *node_id, int64_t limit, store_attempt **ret,
                       size_t *ret_n)
{
    return s->be->attempt_list(s, node_id, limit, ret, ret_n);
}

int store_attempt_latest(store *s, const char *group, int64_t since, store_attempt **ret,
                         size_t *ret_n)
{
    return s->be->attempt_latest(s, group && *group ? group : NULL, since, ret, ret_n);
}

int store_attempt_since(store *s, const char *group, int64_t since, int64_t limit,
                        store_attempt **ret, size_t *ret_n)
{
    return s->be->attempt_since(s, group && *group ? group : NULL, since, limit, ret, ret_n);
}

int store_evidence_get(store *s, const char *sha256_hex, uint8_t **ret, size_t *ret_size)
{
    _cleanup_(freep) uint8_t *z = NULL;
    size_t zsize = 0;
    int64_t raw = 0;
    uLongf n;
    uint8_t *out;
    int r = s->be->evidence_get(s, sha256_hex, &z, &zsize, &raw);
    if (r < 0)
        return r;
    if (raw < 0 || raw > (int64_t)64 * 1024 * 1024)
        return -EBADMSG;
    out = malloc(raw ? (size_t)raw : 1);
    if (!out)
        return -ENOMEM;
    n = (uLongf)raw;
    if (uncompress(out, &n, z, (uLong)zsize) != Z_OK || n != (uLongf)raw) {
        free(out);
        store_error_set("evidence blob %.16s does not decompress", sha256_hex);
        return -EBADMSG;
    }
    *ret = out;
    *ret_size = (size_t)raw;
    return 0;
}

int store_attempt_stats_get(store *s, store_attempt_stats *ret)
{
    return s->be->attempt_stats(s, ret);
}

int store_evidence_sweep(store *s)
{
    return s->be->evidence_sweep(s);
}

void store_attempt_done(store_attempt *a)
{
    if (!a)
        return;
    free(a->pcrs);
    free(a->evaluation);
    a->pcrs = a->evaluation = NULL;
}

void store_attempts_free(store_attempt *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        store_attempt_done(&a[i]);
    free(a);
}

int store_audit_append(store *s, const char *actor, const char *action, const char *node,
                       const char *details, int64_t *ret_seq)
{
    return s->be->audit_append(s, actor, action, node, details, ret_seq);
}

int store_audit_head(store *s, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                     char *ret_action, size_t action_size)
{
    return s->be->audit_head(s, ret_seq, ret_hash, ret_action, action_size);
}

int store_audit_list(store *s, int64_t since, int64_t limit, store_audit_record **ret,
                     size_t *ret_n)
{
    return s->be->audit_list(s, since, limit, ret, ret_n);
}

const char *store_node_state_name(store_node_state st)
{
    switch (st) {
    case NODE_ACTIVATING:
        return "activating";
    case NODE_PENDING:
        return "pending";
    case NODE_ACTIVE:
        return "active";
    case NODE_REVOKED:
        return "revoked";
    }
    return "unknown";
}

const char *store_grant_state_name(store_grant_state st)
{
    switch (st) {
    case GRANT_REQUESTED:
        return "requested";
    case GRANT_ACTIVE:
        return "active";
    case GRANT_REVOKED:
        return "revoked";
    case GRANT_EXPIRED:
        return "expired";
    }
    return "unknown";
}

void store_policy_done(store_policy *p)
{
    if (!p)
        return;
    free(p->json);
    free(p->signature);
    p->json = p->signature = NULL;
}

void store_policies_free(store_policy *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++)
        store_policy_done(&a[i]);
    free(a);
}

void store_grant_done(store_grant *g)
{
    (void)g; /* nothing owned today; kept so that callers need not change when a field is */
}

void store_audit_records_free(store_audit_record *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].time);
        free(a[i].actor);
        free(a[i].action);
        free(a[i].node);
        free(a[i].details);
        free(a[i].prev_hash);
        free(a[i].hash);
    }
    free(a);
}

auditchain_entry store_audit_entry(const store_audit_record *r)
{
    return (auditchain_entry){
        .rec = {.seq = r->seq,
                .time = r->time,
                .actor = r->actor,
                .action = r->action,
                .node = r->node,
                .details = r->details},
        .prev_hash = r->prev_hash,
        .hash = r->hash,
    };
}

/* In pages, as bootgatectl reads it: memory bounded by one page, not the log. */
#define AUDIT_VERIFY_PAGE 5000

int store_audit_verify(store *s, int64_t *ret_count, int64_t *ret_bad_seq, bg_err *err)
{
    auditchain_walk w;
    size_t n;

    *ret_count = 0;
    *ret_bad_seq = 0;
    auditchain_walk_init(&w);
    do {
        store_audit_record *a = NULL;
        auditchain_entry *e;
        int r = store_audit_list(s, w.next - 1, AUDIT_VERIFY_PAGE, &a, &n);
        if (r < 0)
            return bg_err_set(err, r, "audit: store error");
        e = calloc(n ? n : 1, sizeof(*e));
        if (!e) {
            store_audit_records_free(a, n);
            return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
            e[i] = store_audit_entry(&a[i]);
        r = auditchain_walk_page(&w, e, n, NULL, NULL, NULL, ret_bad_seq, err);
        free(e);
        store_audit_records_free(a, n);
        /* records that verified before the first bad one */
        *ret_count = r < 0 ? *ret_bad_seq - 1 : w.next - 1;
        if (r < 0)
            return r;
    } while (n == AUDIT_VERIFY_PAGE);
    return 0;
}
