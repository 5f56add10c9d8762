/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite backend: the attempts and the evidence blobs they name (store.h). */
#include "sqlite.h"

static int evidence_has_locked(sqlite_store *s, const char *sha256)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = sq_cprep(s, CQ_BLOB_HAS, &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
        r = step_row(st);
        r = r == -ENOENT ? 0 : r < 0 ? sq_fail(s) : 1;
    }
    return r;
}

int sqlite_evidence_has(store *base, const char *sha256)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = evidence_has_locked(s, sha256);
    unlock(s);
    return r;
}

/* A blob no attempt names any more goes. */
static int drop_orphan(sqlite_store *s, const char *sha256)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = sq_cprep(s, CQ_BLOB_DROP_ORPHAN, &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
        r = step_done(s, st);
    }
    return r;
}

static void bind_retention(sqlite3_stmt *st, const char *node_id, int64_t keep_id, int64_t cut_id,
                           int64_t cutoff)
{
    sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, keep_id);
    sqlite3_bind_int64(st, 3, cut_id);
    sqlite3_bind_int64(st, 4, cutoff);
}

/* The node's attempts past the retention, other than keep_id: their blobs
 * are collected first, so that those no attempt names any more go too. The
 * count cut is the id of the newest attempt beyond keep_last (an index
 * lookup), so that a node at its limit costs one row's delete, and a node
 * with nothing past the retention costs no write. */
static int apply_retention(sqlite_store *s, const char *node_id, int64_t keep_id,
                           const store_retention *keep)
{
    _cleanup_(releasep) sqlite3_stmt *cut = NULL;
    _cleanup_(releasep) sqlite3_stmt *sel = NULL;
    _cleanup_(releasep) sqlite3_stmt *del = NULL;
    char(*shas)[65] = NULL;
    size_t n = 0, rows = 0;
    int64_t cutoff = keep->max_age > 0 ? now_s() - keep->max_age : INT64_MIN, cut_id = 0;
    int r = sq_cprep(s, CQ_ATTEMPT_CUT, &cut);
    if (r >= 0) {
        sqlite3_bind_text(cut, 1, node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(cut, 2, keep->keep_last > 0 ? keep->keep_last : 1);
        if (sqlite3_step(cut) == SQLITE_ROW)
            cut_id = sqlite3_column_int64(cut, 0);
    }
    if (r < 0 || (!cut_id && keep->max_age <= 0))
        return r;
    r = sq_cprep(s, CQ_ATTEMPT_EXPIRED, &sel);
    if (r >= 0)
        bind_retention(sel, node_id, keep_id, cut_id, cutoff);
    while (r >= 0 && sqlite3_step(sel) == SQLITE_ROW) {
        rows++;
        for (int c = 0; c < 2; c++) {
            char(*na)[65];
            const unsigned char *t = sqlite3_column_text(sel, c);
            if (!t || !*t)
                continue;
            na = realloc(shas, (n + 1) * sizeof(*shas));
            if (!na) {
                r = -ENOMEM;
                break;
            }
            shas = na;
            snprintf(shas[n++], sizeof(*shas), "%s", (const char *)t);
        }
    }
    if (r >= 0 && rows > 0)
        r = sq_cprep(s, CQ_ATTEMPT_DELETE, &del);
    if (r >= 0 && rows > 0) {
        bind_retention(del, node_id, keep_id, cut_id, cutoff);
        r = step_done(s, del);
    }
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = drop_orphan(s, shas[i]);
    free(shas);
    return r;
}

static int attempt_insert_locked(sqlite_store *s, store_attempt *a)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = sq_cprep(s, CQ_ATTEMPT_INSERT, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, a->node_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a->group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, a->time);
    sqlite3_bind_int(st, 4, a->released);
    sqlite3_bind_text(st, 5, a->verdict, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, a->mode, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, a->policy_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, a->policy_version);
    sqlite3_bind_text(st, 9, a->audit_verdict, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, a->audit_seq);
    sqlite3_bind_text(st, 11, a->eventlog_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, a->ima_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, a->pcrs ? a->pcrs : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, a->evaluation ? a->evaluation : "{}", -1, SQLITE_STATIC);
    r = step_done(s, st);
    if (r >= 0)
        a->id = sqlite3_last_insert_rowid(s->db);
    return r;
}

/* The statements are the connection's cached ones (sq_cprep): each is reset
 * by its _locked helper's cleanup, before the store lock goes. */
int sqlite_attempt_put(store *base, store_attempt *a, const store_blob *blobs, size_t n_blobs,
                       const store_retention *keep)
{
    sqlite_store *s = SQ(base);
    int r = 0;
    lock(s);
    for (size_t i = 0; r >= 0 && i < n_blobs; i++) {
        _cleanup_(releasep) sqlite3_stmt *b = NULL;
        r = sq_cprep(s, CQ_BLOB_INSERT, &b);
        if (r >= 0) {
            sqlite3_bind_text(b, 1, blobs[i].sha256, -1, SQLITE_STATIC);
            sqlite3_bind_int64(b, 2, (int64_t)blobs[i].raw_size);
            sqlite3_bind_blob(b, 3, blobs[i].data, (int)blobs[i].size, SQLITE_STATIC);
            r = step_done(s, b);
        }
    }
    if (r >= 0)
        r = attempt_insert_locked(s, a);
    if (r >= 0)
        r = apply_retention(s, a->node_id, a->id, keep);
    unlock(s);
    return r;
}

#define ATTEMPT_COLS                                                                               \
    "SELECT id, node_id, grp, time, released, verdict, mode, policy_name, policy_version,"         \
    " audit_verdict, audit_seq, eventlog, ima, pcrs, evaluation FROM attempts "

static int attempt_row(sqlite3_stmt *st, void *out)
{
    store_attempt *a = out;
    const unsigned char *pcrs, *ev;
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(st, 0);
    copy_text(st, 1, a->node_id, sizeof(a->node_id));
    copy_text(st, 2, a->group, sizeof(a->group));
    a->time = sqlite3_column_int64(st, 3);
    a->released = sqlite3_column_int(st, 4) != 0;
    copy_text(st, 5, a->verdict, sizeof(a->verdict));
    copy_text(st, 6, a->mode, sizeof(a->mode));
    copy_text(st, 7, a->policy_name, sizeof(a->policy_name));
    a->policy_version = sqlite3_column_int64(st, 8);
    copy_text(st, 9, a->audit_verdict, sizeof(a->audit_verdict));
    a->audit_seq = sqlite3_column_int64(st, 10);
    copy_text(st, 11, a->eventlog_sha256, sizeof(a->eventlog_sha256));
    copy_text(st, 12, a->ima_sha256, sizeof(a->ima_sha256));
    pcrs = sqlite3_column_text(st, 13);
    ev = sqlite3_column_text(st, 14);
    a->pcrs = strdup(pcrs ? (const char *)pcrs : "");
    a->evaluation = strdup(ev ? (const char *)ev : "{}");
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

int sqlite_attempt_get(store *base, int64_t id, store_attempt *ret)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, ATTEMPT_COLS "WHERE id = ?", &st);
    if (r >= 0) {
        sqlite3_bind_int64(st, 1, id);
        r = step_row(st);
        if (r >= 0)
            r = attempt_row(st, ret);
    }
    unlock(s);
    return r;
}

int sqlite_attempt_list(store *base, const char *node_id, int64_t limit, store_attempt **ret,
                        size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, ATTEMPT_COLS "WHERE node_id = ? ORDER BY id DESC LIMIT ?", &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    }
    r = sq_collect_rows(st, r, sizeof(**ret), attempt_row, attempt_row_done, (void **)ret, ret_n);
    unlock(s);
    return r;
}

int sqlite_attempt_latest(store *base, const char *group, int64_t since, store_attempt **ret,
                          size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             ATTEMPT_COLS "WHERE id IN (SELECT max(id) FROM attempts WHERE (?1 IS NULL OR grp = ?1)"
                          " GROUP BY node_id) AND time >= ?2 ORDER BY node_id",
             &st);
    if (r >= 0) {
        if (group)
            sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 1);
        sqlite3_bind_int64(st, 2, since);
    }
    r = sq_collect_rows(st, r, sizeof(**ret), attempt_row, attempt_row_done, (void **)ret, ret_n);
    unlock(s);
    return r;
}

int sqlite_attempt_since(store *base, const char *group, int64_t since, int64_t limit,
                         store_attempt **ret, size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             ATTEMPT_COLS "WHERE (?1 IS NULL OR grp = ?1) AND time >= ?2 ORDER BY id DESC LIMIT ?3",
             &st);
    if (r >= 0) {
        if (group)
            sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 1);
        sqlite3_bind_int64(st, 2, since);
        sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    }
    r = sq_collect_rows(st, r, sizeof(**ret), attempt_row, attempt_row_done, (void **)ret, ret_n);
    unlock(s);
    return r;
}

int sqlite_evidence_get(store *base, const char *sha256, uint8_t **ret, size_t *ret_size,
                        int64_t *ret_raw_size)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "SELECT raw_size, data FROM evidence_blobs WHERE sha256 = ?", &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, sha256, -1, SQLITE_STATIC);
        r = step_row(st);
    }
    if (r >= 0) {
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        const void *b = sqlite3_column_blob(st, 1);
        *ret_raw_size = sqlite3_column_int64(st, 0);
        *ret = malloc(n ? n : 1);
        if (!*ret)
            r = -ENOMEM;
        else {
            if (n)
                memcpy(*ret, b, n);
            *ret_size = n;
        }
    }
    unlock(s);
    return r;
}

int sqlite_attempt_stats(store *base, store_attempt_stats *ret)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             "SELECT (SELECT count(*) FROM attempts), count(*), coalesce(sum(length(data)), 0),"
             " coalesce(sum(raw_size), 0) FROM evidence_blobs",
             &st);
    if (r >= 0)
        r = step_row(st);
    if (r >= 0) {
        ret->attempts = sqlite3_column_int64(st, 0);
        ret->blobs = sqlite3_column_int64(st, 1);
        ret->blob_bytes = sqlite3_column_int64(st, 2);
        ret->blob_raw_bytes = sqlite3_column_int64(st, 3);
    }
    unlock(s);
    return r;
}

int sqlite_evidence_sweep(store *base)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = sq_exec(s,
                "DELETE FROM evidence_blobs WHERE NOT EXISTS"
                " (SELECT 1 FROM attempts WHERE eventlog = evidence_blobs.sha256) AND NOT EXISTS"
                " (SELECT 1 FROM attempts WHERE ima = evidence_blobs.sha256)",
                NULL);
    unlock(s);
    return r;
}
