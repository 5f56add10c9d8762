/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "cleanup.h"
#include "util.h"

/* The statements of the unlock path (and of every transaction), prepared
 * once per connection and reused with sqlite3_reset: parsing them again on
 * every request cost more than running them. A cached statement is used only
 * with the store lock held and is reset before the lock is released (the
 * _locked helpers below), so no two requests ever share one mid-step. */
typedef enum cached_sql {
    CQ_BEGIN,
    CQ_COMMIT,
    CQ_ROLLBACK,
    CQ_SYNC_NORMAL,
    CQ_SYNC_FULL,
    CQ_NONCE_EXPIRE,
    CQ_NONCE_INSERT,
    CQ_NODE_GET,
    CQ_VOLUME_GET,
    CQ_POLICY_ACTIVE,
    CQ_AUDIT_LAST,
    CQ_AUDIT_INSERT,
    _CQ_MAX,
} cached_sql;

#define POLICY_COLS "SELECT name, version, json, signature, signer, active, created FROM policies "

static const char *const cached_sql_text[_CQ_MAX] = {
    [CQ_BEGIN] = "BEGIN IMMEDIATE",
    [CQ_COMMIT] = "COMMIT",
    [CQ_ROLLBACK] = "ROLLBACK",
    [CQ_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [CQ_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [CQ_NONCE_EXPIRE] = "DELETE FROM used_nonces WHERE expires < ?", /* the cutoff */
    [CQ_NONCE_INSERT] = "INSERT INTO used_nonces (nonce, expires) VALUES (?, ?)",
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
};

struct store {
    sqlite3 *db;
    pthread_mutex_t lock; /* recursive: a transaction holds it across calls */
    sqlite3_stmt *cached[_CQ_MAX];
    int64_t nonce_cutoff; /* used-nonce rows below it are purged (never decreases) */
};

/* Migrations run in order at start; schema_version holds how many have run.
 * Append only: never edit a released migration. */
static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE nodes ("
    " id TEXT PRIMARY KEY, hostname TEXT NOT NULL, grp TEXT NOT NULL, state INTEGER NOT NULL,"
    " ek_fingerprint TEXT NOT NULL UNIQUE, ek_cert_verified INTEGER NOT NULL,"
    " ek_cert_subject TEXT NOT NULL, ek_pub BLOB NOT NULL, ak_pub BLOB NOT NULL,"
    " ak_name BLOB NOT NULL, activation_hash BLOB, activation_expires INTEGER NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE volumes ("
    " node_id TEXT NOT NULL REFERENCES nodes(id), uuid TEXT NOT NULL, wrapped BLOB NOT NULL,"
    " created INTEGER NOT NULL, PRIMARY KEY (node_id, uuid));"
    "CREATE TABLE used_nonces (nonce BLOB PRIMARY KEY, expires INTEGER NOT NULL);"
    "CREATE INDEX used_nonces_expires ON used_nonces(expires);"
    "CREATE TABLE policies ("
    " name TEXT NOT NULL, version INTEGER NOT NULL, json TEXT NOT NULL, signature TEXT NOT NULL,"
    " signer TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    " PRIMARY KEY (name, version));"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY, time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
    " node TEXT NOT NULL, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    /* append-only; someone with write access to the file can drop these, which
     * is what the hash chain is for */
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;",
    /* 2: break-glass grants (DESIGN §4) */
    "CREATE TABLE grants ("
    " id TEXT PRIMARY KEY, node_id TEXT NOT NULL, code TEXT NOT NULL, scope TEXT NOT NULL,"
    " pcrs TEXT NOT NULL, reason TEXT NOT NULL, not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL, uses INTEGER NOT NULL, uses_left INTEGER NOT NULL,"
    " state INTEGER NOT NULL, requested_by TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE INDEX grants_node ON grants(node_id, state);"
    "CREATE TABLE grant_approvals ("
    " grant_id TEXT NOT NULL REFERENCES grants(id), approver TEXT NOT NULL,"
    " signature TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (grant_id, approver));",
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static void lock(store *s)
{
    pthread_mutex_lock(&s->lock);
}

static void unlock(store *s)
{
    pthread_mutex_unlock(&s->lock);
}

static int exec(store *s, const char *sql, bg_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int r = bg_err_set(err, -EIO, "sqlite: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return r;
    }
    return 0;
}

/* The cached statement q, prepared on first use. Store lock held. */
static int cprep(store *s, cached_sql q, sqlite3_stmt **st)
{
    if (!s->cached[q] &&
        sqlite3_prepare_v3(s->db, cached_sql_text[q], -1, SQLITE_PREPARE_PERSISTENT, &s->cached[q],
                           NULL) != SQLITE_OK) {
        s->cached[q] = NULL;
        return -EIO;
    }
    *st = s->cached[q];
    return 0;
}

/* Cleanup of a cached statement: reset (ends its read, drops the bound
 * values, which point into the caller's memory), never finalized. */
static void releasep(sqlite3_stmt **st)
{
    if (*st) {
        sqlite3_reset(*st);
        sqlite3_clear_bindings(*st);
    }
}

/* Runs a cached statement without parameters (BEGIN, COMMIT, PRAGMA). Store lock held. */
static int cexec(store *s, cached_sql q)
{
    sqlite3_stmt *st = NULL;
    int rc, r = cprep(s, q, &st);
    if (r < 0)
        return r;
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

static int migrate(store *s, bg_err *err)
{
    sqlite3_stmt *st = NULL;
    int version = 0, r;

    r = exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);", err);
    if (r < 0)
        return r;
    if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK)
        return bg_err_set(err, -EIO, "sqlite: %s", sqlite3_errmsg(s->db));
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > (int)ELEMENTSOF(migrations))
        return bg_err_set(err, -EPROTO, "database schema %d is newer than this bootgated (%zu)",
                          version, ELEMENTSOF(migrations));
    for (size_t i = (size_t)version; i < ELEMENTSOF(migrations); i++) {
        char sql[64];
        r = exec(s, "BEGIN IMMEDIATE;", err);
        if (r >= 0)
            r = exec(s, migrations[i], err);
        snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%zu);", i + 1);
        if (r >= 0)
            r = exec(s, sql, err);
        if (r >= 0)
            r = exec(s, "COMMIT;", err);
        if (r < 0) {
            (void)exec(s, "ROLLBACK;", NULL);
            return bg_err_prefix(err, r, "migration %zu", i + 1);
        }
    }
    return 0;
}

int store_open(const char *path, store **ret, bg_err *err)
{
    pthread_mutexattr_t a;
    store *s = calloc(1, sizeof(*s));
    int r;

    if (!s)
        return -ENOMEM;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        r = bg_err_set(err, -EIO, "cannot open database %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return r;
    }
    sqlite3_busy_timeout(s->db, 5000);
    r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", err);
    if (r >= 0)
        r = migrate(s, err);
    if (r < 0) {
        store_close(s);
        return r;
    }
    *ret = s;
    return 0;
}

void store_close(store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < _CQ_MAX; i++)
        sqlite3_finalize(s->cached[i]);
    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int store_ping(store *s)
{
    int r;
    lock(s);
    r = exec(s, "SELECT 1;", NULL) == 0 ? 1 : 0;
    unlock(s);
    return r;
}

int store_begin(store *s)
{
    lock(s);
    if (cexec(s, CQ_BEGIN) < 0) {
        unlock(s);
        return -EIO;
    }
    return 0;
}

int store_commit(store *s)
{
    int r = cexec(s, CQ_COMMIT);
    if (r < 0)
        (void)cexec(s, CQ_ROLLBACK);
    unlock(s);
    return r;
}

void store_rollback(store *s)
{
    (void)cexec(s, CQ_ROLLBACK);
    unlock(s);
}

/* ---- statement helpers ---- */

static int prep(store *s, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(s->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -EIO;
}

static void finalizep(sqlite3_stmt **st)
{
    sqlite3_finalize(*st);
}

static void copy_text(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static size_t copy_blob(sqlite3_stmt *st, int col, uint8_t *dst, size_t size)
{
    const void *b = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    if (!b || n > size)
        return 0;
    memcpy(dst, b, n);
    return n;
}

static int step_done(store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc == SQLITE_CONSTRAINT)
        return -EEXIST;
    return -EIO;
}

/* step_done for an UPDATE of one row: -ENOENT when no row matched. */
static int step_changed(store *s, sqlite3_stmt *st)
{
    int r = step_done(s, st);
    if (r >= 0 && sqlite3_changes(s->db) == 0)
        r = -ENOENT;
    return r;
}

/* One expected row: 0 with the row current, -ENOENT for none, -EIO on errors. */
static int step_row(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : -EIO;
}

/* Runs a statement with one text parameter, e.g. a DELETE by id. */
static int exec_text(store *s, const char *sql, const char *text)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r = prep(s, sql, &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        r = step_done(s, st);
    }
    return r;
}

static void add_col_text(json_object *o, const char *key, sqlite3_stmt *st, int col)
{
    json_object_object_add(o, key,
                           json_object_new_string((const char *)sqlite3_column_text(st, col)));
}

static void add_col_int64(json_object *o, const char *key, sqlite3_stmt *st, int col)
{
    json_object_object_add(o, key, json_object_new_int64(sqlite3_column_int64(st, col)));
}

/* The rows of a prepared statement as a JSON array, one row(st) each; r < 0
 * (a failed prep) passes through. */
static int rows_json(sqlite3_stmt *st, int r, json_object *(*row)(sqlite3_stmt *st),
                     json_object **ret)
{
    json_object *a;
    if (r < 0)
        return r;
    a = json_object_new_array();
    if (!a)
        return -ENOMEM;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_object *o = row(st);
        if (!o) {
            json_object_put(a);
            return -ENOMEM;
        }
        json_object_array_add(a, o);
    }
    *ret = a;
    return 0;
}

/* ---- nodes ---- */

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

int store_node_put(store *s, const store_node *n)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    store_node old;
    int r;

    lock(s);
    r = store_node_get(s, n->id, &old);
    if (r >= 0 && (old.state == NODE_ACTIVE || old.state == NODE_REVOKED)) {
        r = -EEXIST;
        goto out;
    }
    if (r >= 0) {
        /* re-enrollment before activation/approval: start over, old keys included */
        r = exec_text(s, "DELETE FROM volumes WHERE node_id = ?", n->id);
        if (r >= 0)
            r = exec_text(s, "DELETE FROM nodes WHERE id = ?", n->id);
        if (r < 0)
            goto out;
    }
    /* plain INSERT: a duplicate EK fingerprint under another id is refused,
     * never silently replaced */
    r = prep(s,
             "INSERT INTO nodes (id, hostname, grp, state, ek_fingerprint,"
             " ek_cert_verified, ek_cert_subject, ek_pub, ak_pub, ak_name, activation_hash,"
             " activation_expires, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
             &st);
    if (r < 0)
        goto out;
    sqlite3_bind_text(st, 1, n->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, n->hostname, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, n->group, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, (int)n->state);
    sqlite3_bind_text(st, 5, n->ek_fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, n->ek_cert_verified);
    sqlite3_bind_text(st, 7, n->ek_cert_subject, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, n->ek_pub, (int)n->ek_pub_size, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, n->ak_pub, (int)n->ak_pub_size, SQLITE_STATIC);
    sqlite3_bind_blob(st, 10, n->ak_name, (int)n->ak_name_size, SQLITE_STATIC);
    sqlite3_bind_blob(st, 11, n->activation_hash, sizeof(n->activation_hash), SQLITE_STATIC);
    sqlite3_bind_int64(st, 12, n->activation_expires);
    sqlite3_bind_int64(st, 13, n->created ? n->created : now_s());
    sqlite3_bind_int64(st, 14, now_s());
    r = step_done(s, st);
out:
    unlock(s);
    return r;
}

static int node_get_locked(store *s, const char *id, store_node *ret)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = cprep(s, CQ_NODE_GET, &st);
    if (r < 0)
        return r;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    r = step_row(st);
    if (r < 0)
        return r;
    memset(ret, 0, sizeof(*ret));
    copy_text(st, 0, ret->id, sizeof(ret->id));
    copy_text(st, 1, ret->hostname, sizeof(ret->hostname));
    copy_text(st, 2, ret->group, sizeof(ret->group));
    ret->state = (store_node_state)sqlite3_column_int(st, 3);
    copy_text(st, 4, ret->ek_fingerprint, sizeof(ret->ek_fingerprint));
    ret->ek_cert_verified = sqlite3_column_int(st, 5) != 0;
    copy_text(st, 6, ret->ek_cert_subject, sizeof(ret->ek_cert_subject));
    ret->ek_pub_size = copy_blob(st, 7, ret->ek_pub, sizeof(ret->ek_pub));
    ret->ak_pub_size = copy_blob(st, 8, ret->ak_pub, sizeof(ret->ak_pub));
    ret->ak_name_size = copy_blob(st, 9, ret->ak_name, sizeof(ret->ak_name));
    (void)copy_blob(st, 10, ret->activation_hash, sizeof(ret->activation_hash));
    ret->activation_expires = sqlite3_column_int64(st, 11);
    ret->created = sqlite3_column_int64(st, 12);
    ret->updated = sqlite3_column_int64(st, 13);
    return 0;
}

int store_node_get(store *s, const char *id, store_node *ret)
{
    int r;
    lock(s);
    r = node_get_locked(s, id, ret);
    unlock(s);
    return r;
}

int store_node_set_state(store *s, const char *id, store_node_state state)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "UPDATE nodes SET state = ?, updated = ? WHERE id = ?", &st);
    if (r >= 0) {
        sqlite3_bind_int(st, 1, (int)state);
        sqlite3_bind_int64(st, 2, now_s());
        sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
        r = step_changed(s, st);
    }
    unlock(s);
    return r;
}

int store_node_delete(store *s, const char *id)
{
    store_node old;
    int r;
    lock(s);
    r = store_node_get(s, id, &old);
    if (r >= 0 && old.state != NODE_REVOKED)
        r = -EPERM;
    if (r >= 0)
        r = exec(s, "SAVEPOINT node_delete;", NULL);
    if (r >= 0) {
        r = exec_text(s, "DELETE FROM volumes WHERE node_id = ?", id);
        if (r >= 0)
            r = exec_text(s, "DELETE FROM nodes WHERE id = ?", id);
        if (r >= 0)
            r = exec(s, "RELEASE node_delete;", NULL);
        else
            (void)exec(s, "ROLLBACK TO node_delete; RELEASE node_delete;", NULL);
    }
    unlock(s);
    return r;
}

static json_object *node_row_json(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    add_col_text(o, "node_id", st, 0);
    add_col_text(o, "hostname", st, 1);
    add_col_text(o, "group", st, 2);
    json_object_object_add(
        o, "state",
        json_object_new_string(store_node_state_name((store_node_state)sqlite3_column_int(st, 3))));
    add_col_text(o, "ek_fingerprint", st, 4);
    json_object_object_add(o, "ek_cert_verified",
                           json_object_new_boolean(sqlite3_column_int(st, 5)));
    add_col_int64(o, "created", st, 6);
    add_col_int64(o, "updated", st, 7);
    add_col_int64(o, "volumes", st, 8);
    return o;
}

int store_node_list(store *s, json_object **ret)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;

    lock(s);
    r = prep(s,
             "SELECT id, hostname, grp, state, ek_fingerprint, ek_cert_verified, created, updated,"
             " (SELECT count(*) FROM volumes v WHERE v.node_id = nodes.id)"
             " FROM nodes ORDER BY created, id",
             &st);
    r = rows_json(st, r, node_row_json, ret);
    unlock(s);
    return r;
}

/* ---- volumes ---- */

int store_volume_put(store *s, const char *node_id, const char *uuid, const uint8_t *wrapped,
                     size_t wrapped_size)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "INSERT OR REPLACE INTO volumes (node_id, uuid, wrapped, created) VALUES (?,?,?,?)",
             &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, uuid, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, wrapped, (int)wrapped_size, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_s());
        r = step_done(s, st);
    }
    unlock(s);
    return r;
}

static int volume_get_locked(store *s, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                             size_t *ret_size)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = cprep(s, CQ_VOLUME_GET, &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, uuid, -1, SQLITE_STATIC);
        r = step_row(st);
        if (r >= 0) {
            size_t n = (size_t)sqlite3_column_bytes(st, 0);
            uint8_t *b = malloc(n ? n : 1);
            if (!b)
                r = -ENOMEM;
            else {
                if (n)
                    memcpy(b, sqlite3_column_blob(st, 0), n);
                *ret_wrapped = b;
                *ret_size = n;
            }
        }
    }
    return r;
}

int store_volume_get(store *s, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                     size_t *ret_size)
{
    int r;
    lock(s);
    r = volume_get_locked(s, node_id, uuid, ret_wrapped, ret_size);
    unlock(s);
    return r;
}

int store_volume_count(store *s, const char *node_id)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "SELECT count(*) FROM volumes WHERE node_id = ?", &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
        r = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -EIO;
    }
    unlock(s);
    return r;
}

/* ---- nonces ---- */

/* Single use at every instant. A nonce's row is kept until its expiry is
 * older than the cutoff, now - STORE_NONCE_MARGIN, and the cutoff never goes
 * back (s->nonce_cutoff). A use whose expiry is below the cutoff is refused
 * with -ETIME before the table is looked at: its row may be gone, so the
 * table cannot say whether it was used. A request checked against an older
 * clock reading than another request's purge therefore fails closed instead
 * of finding its used row purged. */
static int nonce_insert_locked(store *s, const uint8_t *nonce, size_t size, int64_t expires,
                               int64_t now)
{
    _cleanup_(releasep) sqlite3_stmt *del = NULL;
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int64_t cutoff = now - STORE_NONCE_MARGIN;
    int r;

    if (cutoff > s->nonce_cutoff)
        s->nonce_cutoff = cutoff;
    if (expires < s->nonce_cutoff)
        return -ETIME;
    r = cprep(s, CQ_NONCE_EXPIRE, &del);
    if (r >= 0) {
        sqlite3_bind_int64(del, 1, s->nonce_cutoff);
        r = step_done(s, del);
    }
    if (r >= 0)
        r = cprep(s, CQ_NONCE_INSERT, &st);
    if (r >= 0) {
        sqlite3_bind_blob(st, 1, nonce, (int)size, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, expires);
        r = step_done(s, st);
    }
    return r;
}

int store_nonce_use(store *s, const uint8_t *nonce, size_t size, int64_t expires, int64_t now)
{
    bool relaxed = false;
    int r;
    lock(s);
    /* One transaction without its own fsync: every path after the nonce is
     * used ends in an audit commit with synchronous=FULL, whose fsync of the
     * WAL also makes this record durable (the WAL is one sequential file).
     * This keeps an unlock at one fsync instead of three. */
    if (sqlite3_get_autocommit(s->db)) {
        r = cexec(s, CQ_SYNC_NORMAL);
        if (r >= 0)
            r = cexec(s, CQ_BEGIN);
        if (r < 0) {
            (void)cexec(s, CQ_SYNC_FULL);
            unlock(s);
            return r;
        }
        relaxed = true;
    }
    r = nonce_insert_locked(s, nonce, size, expires, now);
    if (relaxed) {
        int c = cexec(s, r >= 0 ? CQ_COMMIT : CQ_ROLLBACK);
        if (r >= 0 && c < 0)
            r = c;
        if (cexec(s, CQ_SYNC_FULL) < 0 && r >= 0)
            r = -EIO; /* never leave the connection relaxed */
    }
    unlock(s);
    return r;
}

/* ---- policies ---- */

void store_policy_done(store_policy *p)
{
    if (!p)
        return;
    free(p->json);
    free(p->signature);
    p->json = p->signature = NULL;
}

int store_policy_put(store *s, const store_policy *p)
{
    _cleanup_(finalizep) sqlite3_stmt *q = NULL;
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "SELECT coalesce(max(version), -1) FROM policies WHERE name = ?", &q);
    if (r >= 0) {
        sqlite3_bind_text(q, 1, p->name, -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_ROW)
            r = -EIO;
        else if (sqlite3_column_int64(q, 0) >= p->version)
            r = -EEXIST;
    }
    if (r >= 0)
        r = prep(s,
                 "INSERT INTO policies (name, version, json, signature, signer, active, created)"
                 " VALUES (?,?,?,?,?,0,?)",
                 &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->version);
        sqlite3_bind_text(st, 3, p->json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, p->signature, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, p->signer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, now_s());
        r = step_done(s, st);
    }
    unlock(s);
    return r;
}

static int policy_row(sqlite3_stmt *st, store_policy *ret)
{
    memset(ret, 0, sizeof(*ret));
    copy_text(st, 0, ret->name, sizeof(ret->name));
    ret->version = sqlite3_column_int64(st, 1);
    ret->json = strdup((const char *)sqlite3_column_text(st, 2));
    ret->signature = strdup((const char *)sqlite3_column_text(st, 3));
    copy_text(st, 4, ret->signer, sizeof(ret->signer));
    ret->active = sqlite3_column_int(st, 5) != 0;
    ret->created = sqlite3_column_int64(st, 6);
    if (!ret->json || !ret->signature) {
        store_policy_done(ret);
        return -ENOMEM;
    }
    return 0;
}

int store_policy_get(store *s, const char *name, int64_t version, store_policy *ret)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, POLICY_COLS "WHERE name = ? AND version = ?", &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, version);
        r = step_row(st);
        if (r >= 0)
            r = policy_row(st, ret);
    }
    unlock(s);
    return r;
}

static int policy_get_active_locked(store *s, const char *name, store_policy *ret)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = cprep(s, CQ_POLICY_ACTIVE, &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        r = step_row(st);
        if (r >= 0)
            r = policy_row(st, ret);
    }
    return r;
}

int store_policy_get_active(store *s, const char *name, store_policy *ret)
{
    int r;
    lock(s);
    r = policy_get_active_locked(s, name, ret);
    unlock(s);
    return r;
}

int store_policy_activate(store *s, const char *name, int64_t version)
{
    _cleanup_(finalizep) sqlite3_stmt *on = NULL;
    int r;
    lock(s);
    r = exec(s, "SAVEPOINT activate;", NULL);
    if (r >= 0)
        r = exec_text(s, "UPDATE policies SET active = 0 WHERE name = ?", name);
    if (r >= 0)
        r = prep(s, "UPDATE policies SET active = 1 WHERE name = ? AND version = ?", &on);
    if (r >= 0) {
        sqlite3_bind_text(on, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(on, 2, version);
        r = step_changed(s, on);
    }
    if (r >= 0)
        r = exec(s, "RELEASE activate;", NULL);
    else
        (void)exec(s, "ROLLBACK TO activate; RELEASE activate;", NULL);
    unlock(s);
    return r;
}

static json_object *policy_row_json(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    add_col_text(o, "name", st, 0);
    add_col_int64(o, "version", st, 1);
    add_col_text(o, "signer", st, 2);
    json_object_object_add(o, "active", json_object_new_boolean(sqlite3_column_int(st, 3)));
    add_col_int64(o, "created", st, 4);
    return o;
}

int store_policy_list(store *s, json_object **ret)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             "SELECT name, version, signer, active, created FROM policies ORDER BY name, version",
             &st);
    r = rows_json(st, r, policy_row_json, ret);
    unlock(s);
    return r;
}

/* ---- break-glass grants ---- */

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

int store_denial_find(store *s, const char *code, char *ret_node, size_t node_size,
                      pcr_bank *ret_observed, bool *ret_has_observed)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             "SELECT node, json_extract(details, '$.observed') FROM audit"
             " WHERE action = 'unlock_denied' AND json_extract(details, '$.breakglass_code') = ?"
             " ORDER BY seq DESC LIMIT 1",
             &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, code, -1, SQLITE_STATIC);
        r = step_row(st);
        if (r >= 0) {
            const unsigned char *hex = sqlite3_column_text(st, 1);
            copy_text(st, 0, ret_node, node_size);
            /* the canonical encoding the denial recorded (tpmalg.h) */
            *ret_has_observed = hex && pcr_bank_decode_hex((const char *)hex, ret_observed) >= 0;
        }
    }
    unlock(s);
    return r;
}

void store_grant_done(store_grant *g)
{
    (void)g;
}

int store_grant_put(store *s, const store_grant *g)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             "INSERT INTO grants (id, node_id, code, scope, pcrs, reason, not_before, not_after,"
             " uses, uses_left, state, requested_by, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
             &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, g->node_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, g->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, g->scope, -1, SQLITE_STATIC);
        /* observed PCRs as data: their canonical encoding (bank, selection,
         * raw digests), compared as such; empty for scope any */
        if (g->has_observed) {
            uint8_t enc[PCR_BANK_ENCODED_MAX];
            size_t n = pcr_bank_encode(&g->observed, enc);
            sqlite3_bind_blob(st, 5, enc, (int)n, SQLITE_TRANSIENT);
        } else
            sqlite3_bind_blob(st, 5, "", 0, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, g->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 7, g->not_before);
        sqlite3_bind_int64(st, 8, g->not_after);
        sqlite3_bind_int64(st, 9, g->uses);
        sqlite3_bind_int64(st, 10, g->uses_left);
        sqlite3_bind_int(st, 11, (int)g->state);
        sqlite3_bind_text(st, 12, g->requested_by, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 13, now_s());
        r = step_done(s, st);
    }
    unlock(s);
    return r;
}

#define GRANT_COLS                                                                                 \
    "SELECT id, node_id, code, scope, pcrs, reason, not_before, not_after, uses, uses_left,"       \
    " state, requested_by, created, (SELECT count(*) FROM grant_approvals a"                       \
    " WHERE a.grant_id = grants.id) FROM grants "

static int grant_row(sqlite3_stmt *st, store_grant *g)
{
    memset(g, 0, sizeof(*g));
    copy_text(st, 0, g->id, sizeof(g->id));
    copy_text(st, 1, g->node_id, sizeof(g->node_id));
    copy_text(st, 2, g->code, sizeof(g->code));
    copy_text(st, 3, g->scope, sizeof(g->scope));
    /* rows of earlier versions hold JSON text here: it does not decode, so
     * such a grant never matches an observed state (fails closed) */
    g->has_observed = sqlite3_column_type(st, 4) == SQLITE_BLOB &&
                      pcr_bank_decode(sqlite3_column_blob(st, 4),
                                      (size_t)sqlite3_column_bytes(st, 4), &g->observed) >= 0;
    copy_text(st, 5, g->reason, sizeof(g->reason));
    g->not_before = sqlite3_column_int64(st, 6);
    g->not_after = sqlite3_column_int64(st, 7);
    g->uses = sqlite3_column_int64(st, 8);
    g->uses_left = sqlite3_column_int64(st, 9);
    g->state = (store_grant_state)sqlite3_column_int(st, 10);
    copy_text(st, 11, g->requested_by, sizeof(g->requested_by));
    g->created = sqlite3_column_int64(st, 12);
    g->approvals = sqlite3_column_int64(st, 13);
    return 0;
}

static void grants_free(store_grant *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_grant_done(&a[i]);
    free(a);
}

/* Collects the grant rows of a prepared statement into a growing array; on
 * failure *a and *n hold what was collected so far, for grants_free. */
static int grant_rows(sqlite3_stmt *st, int r, store_grant **a, size_t *n)
{
    while (r >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        store_grant *na = realloc(*a, (*n + 1) * sizeof(**a));
        if (!na)
            return -ENOMEM;
        *a = na;
        r = grant_row(st, &na[*n]);
        if (r >= 0)
            (*n)++;
    }
    return r;
}

int store_grant_get(store *s, const char *id, store_grant *ret)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, GRANT_COLS "WHERE id = ?", &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        r = step_row(st);
        if (r >= 0)
            r = grant_row(st, ret);
    }
    unlock(s);
    return r;
}

int store_grant_list_usable(store *s, const char *node_id, int64_t now, store_grant **ret,
                            size_t *ret_n)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    store_grant *a = NULL;
    size_t n = 0;
    int r;
    lock(s);
    r = prep(s,
             GRANT_COLS "WHERE node_id = ? AND state = 1 AND uses_left > 0 AND not_before <= ?"
                        " AND not_after > ? ORDER BY created LIMIT 16",
             &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, node_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_int64(st, 3, now);
    }
    r = grant_rows(st, r, &a, &n);
    unlock(s);
    if (r < 0) {
        grants_free(a, n);
        return r;
    }
    *ret = a;
    *ret_n = n;
    return 0;
}

int store_grant_approve(store *s, const char *id, const char *approver, const char *sig_b64)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             "INSERT INTO grant_approvals (grant_id, approver, signature, created)"
             " VALUES (?,?,?,?)",
             &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, approver, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, sig_b64, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_s());
        r = step_done(s, st);
    }
    unlock(s);
    return r;
}

int store_grant_set_state(store *s, const char *id, store_grant_state state)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "UPDATE grants SET state = ? WHERE id = ?", &st);
    if (r >= 0) {
        sqlite3_bind_int(st, 1, (int)state);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        r = step_changed(s, st);
    }
    unlock(s);
    return r;
}

int store_grant_use(store *s, const char *id)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, "UPDATE grants SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0", &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        r = step_changed(s, st);
    }
    unlock(s);
    return r;
}

static json_object *grant_row_json(sqlite3_stmt *st)
{
    store_grant g;
    json_object *o;
    if (grant_row(st, &g) < 0)
        return NULL;
    o = store_grant_to_json(&g);
    store_grant_done(&g);
    return o;
}

int store_grant_list(store *s, json_object **ret)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, GRANT_COLS "ORDER BY created DESC LIMIT 1000", &st);
    r = rows_json(st, r, grant_row_json, ret);
    unlock(s);
    return r;
}

int store_grant_expire(store *s, int64_t now, store_grant **ret, size_t *ret_n)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    _cleanup_(finalizep) sqlite3_stmt *up = NULL;
    store_grant *a = NULL;
    size_t n = 0;
    int r;
    lock(s);
    /* the same rows for both statements (the caller's transaction holds the
     * lock): every grant marked expired is one the caller writes a record for */
    r = prep(s, GRANT_COLS "WHERE state IN (0, 1) AND not_after <= ? ORDER BY id LIMIT 256", &st);
    if (r >= 0)
        sqlite3_bind_int64(st, 1, now);
    r = grant_rows(st, r, &a, &n);
    if (r >= 0)
        r = prep(s,
                 "UPDATE grants SET state = 3 WHERE id IN (SELECT id FROM grants"
                 " WHERE state IN (0, 1) AND not_after <= ? ORDER BY id LIMIT 256)",
                 &up);
    if (r >= 0) {
        sqlite3_bind_int64(up, 1, now);
        r = step_done(s, up);
    }
    unlock(s);
    if (r < 0) {
        grants_free(a, n);
        return r;
    }
    *ret = a;
    *ret_n = n;
    return 0;
}

json_object *store_grant_to_json(const store_grant *g)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(g->id));
    json_object_object_add(o, "node_id", json_object_new_string(g->node_id));
    json_object_object_add(o, "code", json_object_new_string(g->code));
    json_object_object_add(o, "scope", json_object_new_string(g->scope));
    json_object_object_add(o, "reason", json_object_new_string(g->reason));
    json_object_object_add(o, "not_before", json_object_new_int64(g->not_before));
    json_object_object_add(o, "not_after", json_object_new_int64(g->not_after));
    json_object_object_add(o, "uses", json_object_new_int64(g->uses));
    json_object_object_add(o, "uses_left", json_object_new_int64(g->uses_left));
    json_object_object_add(o, "state", json_object_new_string(store_grant_state_name(g->state)));
    json_object_object_add(o, "approvals", json_object_new_int64(g->approvals));
    json_object_object_add(o, "requested_by", json_object_new_string(g->requested_by));
    if (g->has_observed) {
        char *hex = pcr_bank_encode_hex(&g->observed);
        json_object_object_add(o, "observed", hex ? json_object_new_string(hex) : NULL);
        free(hex);
    }
    return o;
}

/* ---- audit ---- */

static void iso_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int audit_append_locked(store *s, const char *actor, const char *action, const char *node,
                               json_object *details, int64_t *ret_seq)
{
    _cleanup_(releasep) sqlite3_stmt *q = NULL;
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    uint8_t prev[AUDITCHAIN_HASH_SIZE] = {0}, hash[AUDITCHAIN_HASH_SIZE];
    char prev_hex[2 * AUDITCHAIN_HASH_SIZE + 1], hash_hex[2 * AUDITCHAIN_HASH_SIZE + 1], t[32];
    const char *det = details
                          ? json_object_to_json_string_ext(
                                details, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                          : "{}";
    int64_t seq = 1;
    int r;

    r = cprep(s, CQ_AUDIT_LAST, &q);
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
        r = cprep(s, CQ_AUDIT_INSERT, &st);
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

int store_audit_append(store *s, const char *actor, const char *action, const char *node,
                       json_object *details, int64_t *ret_seq)
{
    int r;
    lock(s);
    r = audit_append_locked(s, actor, action, node, details, ret_seq);
    unlock(s);
    return r;
}

int store_audit_head(store *s, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                     char *ret_action, size_t action_size)
{
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

static json_object *audit_row_json(sqlite3_stmt *st)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    add_col_int64(o, "seq", st, 0);
    add_col_text(o, "time", st, 1);
    add_col_text(o, "actor", st, 2);
    add_col_text(o, "action", st, 3);
    add_col_text(o, "node", st, 4);
    /* the stored text, byte for byte: it is what the chain hashes */
    add_col_text(o, "details", st, 5);
    add_col_text(o, "prev_hash", st, 6);
    add_col_text(o, "hash", st, 7);
    return o;
}

int store_audit_list(store *s, int64_t since, int64_t limit, json_object **ret)
{
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
    r = rows_json(st, r, audit_row_json, ret);
    unlock(s);
    return r;
}

int store_audit_verify(store *s, int64_t *ret_count, int64_t *ret_bad_seq, bg_err *err)
{
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    uint8_t prev[AUDITCHAIN_HASH_SIZE] = {0}, hash[AUDITCHAIN_HASH_SIZE];
    char hex[2 * AUDITCHAIN_HASH_SIZE + 1];
    int64_t count = 0, expect = 1;
    int r;

    *ret_bad_seq = 0;
    lock(s);
    r = prep(s,
             "SELECT seq, time, actor, action, node, details, prev_hash, hash FROM audit"
             " ORDER BY seq",
             &st);
    while (r >= 0 && sqlite3_step(st) == SQLITE_ROW) {
        auditchain_record rec = {
            .seq = sqlite3_column_int64(st, 0),
            .time = (const char *)sqlite3_column_text(st, 1),
            .actor = (const char *)sqlite3_column_text(st, 2),
            .action = (const char *)sqlite3_column_text(st, 3),
            .node = (const char *)sqlite3_column_text(st, 4),
            .details = (const char *)sqlite3_column_text(st, 5),
        };
        const char *stored_prev = (const char *)sqlite3_column_text(st, 6);
        const char *stored_hash = (const char *)sqlite3_column_text(st, 7);
        if (rec.seq != expect) {
            *ret_bad_seq = expect;
            r = bg_err_set(err, -EBADMSG, "record %lld missing (next is %lld)", (long long)expect,
                           (long long)rec.seq);
            break;
        }
        hex_encode(prev, sizeof(prev), hex);
        if (!stored_prev || strcmp(hex, stored_prev) != 0) {
            *ret_bad_seq = rec.seq;
            r = bg_err_set(err, -EBADMSG, "record %lld: prev_hash does not match record %lld",
                           (long long)rec.seq, (long long)rec.seq - 1);
            break;
        }
        r = auditchain_hash(prev, &rec, hash, err);
        if (r < 0)
            break;
        hex_encode(hash, sizeof(hash), hex);
        if (!stored_hash || strcmp(hex, stored_hash) != 0) {
            *ret_bad_seq = rec.seq;
            r = bg_err_set(err, -EBADMSG, "record %lld: hash does not match its contents",
                           (long long)rec.seq);
            break;
        }
        memcpy(prev, hash, sizeof(prev));
        count++;
        expect++;
    }
    unlock(s);
    *ret_count = count;
    return r;
}
