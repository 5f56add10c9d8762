/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite backend: nodes, their volume keys, used nonces. */
#include "sqlite.h"

/* ---- nodes ---- */

int sqlite_node_put(store *base, const store_node *n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    store_node old;
    int r;

    lock(s);
    r = sqlite_node_get(&s->base, n->id, &old);
    if (r >= 0 && (old.state == NODE_ACTIVE || old.state == NODE_REVOKED)) {
        r = -EEXIST;
        goto out;
    }
    if (r >= 0) {
        /* re-enrollment before activation/approval: start over, old keys included */
        r = sq_exec_text(s, "DELETE FROM volumes WHERE node_id = ?", n->id);
        if (r >= 0)
            r = sq_exec_text(s, "DELETE FROM nodes WHERE id = ?", n->id);
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

static int node_get_locked(sqlite_store *s, const char *id, store_node *ret)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = sq_cprep(s, CQ_NODE_GET, &st);
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

int sqlite_node_get(store *base, const char *id, store_node *ret)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = node_get_locked(s, id, ret);
    unlock(s);
    return r;
}

int sqlite_node_set_state(store *base, const char *id, store_node_state state)
{
    sqlite_store *s = SQ(base);
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

int sqlite_node_delete(store *base, const char *id)
{
    sqlite_store *s = SQ(base);
    store_node old;
    int r;
    lock(s);
    r = sqlite_node_get(&s->base, id, &old);
    if (r >= 0 && old.state != NODE_REVOKED)
        r = -EPERM;
    if (r >= 0)
        r = sq_exec(s, "SAVEPOINT node_delete;", NULL);
    if (r >= 0) {
        r = sq_exec_text(s, "DELETE FROM volumes WHERE node_id = ?", id);
        if (r >= 0)
            r = sq_exec_text(s, "DELETE FROM nodes WHERE id = ?", id);
        if (r >= 0)
            r = sq_exec(s, "RELEASE node_delete;", NULL);
        else
            (void)sq_exec(s, "ROLLBACK TO node_delete; RELEASE node_delete;", NULL);
    }
    unlock(s);
    return r;
}

static int node_summary_row(sqlite3_stmt *st, void *out)
{
    store_node_summary *n = out;
    copy_text(st, 0, n->id, sizeof(n->id));
    copy_text(st, 1, n->hostname, sizeof(n->hostname));
    copy_text(st, 2, n->group, sizeof(n->group));
    n->state = (store_node_state)sqlite3_column_int(st, 3);
    copy_text(st, 4, n->ek_fingerprint, sizeof(n->ek_fingerprint));
    n->ek_cert_verified = sqlite3_column_int(st, 5) != 0;
    n->created = sqlite3_column_int64(st, 6);
    n->updated = sqlite3_column_int64(st, 7);
    n->volumes = sqlite3_column_int64(st, 8);
    return 0;
}

int sqlite_node_list(store *base, store_node_summary **ret, size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;

    lock(s);
    r = prep(s,
             "SELECT id, hostname, grp, state, ek_fingerprint, ek_cert_verified, created, updated,"
             " (SELECT count(*) FROM volumes v WHERE v.node_id = nodes.id)"
             " FROM nodes ORDER BY created, id",
             &st);
    r = sq_collect_rows(st, r, sizeof(**ret), node_summary_row, NULL, (void **)ret, ret_n);
    unlock(s);
    return r;
}

/* ---- volumes ---- */

int sqlite_volume_put(store *base, const char *node_id, const char *uuid, const uint8_t *wrapped,
                      size_t wrapped_size)
{
    sqlite_store *s = SQ(base);
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

static int volume_get_locked(sqlite_store *s, const char *node_id, const char *uuid,
                             uint8_t **ret_wrapped, size_t *ret_size)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = sq_cprep(s, CQ_VOLUME_GET, &st);
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

int sqlite_volume_get(store *base, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                      size_t *ret_size)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = volume_get_locked(s, node_id, uuid, ret_wrapped, ret_size);
    unlock(s);
    return r;
}

int sqlite_volume_count(store *base, const char *node_id)
{
    sqlite_store *s = SQ(base);
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
 * of finding its used row purged. The cutoff that counts is the database's
 * (nonce_horizon, migration 3), shared by every process on the file: a
 * process whose clock runs ahead moves it for all (their nonces expire
 * sooner, none can be replayed); s->nonce_cutoff only caches it. */
static int nonce_insert_locked(sqlite_store *s, const uint8_t *nonce, size_t size, int64_t expires,
                               int64_t now)
{
    _cleanup_(releasep) sqlite3_stmt *adv = NULL;
    _cleanup_(releasep) sqlite3_stmt *hz = NULL;
    _cleanup_(releasep) sqlite3_stmt *del = NULL;
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int64_t cutoff = now - STORE_NONCE_MARGIN;
    bool advanced = false;
    int r;

    if (cutoff > s->nonce_cutoff)
        s->nonce_cutoff = cutoff;
    if (expires < s->nonce_cutoff)
        return -ETIME;
    /* the horizon every process on this file shares (in this write
     * transaction: no other process moves it meanwhile) */
    r = sq_cprep(s, CQ_NONCE_ADVANCE, &adv);
    if (r >= 0) {
        sqlite3_bind_int64(adv, 1, s->nonce_cutoff);
        r = step_done(s, adv);
        advanced = r >= 0 && sqlite3_changes(s->db) > 0;
    }
    if (r >= 0)
        r = sq_cprep(s, CQ_NONCE_HORIZON, &hz);
    if (r >= 0 && (r = step_row(hz)) >= 0 && sqlite3_column_int64(hz, 0) > s->nonce_cutoff)
        s->nonce_cutoff = sqlite3_column_int64(hz, 0);
    if (r == -ENOENT)
        r = -EIO; /* the horizon row is gone: not a database this code made */
    if (r >= 0 && expires < s->nonce_cutoff)
        return -ETIME;
    if (r >= 0 && advanced) {
        r = sq_cprep(s, CQ_NONCE_EXPIRE, &del);
        if (r >= 0) {
            sqlite3_bind_int64(del, 1, s->nonce_cutoff);
            r = step_done(s, del);
        }
    }
    if (r >= 0)
        r = sq_cprep(s, CQ_NONCE_INSERT, &st);
    if (r >= 0) {
        sqlite3_bind_blob(st, 1, nonce, (int)size, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, expires);
        r = step_done(s, st);
    }
    return r;
}

int sqlite_nonce_use(store *base, const uint8_t *nonce, size_t size, int64_t expires, int64_t now)
{
    sqlite_store *s = SQ(base);
    bool relaxed = false;
    int r;
    lock(s);
    /* One transaction without its own fsync: every path after the nonce is
     * used ends in an audit commit with synchronous=FULL, whose fsync of the
     * WAL also makes this record durable (the WAL is one sequential file).
     * This keeps an unlock at one fsync instead of three. */
    if (sqlite3_get_autocommit(s->db)) {
        r = sq_file_check(s);
        if (r >= 0)
            r = sq_cexec(s, CQ_SYNC_NORMAL);
        if (r >= 0)
            r = sq_cexec(s, CQ_BEGIN);
        if (r < 0) {
            (void)sq_cexec(s, CQ_SYNC_FULL);
            unlock(s);
            return r;
        }
        relaxed = true;
    }
    r = nonce_insert_locked(s, nonce, size, expires, now);
    if (relaxed) {
        int c = sq_cexec(s, r >= 0 ? CQ_COMMIT : CQ_ROLLBACK);
        if (r >= 0 && c < 0)
            r = c;
        if (sq_cexec(s, CQ_SYNC_FULL) < 0 && r >= 0)
            r = -EIO; /* never leave the connection relaxed */
    }
    unlock(s);
    return r;
}
