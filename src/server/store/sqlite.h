/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The SQLite backend's own parts, shared by its files: sqlite.c (open,
 * migrations, transactions, statement helpers, the backend table),
 * sqlite_nodes.c (nodes, volumes, nonces), sqlite_policies.c,
 * sqlite_grants.c, sqlite_audit.c. One connection (WAL,
 * synchronous=FULL), serialized by a recursive lock that a transaction
 * holds from begin to commit. */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sqlite3.h>

#include "backend.h"
#include "cleanup.h"

typedef enum cached_sql {
    CQ_BEGIN,
    CQ_COMMIT,
    CQ_ROLLBACK,
    CQ_SYNC_NORMAL,
    CQ_SYNC_FULL,
    CQ_NONCE_EXPIRE,
    CQ_NONCE_INSERT,
    CQ_NONCE_ADVANCE,
    CQ_NONCE_HORIZON,
    CQ_NODE_GET,
    CQ_VOLUME_GET,
    CQ_POLICY_ACTIVE,
    CQ_AUDIT_LAST,
    CQ_AUDIT_INSERT,
    CQ_BLOB_HAS,
    CQ_BLOB_INSERT,
    CQ_BLOB_DROP_ORPHAN,
    CQ_ATTEMPT_INSERT,
    CQ_ATTEMPT_CUT,
    CQ_ATTEMPT_EXPIRED,
    CQ_ATTEMPT_DELETE,
    _CQ_MAX,
} cached_sql;

typedef struct sqlite_store {
    store base; /* first: the backend-neutral handle */
    sqlite3 *db;
    pthread_mutex_t lock; /* recursive: a transaction holds it across calls */
    sqlite3_stmt *cached[_CQ_MAX];
    int64_t nonce_cutoff; /* used-nonce rows below it are purged (never decreases) */
    char *path;           /* the file, NULL for :memory: */
    /* Group commit (backend.h store_group; sqlite.c sqlite_commit): a
     * transaction commits with synchronous=NORMAL under the store lock, then
     * waits outside it until one fdatasync of the WAL covers its commit. */
    store_group group;
    uint64_t committed; /* commits so far (under lock) */
    int wal_fd;         /* the -wal file, opened at the first sync; -1 */
    dev_t dev;          /* and the file opened there: a removed or replaced */
    ino_t ino;          /* file is refused, not written to (sq_file_check) */
} sqlite_store;

#define SQ(b) ((sqlite_store *)(b))

#define POLICY_COLS "SELECT name, version, json, signature, signer, active, created FROM policies "

static inline int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static inline void lock(sqlite_store *s)
{
    pthread_mutex_lock(&s->lock);
}

static inline void unlock(sqlite_store *s)
{
    pthread_mutex_unlock(&s->lock);
}

static inline void releasep(sqlite3_stmt **st)
{
    if (*st) {
        sqlite3_reset(*st);
        sqlite3_clear_bindings(*st);
    }
}

/* -EIO, with SQLite's reason kept for store_last_error() */
static inline int sq_fail(sqlite_store *s)
{
    store_error_set("sqlite: %s", sqlite3_errmsg(s->db));
    return -EIO;
}

static inline int prep(sqlite_store *s, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : sq_fail(s);
}

static inline void finalizep(sqlite3_stmt **st)
{
    sqlite3_finalize(*st);
}

static inline void copy_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static inline size_t copy_blob(sqlite3_stmt *st, int col, uint8_t *dst, size_t size)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!b || n > size)
        return 0;
    memcpy(dst, b, n);
    return n;
}

static inline int step_done(sqlite_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc == SQLITE_CONSTRAINT)
        return -EEXIST;
    return sq_fail(s);
}

static inline int step_changed(sqlite_store *s, sqlite3_stmt *st)
{
    int r = step_done(s, st);
    if (r >= 0 && sqlite3_changes(s->db) == 0)
        r = -ENOENT;
    return r;
}

static inline int step_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

/* 0 while the database file is still the one opened; -EIO when it was
 * removed or replaced (writes would go to a file nobody will read again). */
int sq_file_check(sqlite_store *s);
/* Runs SQL without parameters (migrations, PRAGMAs). */
int sq_exec(sqlite_store *s, const char *sql, bg_err *err);
/* The cached statement q, prepared on first use. Store lock held. */
int sq_cprep(sqlite_store *s, cached_sql q, sqlite3_stmt **st);
/* Runs a cached statement without parameters (BEGIN, COMMIT, PRAGMA). Store lock held. */
int sq_cexec(sqlite_store *s, cached_sql q);
/* Runs a statement with one text parameter, e.g. a DELETE by id. */
int sq_exec_text(sqlite_store *s, const char *sql, const char *text);
/* The rows of a prepared statement (r < 0, a failed prepare, passes
 * through) as a malloc'd array of elem_size entries, each filled by row();
 * on failure nothing is returned (done(), when given, undoes the entries
 * collected so far). */
int sq_collect_rows(sqlite3_stmt *st, int r, size_t elem_size, int (*row)(sqlite3_stmt *, void *),
                    void (*done)(void *), void **ret, size_t *ret_n);

/* The backend's functions (contracts in store.h). */
int sqlite_node_put(store *base, const store_node *n);
int sqlite_node_get(store *base, const char *id, store_node *ret);
int sqlite_node_set_state(store *base, const char *id, store_node_state state);
int sqlite_node_delete(store *base, const char *id);
int sqlite_node_list(store *base, store_node_summary **ret, size_t *ret_n);
int sqlite_volume_put(store *base, const char *node_id, const char *uuid, const uint8_t *wrapped,
                      size_t wrapped_size);
int sqlite_volume_get(store *base, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                      size_t *ret_size);
int sqlite_volume_count(store *base, const char *node_id);
int sqlite_nonce_use(store *base, const uint8_t *nonce, size_t size, int64_t expires, int64_t now);
int sqlite_policy_put(store *base, const store_policy *p);
int sqlite_policy_get(store *base, const char *name, int64_t version, store_policy *ret);
int sqlite_policy_get_active(store *base, const char *name, store_policy *ret);
int sqlite_policy_activate(store *base, const char *name, int64_t version);
int sqlite_policy_list(store *base, store_policy **ret, size_t *ret_n);
int sqlite_denial_find(store *base, const char *code, char *ret_node, size_t node_size,
                       pcr_bank *ret_observed, bool *ret_has_observed);
int sqlite_grant_put(store *base, const store_grant *g);
int sqlite_grant_get(store *base, const char *id, store_grant *ret);
int sqlite_grant_list_usable(store *base, const char *node_id, int64_t now, store_grant **ret,
                             size_t *ret_n);
int sqlite_grant_approve(store *base, const char *id, const char *approver, const char *sig_b64);
int sqlite_grant_set_state(store *base, const char *id, store_grant_state state);
int sqlite_grant_use(store *base, const char *id);
int sqlite_grant_list(store *base, store_grant **ret, size_t *ret_n);
int sqlite_grant_expire(store *base, int64_t now, store_grant **ret, size_t *ret_n);
int sqlite_evidence_has(store *base, const char *sha256);
int sqlite_attempt_put(store *base, store_attempt *a, const store_blob *blobs, size_t n_blobs,
                       const store_retention *keep);
int sqlite_attempt_get(store *base, int64_t id, store_attempt *ret);
int sqlite_attempt_list(store *base, const char *node_id, int64_t limit, store_attempt **ret,
                        size_t *ret_n);
int sqlite_attempt_latest(store *base, const char *group, int64_t since, store_attempt **ret,
                          size_t *ret_n);
int sqlite_attempt_since(store *base, const char *group, int64_t since, int64_t limit,
                         store_attempt **ret, size_t *ret_n);
int sqlite_evidence_get(store *base, const char *sha256, uint8_t **ret, size_t *ret_size,
                        int64_t *ret_raw_size);
int sqlite_attempt_stats(store *base, store_attempt_stats *ret);
int sqlite_evidence_sweep(store *base);
int sqlite_audit_append(store *base, const char *actor, const char *action, const char *node,
                        const char *details, int64_t *ret_seq);
int sqlite_audit_head(store *base, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                      char *ret_action, size_t action_size);
int sqlite_audit_list(store *base, int64_t since, int64_t limit, store_audit_record **ret,
                      size_t *ret_n);
