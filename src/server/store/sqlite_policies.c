/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite backend: signed policies and their active versions. */
#include "sqlite.h"

/* ---- policies ---- */

int sqlite_policy_put(store *base, const store_policy *p)
{
    sqlite_store *s = SQ(base);
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

int sqlite_policy_get(store *base, const char *name, int64_t version, store_policy *ret)
{
    sqlite_store *s = SQ(base);
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

static int policy_get_active_locked(sqlite_store *s, const char *name, store_policy *ret)
{
    _cleanup_(releasep) sqlite3_stmt *st = NULL;
    int r = sq_cprep(s, CQ_POLICY_ACTIVE, &st);
    if (r >= 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        r = step_row(st);
        if (r >= 0)
            r = policy_row(st, ret);
    }
    return r;
}

int sqlite_policy_get_active(store *base, const char *name, store_policy *ret)
{
    sqlite_store *s = SQ(base);
    int r;
    lock(s);
    r = policy_get_active_locked(s, name, ret);
    unlock(s);
    return r;
}

int sqlite_policy_activate(store *base, const char *name, int64_t version)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *on = NULL;
    int r;
    lock(s);
    r = sq_exec(s, "SAVEPOINT activate;", NULL);
    if (r >= 0)
        r = sq_exec_text(s, "UPDATE policies SET active = 0 WHERE name = ?", name);
    if (r >= 0)
        r = prep(s, "UPDATE policies SET active = 1 WHERE name = ? AND version = ?", &on);
    if (r >= 0) {
        sqlite3_bind_text(on, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(on, 2, version);
        r = step_changed(s, on);
    }
    if (r >= 0)
        r = sq_exec(s, "RELEASE activate;", NULL);
    else
        (void)sq_exec(s, "ROLLBACK TO activate; RELEASE activate;", NULL);
    unlock(s);
    return r;
}

static int policy_summary_row(sqlite3_stmt *st, void *out)
{
    store_policy *p = out;
    copy_text(st, 0, p->name, sizeof(p->name));
    p->version = sqlite3_column_int64(st, 1);
    copy_text(st, 2, p->signer, sizeof(p->signer));
    p->active = sqlite3_column_int(st, 3) != 0;
    p->created = sqlite3_column_int64(st, 4);
    return 0;
}

int sqlite_policy_list(store *base, store_policy **ret, size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s,
             "SELECT name, version, signer, active, created FROM policies ORDER BY name, version",
             &st);
    r = sq_collect_rows(st, r, sizeof(**ret), policy_summary_row, NULL, (void **)ret, ret_n);
    unlock(s);
    return r;
}
