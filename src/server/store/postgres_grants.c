/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PostgreSQL backend: break-glass grants, their approvals, and the denied
 * attempts their codes name. */
#include "postgres.h"

#include "tpmalg.h"

int pg_denial_find(store *base, const char *code, char *ret_node, size_t node_size,
                   pcr_bank *ret_observed, bool *ret_has_observed)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, code);
    pg_lock(s);
    /* the expression of the index audit_breakglass_code (schema.c) */
    r = pg_query_row(s,
                     "SELECT node, details::jsonb ->> 'observed' FROM audit"
                     " WHERE action = 'unlock_denied'"
                     " AND (details::jsonb ->> 'breakglass_code') = $1"
                     " ORDER BY seq DESC LIMIT 1",
                     &p, &res);
    if (r >= 0) {
        pg_copy_text(res, 0, 0, ret_node, node_size);
        /* the canonical encoding the denial recorded (tpmalg.h) */
        *ret_has_observed = !PQgetisnull(res, 0, 1) &&
                            pcr_bank_decode_hex(PQgetvalue(res, 0, 1), ret_observed) >= 0;
    }
    pg_unlock(s);
    return r;
}

int pg_grant_put(store *base, const store_grant *g)
{
    pg_store *s = PG(base);
    uint8_t enc[PCR_BANK_ENCODED_MAX];
    pg_params p = {0};
    int r;

    pg_text(&p, g->id);
    pg_text(&p, g->node_id);
    pg_text(&p, g->code);
    pg_text(&p, g->scope);
    /* observed PCRs as data: their canonical encoding; empty for scope any */
    pg_blob(&p, enc, g->has_observed ? pcr_bank_encode(&g->observed, enc) : 0);
    pg_text(&p, g->reason);
    pg_int(&p, g->not_before);
    pg_int(&p, g->not_after);
    pg_int(&p, g->uses);
    pg_int(&p, g->uses_left);
    pg_int(&p, (int64_t)g->state);
    pg_text(&p, g->requested_by);
    pg_int(&p, pg_now());
    pg_lock(s);
    r = pg_exec(s,
                "INSERT INTO grants (id, node_id, code, scope, pcrs, reason, not_before,"
                " not_after, uses, uses_left, state, requested_by, created)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
                &p, NULL);
    pg_unlock(s);
    return r;
}

#define GRANT_FIELDS                                                                               \
    "id, node_id, code, scope, pcrs, reason, not_before, not_after, uses, uses_left, state,"       \
    " requested_by, created, (SELECT count(*) FROM grant_approvals a"                              \
    " WHERE a.grant_id = grants.id)"
#define GRANT_COLS "SELECT " GRANT_FIELDS " FROM grants "

static int grant_row(const PGresult *res, int i, void *out)
{
    store_grant *g = out;
    size_t n = 0;
    unsigned char *pcrs;

    memset(g, 0, sizeof(*g));
    pg_copy_text(res, i, 0, g->id, sizeof(g->id));
    pg_copy_text(res, i, 1, g->node_id, sizeof(g->node_id));
    pg_copy_text(res, i, 2, g->code, sizeof(g->code));
    pg_copy_text(res, i, 3, g->scope, sizeof(g->scope));
    pcrs = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 4), &n);
    if (!pcrs)
        return -ENOMEM;
    g->has_observed = n > 0 && pcr_bank_decode(pcrs, n, &g->observed) >= 0;
    PQfreemem(pcrs);
    pg_copy_text(res, i, 5, g->reason, sizeof(g->reason));
    g->not_before = pg_int_at(res, i, 6);
    g->not_after = pg_int_at(res, i, 7);
    g->uses = pg_int_at(res, i, 8);
    g->uses_left = pg_int_at(res, i, 9);
    g->state = (store_grant_state)pg_int_at(res, i, 10);
    pg_copy_text(res, i, 11, g->requested_by, sizeof(g->requested_by));
    g->created = pg_int_at(res, i, 12);
    g->approvals = pg_int_at(res, i, 13);
    return 0;
}

int pg_grant_get(store *base, const char *id, store_grant *ret)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, id);
    pg_lock(s);
    r = pg_query_row(s, GRANT_COLS "WHERE id = $1", &p, &res);
    if (r >= 0)
        r = grant_row(res, 0, ret);
    pg_unlock(s);
    return r;
}

int pg_grant_list_usable(store *base, const char *node_id, int64_t now, store_grant **ret,
                         size_t *ret_n)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, node_id);
    pg_int(&p, now);
    pg_lock(s);
    r = pg_exec(s,
                GRANT_COLS "WHERE node_id = $1 AND state = 1 AND uses_left > 0 AND not_before <= $2"
                           " AND not_after > $2 ORDER BY created, id LIMIT 16",
                &p, &res);
    if (r >= 0)
        r = pg_collect_rows(res, sizeof(**ret), grant_row, NULL, (void **)ret, ret_n);
    pg_unlock(s);
    return r;
}

int pg_grant_approve(store *base, const char *id, const char *approver, const char *sig_b64)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, id);
    pg_text(&p, approver);
    pg_text(&p, sig_b64);
    pg_int(&p, pg_now());
    pg_lock(s);
    /* a second approval by the same approver is an answer, not an error that
     * would end the caller's transaction */
    r = pg_exec(s,
                "INSERT INTO grant_approvals (grant_id, approver, signature, created)"
                " VALUES ($1,$2,$3,$4) ON CONFLICT (grant_id, approver) DO NOTHING",
                &p, &res);
    if (r >= 0 && !strcmp(PQcmdTuples(res), "0"))
        r = -EEXIST;
    pg_unlock(s);
    return r;
}

int pg_grant_set_state(store *base, const char *id, store_grant_state state)
{
    pg_store *s = PG(base);
    pg_params p = {0};
    int r;
    pg_int(&p, (int64_t)state);
    pg_text(&p, id);
    pg_lock(s);
    r = pg_exec_changed(s, "UPDATE grants SET state = $1 WHERE id = $2", &p);
    pg_unlock(s);
    return r;
}

/* One conditional UPDATE: under concurrent uses on several replicas the row
 * lock orders them and each re-checks uses_left, so a grant is never used
 * more often than it allows. */
int pg_grant_use(store *base, const char *id)
{
    pg_store *s = PG(base);
    pg_params p = {0};
    int r;
    pg_text(&p, id);
    pg_lock(s);
    r = pg_exec_changed(
        s, "UPDATE grants SET uses_left = uses_left - 1 WHERE id = $1 AND uses_left > 0", &p);
    pg_unlock(s);
    return r;
}

int pg_grant_list(store *base, store_grant **ret, size_t *ret_n)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r;
    pg_lock(s);
    r = pg_exec(s, GRANT_COLS "ORDER BY created DESC, id LIMIT 1000", NULL, &res);
    if (r >= 0)
        r = pg_collect_rows(res, sizeof(**ret), grant_row, NULL, (void **)ret, ret_n);
    pg_unlock(s);
    return r;
}

/* One statement marks and returns the grants (as they were before): when
 * two replicas sweep at once, a row goes to the one that locked it first
 * (SKIP LOCKED) and gets exactly one expiry record. */
int pg_grant_expire(store *base, int64_t now, store_grant **ret, size_t *ret_n)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_int(&p, now);
    pg_lock(s);
    r = pg_exec(s,
                "WITH due AS (SELECT id, state AS old_state FROM grants"
                "  WHERE state IN (0, 1) AND not_after <= $1 ORDER BY id LIMIT 256"
                "  FOR UPDATE SKIP LOCKED),"
                " marked AS (UPDATE grants SET state = 3 FROM due WHERE grants.id = due.id"
                "  RETURNING grants.id)"
                " SELECT " GRANT_FIELDS " FROM grants JOIN due USING (id)"
                " WHERE id IN (SELECT id FROM marked) ORDER BY id",
                &p, &res);
    if (r >= 0)
        r = pg_collect_rows(res, sizeof(**ret), grant_row, NULL, (void **)ret, ret_n);
    pg_unlock(s);
    return r;
}
