/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite backend: break-glass grants, their approvals, and the denied
 * attempts their codes name. */
#include "sqlite.h"

#include "tpmalg.h"

/* ---- break-glass grants ---- */

int sqlite_denial_find(store *base, const char *code, char *ret_node, size_t node_size,
                       pcr_bank *ret_observed, bool *ret_has_observed)
{
    sqlite_store *s = SQ(base);
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

int sqlite_grant_put(store *base, const store_grant *g)
{
    sqlite_store *s = SQ(base);
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

static int grant_row_any(sqlite3_stmt *st, void *out)
{
    return grant_row(st, out);
}

int sqlite_grant_get(store *base, const char *id, store_grant *ret)
{
    sqlite_store *s = SQ(base);
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

int sqlite_grant_list_usable(store *base, const char *node_id, int64_t now, store_grant **ret,
                             size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
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
    r = sq_collect_rows(st, r, sizeof(*ret[0]), grant_row_any, NULL, (void **)ret, ret_n);
    unlock(s);
    return r;
}

int sqlite_grant_approve(store *base, const char *id, const char *approver, const char *sig_b64)
{
    sqlite_store *s = SQ(base);
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

int sqlite_grant_set_state(store *base, const char *id, store_grant_state state)
{
    sqlite_store *s = SQ(base);
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

int sqlite_grant_use(store *base, const char *id)
{
    sqlite_store *s = SQ(base);
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

int sqlite_grant_list(store *base, store_grant **ret, size_t *ret_n)
{
    sqlite_store *s = SQ(base);
    _cleanup_(finalizep) sqlite3_stmt *st = NULL;
    int r;
    lock(s);
    r = prep(s, GRANT_COLS "ORDER BY created DESC LIMIT 1000", &st);
    r = sq_collect_rows(st, r, sizeof(**ret), grant_row_any, NULL, (void **)ret, ret_n);
    unlock(s);
    return r;
}

int sqlite_grant_expire(store *base, int64_t now, store_grant **ret, size_t *ret_n)
{
    sqlite_store *s = SQ(base);
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
    r = sq_collect_rows(st, r, sizeof(*a), grant_row_any, NULL, (void **)&a, &n);
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
        free(a);
        return r;
    }
    *ret = a;
    *ret_n = n;
    return 0;
}
