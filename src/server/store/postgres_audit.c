/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PostgreSQL backend: the hash-chained audit log (auditchain.h), one strict
 * chain for all replicas. */
#include "postgres.h"

#include "util.h"

static void iso_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Inside a transaction. The advisory lock is held until that transaction
 * ends, so that between reading the head and committing the new record no
 * other writer, on this replica or another, reads the same head: no fork, no
 * gap, no duplicate seq. Under READ COMMITTED the head is read after the lock
 * is granted, so it is the head the previous holder committed. The primary
 * key on seq is the backstop should anyone write without the lock. */
static int audit_append_tx(pg_store *s, const char *actor, const char *action, const char *node,
                           const char *details, int64_t *ret_seq)
{
    _cleanup_(pg_clearp) PGresult *res = NULL;
    uint8_t prev[AUDITCHAIN_HASH_SIZE] = {0}, hash[AUDITCHAIN_HASH_SIZE];
    char prev_hex[2 * AUDITCHAIN_HASH_SIZE + 1], hash_hex[2 * AUDITCHAIN_HASH_SIZE + 1], t[32];
    const char *det = details ? details : "{}";
    pg_params lk = {0}, p = {0};
    int64_t seq = 1;
    int r;

    pg_int(&lk, PG_LOCK_AUDIT);
    r = pg_exec(s, "SELECT pg_advisory_xact_lock($1)", &lk, NULL);
    if (r >= 0)
        r = pg_exec(s, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", NULL, &res);
    if (r >= 0 && PQntuples(res) > 0) {
        seq = pg_int_at(res, 0, 0) + 1;
        r = hex_decode_exact(PQgetvalue(res, 0, 1), prev, sizeof(prev), NULL);
    }
    iso_time(t, sizeof(t));
    if (r >= 0) {
        auditchain_record rec = {.seq = seq,
                                 .time = t,
                                 .actor = actor,
                                 .action = action,
                                 .node = node ? node : "",
                                 .details = det};
        r = auditchain_hash(prev, &rec, hash, NULL);
    }
    if (r >= 0) {
        hex_encode(prev, sizeof(prev), prev_hex);
        hex_encode(hash, sizeof(hash), hash_hex);
        pg_int(&p, seq);
        pg_text(&p, t);
        pg_text(&p, actor);
        pg_text(&p, action);
        pg_text(&p, node ? node : "");
        pg_text(&p, det);
        pg_text(&p, prev_hex);
        pg_text(&p, hash_hex);
        r = pg_exec(s,
                    "INSERT INTO audit (seq, time, actor, action, node, details, prev_hash, hash)"
                    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
                    &p, NULL);
    }
    if (r >= 0 && ret_seq)
        *ret_seq = seq;
    return r;
}

int pg_audit_append(store *base, const char *actor, const char *action, const char *node,
                    const char *details, int64_t *ret_seq)
{
    pg_store *s = PG(base);
    bool own = false;
    int r;
    pg_lock(s);
    /* outside a caller's transaction: an own one, else the advisory lock
     * would end with the SELECT */
    r = pg_sub_begin(s, &own);
    if (r >= 0)
        r = pg_sub_end(s, own, audit_append_tx(s, actor, action, node, details, ret_seq));
    pg_unlock(s);
    return r;
}

int pg_audit_head(store *base, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                  char *ret_action, size_t action_size)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r;
    pg_lock(s);
    r = pg_query_row(s, "SELECT seq, hash, action FROM audit ORDER BY seq DESC LIMIT 1", NULL,
                     &res);
    if (r >= 0) {
        *ret_seq = pg_int_at(res, 0, 0);
        pg_copy_text(res, 0, 1, ret_hash, 2 * AUDITCHAIN_HASH_SIZE + 1);
        pg_copy_text(res, 0, 2, ret_action, action_size);
    }
    pg_unlock(s);
    return r;
}

static void audit_record_done(void *p)
{
    store_audit_record *a = p;
    free(a->time);
    free(a->actor);
    free(a->action);
    free(a->node);
    free(a->details);
    free(a->prev_hash);
    free(a->hash);
}

static int audit_row(const PGresult *res, int i, void *out)
{
    store_audit_record *a = out;
    a->seq = pg_int_at(res, i, 0);
    a->time = strdup(PQgetvalue(res, i, 1));
    a->actor = strdup(PQgetvalue(res, i, 2));
    a->action = strdup(PQgetvalue(res, i, 3));
    a->node = strdup(PQgetvalue(res, i, 4));
    /* the stored text, byte for byte: it is what the chain hashes */
    a->details = strdup(PQgetvalue(res, i, 5));
    a->prev_hash = strdup(PQgetvalue(res, i, 6));
    a->hash = strdup(PQgetvalue(res, i, 7));
    if (!a->time || !a->actor || !a->action || !a->node || !a->details || !a->prev_hash ||
        !a->hash) {
        audit_record_done(a);
        return -ENOMEM;
    }
    return 0;
}

int pg_audit_list(store *base, int64_t since, int64_t limit, store_audit_record **ret,
                  size_t *ret_n)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_int(&p, since);
    pg_int(&p, limit > 0 ? limit : INT64_MAX);
    pg_lock(s);
    r = pg_exec(s,
                "SELECT seq, time, actor, action, node, details, prev_hash, hash FROM audit"
                " WHERE seq > $1 ORDER BY seq LIMIT $2",
                &p, &res);
    if (r >= 0)
        r = pg_collect_rows(res, sizeof(**ret), audit_row, audit_record_done, (void **)ret, ret_n);
    pg_unlock(s);
    return r;
}
