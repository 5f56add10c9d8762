/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite backend (sqlite:///path): open, migrations, transactions,
 * statement helpers and its table of functions. */
#include "sqlite.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "schema.h"

static const char *const cached_sql_text[_CQ_MAX] = {
    [CQ_BEGIN] = "BEGIN IMMEDIATE",
    [CQ_COMMIT] = "COMMIT",
    [CQ_ROLLBACK] = "ROLLBACK",
    [CQ_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [CQ_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [CQ_NONCE_EXPIRE] = "DELETE FROM used_nonces WHERE expires < ?", /* the cutoff */
    [CQ_NONCE_INSERT] = "INSERT INTO used_nonces (nonce, expires) VALUES (?, ?)",
    [CQ_NONCE_ADVANCE] = "UPDATE nonce_horizon SET cutoff = ?1 WHERE id = 1 AND cutoff < ?1",
    [CQ_NONCE_HORIZON] = "SELECT cutoff FROM nonce_horizon WHERE id = 1",
    [CQ_NODE_GET] =
        ("SELECT id, hostname, grp, state, ek_fingerprint, ek_cert_verified, ek_cert_subject,"
         " ek_pub, ak_pub, ak_name, activation_hash, activation_expires, created, updated"
         " FROM nodes WHERE id = ?"),
    [CQ_VOLUME_GET] = "SELECT wrapped FROM volumes WHERE node_id = ? AND uuid = ?",
    [CQ_POLICY_ACTIVE] = POLICY_COLS "WHERE name = ? AND active = 1",
    [CQ_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [CQ_AUDIT_INSERT] =
        ("INSERT INTO audit (seq, time, actor, action, node, details, prev_hash, hash)"
         " VALUES (?,?,?,?,?,?,?,?)"),
    /* the attempts and their evidence (sqlite_attempts.c): one of each per unlock */
    [CQ_BLOB_HAS] = "SELECT 1 FROM evidence_blobs WHERE sha256 = ?",
    [CQ_BLOB_INSERT] =
        "INSERT OR IGNORE INTO evidence_blobs (sha256, raw_size, data) VALUES (?,?,?)",
    [CQ_BLOB_DROP_ORPHAN] = ("DELETE FROM evidence_blobs WHERE sha256 = ?1 AND NOT EXISTS"
                             " (SELECT 1 FROM attempts WHERE eventlog = ?1)"
                             " AND NOT EXISTS (SELECT 1 FROM attempts WHERE ima = ?1)"),
    [CQ_ATTEMPT_INSERT] =
        ("INSERT INTO attempts (node_id, grp, time, released, verdict, mode, policy_name,"
         " policy_version, audit_verdict, audit_seq, eventlog, ima, pcrs, evaluation)"
         " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
    [CQ_ATTEMPT_CUT] =
        "SELECT id FROM attempts WHERE node_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
    /* past the retention: beyond the count cut (?3) or older than ?4, other than ?2 */
    [CQ_ATTEMPT_EXPIRED] = ("SELECT eventlog, ima FROM attempts"
                            " WHERE node_id = ?1 AND id <> ?2 AND (id <= ?3 OR time < ?4)"),
    [CQ_ATTEMPT_DELETE] = ("DELETE FROM attempts"
                           " WHERE node_id = ?1 AND id <> ?2 AND (id <= ?3 OR time < ?4)"),
};

int sq_exec(sqlite_store *s, const char *sql, bg_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int r = bg_err_set(err, -EIO, "sqlite: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return r;
    }
    return 0;
}

int sq_cprep(sqlite_store *s, cached_sql q, sqlite3_stmt **st)
{
    if (!s->cached[q] &&
        sqlite3_prepare_v3(s->db, cached_sql_text[q], -1, SQLITE_PREPARE_PERSISTENT, &s->cached[q],
                           NULL) != SQLITE_OK) {
        s->cached[q] = NULL;
        return sq_fail(s);
    }
    *st = s->cached[q];
    return 0;
}

int sq_cexec(sqlite_store *s, cached_sql q)
{
    sqlite3_stmt *st = NULL;
    int rc, r = sq_cprep(s, q, &st);
    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    /* a rollback after a failed step keeps that step's reason */
    return q == CQ_ROLLBACK ? -EIO : sq_fail(s);
}

int sq_file_check(sqlite_store *s)
{
    struct stat st;
    if (!s->path)
        return 0;
    if (stat(s->path, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
        store_error_set("sqlite: database file %s was removed or replaced; restore it or restart",
                        s->path);
        return -EIO;
    }
    return 0;
}

int sq_exec_text(sqlite_store *s, const char *sql, const char *text)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r = prep(s, sql, &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        r = step_done(s, st);
    }
    return r;
}

int sq_collect_rows(sqlite3_stmt *st, int r, size_t elem_size, int (*row)(sqlite3_stmt *, void *),
                    void (*done)(void *), void **ret, size_t *ret_n)
{
    uint8_t *a = NULL;
    size_t n = 0;
    while (r >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        uint8_t *na = realloc(a, (n + 1) * elem_size);
        if (!na) {
            r = -ENOMEM;
            break;
        }
        a = na;
        memset(a + n * elem_size, 0, elem_size);
        r = row(st, a + n * elem_size);
        if (r >= 0)
            n++;
    }
    if (r < 0) {
        for (size_t i = 0; done && i < n; i++)
            done(a + i * elem_size);
        free(a);
        return r;
    }
    *ret = a;
    *ret_n = n;
    return 0;
}

static int schema_version_locked(sqlite_store *s, int64_t *ret)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int rc;

    *ret = 0;
    rc = sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        /* no such table: a new (empty) database, or not one of ours */
        return rc == SQLITE_ERROR ? 0 : -EIO;
    if (sqlite3_step(st) == SQLITE_ROW)
        *ret = sqlite3_column_int64(st, 0);
    return 0;
}

static int sqlite_schema_version(store *base, int64_t *ret)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = schema_version_locked(s, ret);
    unlock(s);
    return r;
}

/* The migrations (schema.c) this database has not run, each in its own
 * transaction with its schema_version row. */
static int sqlite_migrate(store *base, bg_err *err)
{
    sqlite_store *s = SQ(base);
    int64_t version = 0;
    int r;

    lock(s);
    r = sq_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);", err);
    if (r >= 0 && schema_version_locked(s, &version) < 0)
        r = bg_err_set(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->db));
    if (r >= 0 && version > (int64_t)store_schema_latest)
        r = bg_err_set(err, -EPROTO, "database schema %lld is newer than this code (%zu)",
                       (long long)version, store_schema_latest);
    for (size_t i = (size_t)version; r >= 0 && i < store_schema_latest; i++) {
        char sql[64];
        r = sq_exec(s, "BEGIN IMMEDIATE;", err);
        if (r >= 0)
            r = sq_exec(s, store_migrations[i].sqlite, err);
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%zu);", i + 1);
        if (r >= 0)
            r = sq_exec(s, sql, err);
        if (r >= 0)
            r = sq_exec(s, "COMMIT;", err);
        if (r < 0) {
            (void)sq_exec(s, "ROLLBACK;", NULL);
            r = bg_err_prefix(err, r, "migration %zu", i + 1);
        }
    }
    unlock(s);
    return r;
}

static void sqlite_close(store *base)
{
    sqlite_store *s = SQ(base);
    if (!s)
        return;
    for (size_t i = 0; i < _CQ_MAX; i++)
        sqlite3_finalize(s->cached[i]);
    sqlite3_close_v2(s->db);
    if (s->wal_fd >= 0)
        close(s->wal_fd);
    pthread_mutex_destroy(&s->lock);
    store_group_destroy(&s->group);
    free(s->path);
    free(s);
}

/* A reader's check: the schema is one this code wrote. */
static int check_schema(sqlite_store *s, bg_err *err)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int64_t version = -1;
    if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        return bg_err_set(err, -EPROTO, "not a bootgate database: %s", sqlite3_errmsg(s->db));
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int64(st, 0);
    if (version < 1 || version > (int64_t)store_schema_latest)
        return bg_err_set(err, -EPROTO, "database schema %lld is not one this code knows (1..%zu)",
                          (long long)version, store_schema_latest);
    return 0;
}

static int sqlite_open(const char *path, store_open_mode mode, store **ret, bg_err *err)
{
    pthread_mutexattr_t a;
    sqlite_store *s = calloc(1, sizeof(*s));
    bool readonly = mode == STORE_OPEN_READONLY;
    int r;

    if (!s)
        return -ENOMEM;
    s->base.be = &store_backend_sqlite;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &a);
    pthread_mutexattr_destroy(&a);
    store_group_init(&s->group);
    s->wal_fd = -1;
    if (sqlite3_open_v2(
            path, &s->db,
            (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_FULLMUTEX,
            NULL) != SQLITE_OK) {
        r = bg_err_set(err, -EIO, "cannot open database %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite_close(&s->base);
        return r;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (readonly)
        r = check_schema(s, err);
    else {
        r = sq_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                    err);
        if (r >= 0 && mode == STORE_OPEN_MIGRATE)
            r = sqlite_migrate(&s->base, err);
    }
    if (r >= 0 && strcmp(path, ":memory:") != 0) {
        struct stat st;
        if (stat(path, &st) < 0)
            r = bg_err_set(err, -errno, "cannot stat database %s: %m", path);
        else if (!(s->path = strdup(path)))
            r = -ENOMEM;
        else {
            s->dev = st.st_dev;
            s->ino = st.st_ino;
        }
    }
    if (r < 0) {
        sqlite_close(&s->base);
        return r;
    }
    *ret = &s->base;
    return 0;
}

static int sqlite_ping(store *base)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = sq_file_check(s) == 0 && sq_exec(s, "SELECT 1;", NULL) == 0 ? 1 : 0;
    unlock(s);
    return r;
}

/* A transaction commits without its own fsync (synchronous=NORMAL while it
 * runs); the connection is FULL again for writes outside transactions. */
static int sqlite_begin(store *base)
{
    sqlite_store *s = SQ(base);
    lock(s);
    if (sq_file_check(s) < 0 || sq_cexec(s, CQ_SYNC_NORMAL) < 0 || sq_cexec(s, CQ_BEGIN) < 0) {
        (void)sq_cexec(s, CQ_SYNC_FULL);
        unlock(s);
        return -EIO;
    }
    return 0;
}

/* store_group_wait's sync: every commit counted so far is in the WAL file
 * (its COMMIT returned), so one fdatasync of it makes them durable. */
static int wal_sync(void *arg, uint64_t *ret_upto)
{
    sqlite_store *s = arg;
    int r = 0;
    lock(s);
    *ret_upto = s->committed;
    if (s->wal_fd < 0) {
        char wal[PATH_MAX];
        snprintf(wal, sizeof(wal), "%s-wal", s->path);
        s->wal_fd = open(wal, O_RDONLY | O_CLOEXEC);
    }
    unlock(s);
    if (s->wal_fd < 0 || fdatasync(s->wal_fd) < 0) {
        r = -errno;
        store_error_set("sqlite: cannot sync the WAL: %s", strerror(-r));
    }
    return r;
}

/* COMMIT under the store lock, the sync outside it (store_group_wait): a
 * transaction's commit is durable when this returns (as with
 * synchronous=FULL), and the commits of concurrent transactions share one
 * fdatasync. */
static int sqlite_commit(store *base)
{
    sqlite_store *s = SQ(base);
    uint64_t seq = 0;
    int r = sq_cexec(s, CQ_COMMIT);
    if (r < 0)
        (void)sq_cexec(s, CQ_ROLLBACK);
    else
        seq = ++s->committed;
    if (sq_cexec(s, CQ_SYNC_FULL) < 0 && r >= 0)
        r = -EIO;
    unlock(s);
    if (r >= 0 && s->path && seq)
        r = store_group_wait(&s->group, seq, wal_sync, s);
    return r;
}

static void sqlite_rollback(store *base)
{
    sqlite_store *s = SQ(base);
    (void)sq_cexec(s, CQ_ROLLBACK);
    (void)sq_cexec(s, CQ_SYNC_FULL);
    unlock(s);
}

const store_backend store_backend_sqlite = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .ping = sqlite_ping,
    .schema_version = sqlite_schema_version,
    .migrate = sqlite_migrate,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .node_put = sqlite_node_put,
    .node_get = sqlite_node_get,
    .node_set_state = sqlite_node_set_state,
    .node_delete = sqlite_node_delete,
    .node_list = sqlite_node_list,
    .volume_put = sqlite_volume_put,
    .volume_get = sqlite_volume_get,
    .volume_count = sqlite_volume_count,
    .nonce_use = sqlite_nonce_use,
    .policy_put = sqlite_policy_put,
    .policy_get = sqlite_policy_get,
    .policy_get_active = sqlite_policy_get_active,
    .policy_activate = sqlite_policy_activate,
    .policy_list = sqlite_policy_list,
    .denial_find = sqlite_denial_find,
    .grant_put = sqlite_grant_put,
    .grant_get = sqlite_grant_get,
    .grant_approve = sqlite_grant_approve,
    .grant_set_state = sqlite_grant_set_state,
    .grant_list_usable = sqlite_grant_list_usable,
    .grant_use = sqlite_grant_use,
    .grant_list = sqlite_grant_list,
    .grant_expire = sqlite_grant_expire,
    .evidence_has = sqlite_evidence_has,
    .attempt_put = sqlite_attempt_put,
    .attempt_get = sqlite_attempt_get,
    .attempt_list = sqlite_attempt_list,
    .attempt_latest = sqlite_attempt_latest,
    .attempt_since = sqlite_attempt_since,
    .evidence_get = sqlite_evidence_get,
    .attempt_stats = sqlite_attempt_stats,
    .evidence_sweep = sqlite_evidence_sweep,
    .audit_append = sqlite_audit_append,
    .audit_head = sqlite_audit_head,
    .audit_list = sqlite_audit_list,
};
