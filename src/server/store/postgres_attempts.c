/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PostgreSQL backend: the attempts and the evidence blobs they name
 * (store.h). Replicas share the blobs: a put that names a stored blob holds
 * the evidence lock shared until its commit, and blobs no attempt names go
 * only in the sweep, which holds it exclusively; so no blob goes between a
 * put finding it and the put's commit. */
#include "postgres.h"

int pg_evidence_has(store *base, const char *sha256)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0}, lk = {0};
    int r;
    pg_text(&p, sha256);
    pg_int(&lk, PG_LOCK_EVIDENCE);
    pg_lock(s);
    /* in the put's transaction (store_attempt_put): from here to its commit
     * the sweep cannot take the blob found now */
    r = pg_exec(s, "SELECT pg_advisory_xact_lock_shared($1)", &lk, NULL);
    if (r >= 0)
        r = pg_query_row(s, "SELECT 1 FROM evidence_blobs WHERE sha256 = $1", &p, &res);
    pg_unlock(s);
    return r == -ENOENT ? 0 : r < 0 ? r : 1;
}

static int put_locked(pg_store *s, store_attempt *a, const store_blob *blobs, size_t n_blobs,
                      const store_retention *keep)
{
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0}, lk = {0}, ret = {0};
    int r;

    pg_int(&lk, PG_LOCK_EVIDENCE);
    r = pg_exec(s, "SELECT pg_advisory_xact_lock_shared($1)", &lk, NULL);
    for (size_t i = 0; r >= 0 && i < n_blobs; i++) {
        pg_params b = {0};
        pg_text(&b, blobs[i].sha256);
        pg_int(&b, (int64_t)blobs[i].raw_size);
        pg_blob(&b, blobs[i].data, blobs[i].size);
        r = pg_exec(s,
                    "INSERT INTO evidence_blobs (sha256, raw_size, data) VALUES ($1,$2,$3)"
                    " ON CONFLICT (sha256) DO NOTHING",
                    &b, NULL);
    }
    if (r < 0)
        return r;
    pg_text(&p, a->node_id);
    pg_text(&p, a->group);
    pg_int(&p, a->time);
    pg_int(&p, a->released);
    pg_text(&p, a->verdict);
    pg_text(&p, a->mode);
    pg_text(&p, a->policy_name);
    pg_int(&p, a->policy_version);
    pg_text(&p, a->audit_verdict);
    pg_int(&p, a->audit_seq);
    pg_text(&p, a->eventlog_sha256);
    pg_text(&p, a->ima_sha256);
    pg_text(&p, a->pcrs ? a->pcrs : "");
    pg_text(&p, a->evaluation ? a->evaluation : "{}");
    r = pg_query_row(s,
                     "INSERT INTO attempts (node_id, grp, time, released, verdict, mode,"
                     " policy_name, policy_version, audit_verdict, audit_seq, eventlog, ima, pcrs,"
                     " evaluation) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)"
                     " RETURNING id",
                     &p, &res);
    if (r < 0)
        return r;
    a->id = pg_int_at(res, 0, 0);
    /* the retention: the blobs these attempts named go in the sweep */
    pg_text(&ret, a->node_id);
    pg_int(&ret, a->id);
    pg_int(&ret, keep->keep_last > 0 ? keep->keep_last : 1);
    pg_int(&ret, keep->max_age > 0 ? pg_now() - keep->max_age : INT64_MIN);
    return pg_exec(
        s,
        /* the count cut: the newest attempt beyond keep_last, by the index */
        "DELETE FROM attempts WHERE node_id = $1 AND id <> $2 AND (time < $4 OR id <="
        " (SELECT id FROM attempts WHERE node_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $3))",
        &ret, NULL);
}

int pg_attempt_put(store *base, store_attempt *a, const store_blob *blobs, size_t n_blobs,
                   const store_retention *keep)
{
    pg_store *s = PG(base);
    bool own = false;
    int r;
    pg_lock(s);
    r = pg_sub_begin(s, &own);
    if (r >= 0)
        r = pg_sub_end(s, own, put_locked(s, a, blobs, n_blobs, keep));
    pg_unlock(s);
    return r;
}

int pg_evidence_sweep(store *base)
{
    pg_store *s = PG(base);
    pg_params lk = {0};
    bool own = false;
    int r;
    pg_int(&lk, PG_LOCK_EVIDENCE);
    pg_lock(s);
    r = pg_sub_begin(s, &own);
    if (r >= 0) {
        int r1 = pg_exec(s, "SELECT pg_advisory_xact_lock($1)", &lk, NULL);
        if (r1 >= 0)
            r1 = pg_exec(s,
                         "DELETE FROM evidence_blobs b WHERE NOT EXISTS"
                         " (SELECT 1 FROM attempts WHERE eventlog = b.sha256) AND NOT EXISTS"
                         " (SELECT 1 FROM attempts WHERE ima = b.sha256)",
                         NULL, NULL);
        r = pg_sub_end(s, own, r1);
    }
    pg_unlock(s);
    return r;
}

#define ATTEMPT_COLS                                                                               \
    "SELECT id, node_id, grp, time, released, verdict, mode, policy_name, policy_version,"         \
    " audit_verdict, audit_seq, eventlog, ima, pcrs, evaluation FROM attempts "

static int attempt_row(const PGresult *res, int i, void *out)
{
    store_attempt *a = out;
    memset(a, 0, sizeof(*a));
    a->id = pg_int_at(res, i, 0);
    pg_copy_text(res, i, 1, a->node_id, sizeof(a->node_id));
    pg_copy_text(res, i, 2, a->group, sizeof(a->group));
    a->time = pg_int_at(res, i, 3);
    a->released = pg_int_at(res, i, 4) != 0;
    pg_copy_text(res, i, 5, a->verdict, sizeof(a->verdict));
    pg_copy_text(res, i, 6, a->mode, sizeof(a->mode));
    pg_copy_text(res, i, 7, a->policy_name, sizeof(a->policy_name));
    a->policy_version = pg_int_at(res, i, 8);
    pg_copy_text(res, i, 9, a->audit_verdict, sizeof(a->audit_verdict));
    a->audit_seq = pg_int_at(res, i, 10);
    pg_copy_text(res, i, 11, a->eventlog_sha256, sizeof(a->eventlog_sha256));
    pg_copy_text(res, i, 12, a->ima_sha256, sizeof(a->ima_sha256));
    a->pcrs = strdup(PQgetvalue(res, i, 13));
    a->evaluation = strdup(PQgetvalue(res, i, 14));
    if (!a->pcrs || !a->evaluation) {
        store_attempt_done(a);
        return -ENOMEM;
    }
    return 0;
}

static void attempt_row_done(void *a)
{
    store_attempt_done(a);
}

static int collect(pg_store *s, const char *sql, const pg_params *p, store_attempt **ret,
                   size_t *ret_n)
{
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r;
    pg_lock(s);
    r = pg_exec(s, sql, p, &res);
    pg_unlock(s);
    if (r < 0)
        return r;
    return pg_collect_rows(res, sizeof(**ret), attempt_row, attempt_row_done, (void **)ret, ret_n);
}

int pg_attempt_get(store *base, int64_t id, store_attempt *ret)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_int(&p, id);
    pg_lock(s);
    r = pg_query_row(s, ATTEMPT_COLS "WHERE id = $1", &p, &res);
    pg_unlock(s);
    return r < 0 ? r : attempt_row(res, 0, ret);
}

int pg_attempt_list(store *base, const char *node_id, int64_t limit, store_attempt **ret,
                    size_t *ret_n)
{
    pg_params p = {0};
    pg_text(&p, node_id);
    pg_int(&p, limit > 0 ? limit : INT64_MAX);
    return collect(PG(base), ATTEMPT_COLS "WHERE node_id = $1 ORDER BY id DESC LIMIT $2", &p, ret,
                   ret_n);
}

int pg_attempt_latest(store *base, const char *group, int64_t since, store_attempt **ret,
                      size_t *ret_n)
{
    pg_params p = {0};
    pg_text(&p, group ? group : "");
    pg_int(&p, since);
    return collect(PG(base),
                   ATTEMPT_COLS "WHERE id IN (SELECT max(id) FROM attempts"
                                " WHERE ($1 = '' OR grp = $1) GROUP BY node_id)"
                                " AND time >= $2 ORDER BY node_id",
                   &p, ret, ret_n);
}

int pg_attempt_since(store *base, const char *group, int64_t since, int64_t limit,
                     store_attempt **ret, size_t *ret_n)
{
    pg_params p = {0};
    pg_text(&p, group ? group : "");
    pg_int(&p, since);
    pg_int(&p, limit > 0 ? limit : INT64_MAX);
    return collect(PG(base),
                   ATTEMPT_COLS "WHERE ($1 = '' OR grp = $1) AND time >= $2"
                                " ORDER BY id DESC LIMIT $3",
                   &p, ret, ret_n);
}

int pg_evidence_get(store *base, const char *sha256, uint8_t **ret, size_t *ret_size,
                    int64_t *ret_raw_size)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, sha256);
    pg_lock(s);
    r = pg_query_row(s, "SELECT raw_size, data FROM evidence_blobs WHERE sha256 = $1", &p, &res);
    pg_unlock(s);
    if (r < 0)
        return r;
    *ret_raw_size = pg_int_at(res, 0, 0);
    return pg_dup_blob(res, 0, 1, ret, ret_size);
}

int pg_attempt_stats(store *base, store_attempt_stats *ret)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r;
    pg_lock(s);
    r = pg_query_row(s,
                     "SELECT (SELECT count(*) FROM attempts), count(*),"
                     " coalesce(sum(length(data)), 0), coalesce(sum(raw_size), 0)"
                     " FROM evidence_blobs",
                     NULL, &res);
    pg_unlock(s);
    if (r < 0)
        return r;
    ret->attempts = pg_int_at(res, 0, 0);
    ret->blobs = pg_int_at(res, 0, 1);
    ret->blob_bytes = pg_int_at(res, 0, 2);
    ret->blob_raw_bytes = pg_int_at(res, 0, 3);
    return 0;
}
