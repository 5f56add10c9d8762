/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite backend: the hash-chained audit log (auditchain.h). */
#include "sqlite.h"

#include "util.h"

/* ---- audit ---- */

static void iso_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int audit_append_locked(sqlite_store *s, const char *actor, const char *action,
                               const char *node, const char *details, int64_t *ret_seq)
{
    _cleanup_(releasep) sqlite3_stmt *q = NULL;
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    uint8_t prev[AUDITCHAIN_HASH_SIZE] = {0}, hash[AUDITCHAIN_HASH_SIZE];
    char prev_hex[2 * AUDITCHAIN_HASH_SIZE + 1], hash_hex[2 * AUDITCHAIN_HASH_SIZE + 1], t[32];
    const char *det = details ? details : "{}";
    int64_t seq = 1;
    int r;

    r = sq_cprep(s, CQ_AUDIT_LAST, &q);
    if (r >= 0) {
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            seq = sqlite3_column_int64(q, 0) + 1;
            r = hex_decode_exact((const char *)sqlite3_column_text(q, 1), prev, sizeof(prev), NULL);
        } else if (rc != SQLITE_DONE)
            r = -EIO;
        /* the read ends here, before this connection writes */
        sqlite3_reset(q);
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
    if (r >= 0)
        r = sq_cprep(s, CQ_AUDIT_INSERT, &st);
    if (r >= 0) {
        hex_encode(prev, sizeof(prev), prev_hex);
        hex_encode(hash, sizeof(hash), hash_hex);
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_text(st, 2, t, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, node ? node : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, det, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, prev_hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, hash_hex, -1, SQLITE_STATIC);
        r = step_done(s, st);
    }
    if (r >= 0 && ret_seq)
        *ret_seq = seq;
    return r;
}

int sqlite_audit_append(store *base, const char *actor, const char *action, const char *node,
                        const char *details, int64_t *ret_seq)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = audit_append_locked(s, actor, action, node, details, ret_seq);
    unlock(s);
    return r;
}

int sqlite_audit_head(store *base, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                      char *ret_action, size_t action_size)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "SELECT seq, hash, action FROM audit ORDER BY seq DESC LIMIT 1", &st);
    if (r >= 0) {
        r = step_row(st);
        if (r >= 0) {
            *ret_seq = sqlite3_column_int64(st, 0);
            copy_text(st, 1, ret_hash, 2 * AUDITCHAIN_HASH_SIZE + 1);
            copy_text(st, 2, ret_action, action_size);
        }
    }
    unlock(s);
    return r;
}

/* A column's text, malloc'd ("" for NULL). */
static char *dup_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return strdup(t ? (const char *)t : "");
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

static int audit_row(sqlite3_stmt *st, void *out)
{
    store_audit_record *a = out;
    a->seq = sqlite3_column_int64(st, 0);
    a->time = dup_text(st, 1);
    a->actor = dup_text(st, 2);
    a->action = dup_text(st, 3);
    a->node = dup_text(st, 4);
    /* the stored text, byte for byte: it is what the chain hashes */
    a->details = dup_text(st, 5);
    a->prev_hash = dup_text(st, 6);
    a->hash = dup_text(st, 7);
    if (!a->time || !a->actor || !a->action || !a->node || !a->details || !a->prev_hash ||
        !a->hash) {
        audit_record_done(a);
        return -ENOMEM;
    }
    return 0;
}

int sqlite_audit_list(store *base, int64_t since, int64_t limit, store_audit_record **ret,
                      size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             "SELECT seq, time, actor, action, node, details, prev_hash, hash FROM audit"
             " WHERE seq > ? ORDER BY seq LIMIT ?",
             &st);
    if (r >= 0) {
        sqlite3_bind_int64(st, 1, since);
        sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    }
    r = sq_collect_rows(st, r, sizeof(**ret), audit_row, audit_record_done, (void **)ret, ret_n);
    unlock(s);
    return r;
}
