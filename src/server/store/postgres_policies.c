/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PostgreSQL backend: signed policies and their active versions. */
#include "postgres.h"

#define POLICY_COLS "SELECT name, version, json, signature, signer, active, created FROM policies "

/* Puts and activations of one policy name take turns across replicas: the
 * version check and the insert (or the switch of the active version) are one
 * step for every writer. */
static int lock_name(pg_store *s, const char *name)
{
    pg_params p = {0};
    pg_text(&p, name);
    return pg_exec(s, "SELECT pg_advisory_xact_lock(hashtext('bootgate-policy:' || $1))", &p, NULL);
}

int pg_policy_put(store *base, const store_policy *p)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params q = {0}, ins = {0};
    bool own = false;
    int r;

    pg_text(&q, p->name);
    pg_text(&ins, p->name);
    pg_int(&ins, p->version);
    pg_text(&ins, p->json);
    pg_text(&ins, p->signature);
    pg_text(&ins, p->signer);
    pg_int(&ins, pg_now());
    pg_lock(s);
    r = pg_sub_begin(s, &own);
    if (r < 0)
        goto out;
    r = lock_name(s, p->name);
    if (r >= 0)
        r = pg_query_row(s, "SELECT coalesce(max(version), -1) FROM policies WHERE name = $1", &q,
                         &res);
    if (r >= 0 && pg_int_at(res, 0, 0) >= p->version)
        r = -EEXIST;
    if (r >= 0)
        r = pg_exec(s,
                    "INSERT INTO policies (name, version, json, signature, signer, active, created)"
                    " VALUES ($1,$2,$3,$4,$5,0,$6)",
                    &ins, NULL);
    r = pg_sub_end(s, own, r);
out:
    pg_unlock(s);
    return r;
}

static int policy_row(const PGresult *res, int i, store_policy *ret)
{
    memset(ret, 0, sizeof(*ret));
    pg_copy_text(res, i, 0, ret->name, sizeof(ret->name));
    ret->version = pg_int_at(res, i, 1);
    ret->json = strdup(PQgetvalue(res, i, 2));
    ret->signature = strdup(PQgetvalue(res, i, 3));
    pg_copy_text(res, i, 4, ret->signer, sizeof(ret->signer));
    ret->active = pg_int_at(res, i, 5) != 0;
    ret->created = pg_int_at(res, i, 6);
    if (!ret->json || !ret->signature) {
        store_policy_done(ret);
        return -ENOMEM;
    }
    return 0;
}

int pg_policy_get(store *base, const char *name, int64_t version, store_policy *ret)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, name);
    pg_int(&p, version);
    pg_lock(s);
    r = pg_query_row(s, POLICY_COLS "WHERE name = $1 AND version = $2", &p, &res);
    if (r >= 0)
        r = policy_row(res, 0, ret);
    pg_unlock(s);
    return r;
}

int pg_policy_get_active(store *base, const char *name, store_policy *ret)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, name);
    pg_lock(s);
    r = pg_query_row(s, POLICY_COLS "WHERE name = $1 AND active = 1", &p, &res);
    if (r >= 0)
        r = policy_row(res, 0, ret);
    pg_unlock(s);
    return r;
}

int pg_policy_activate(store *base, const char *name, int64_t version)
{
    pg_store *s = PG(base);
    pg_params p = {0}, on = {0};
    bool own = false;
    int r;
    pg_text(&p, name);
    pg_text(&on, name);
    pg_int(&on, version);
    pg_lock(s);
    r = pg_sub_begin(s, &own);
    if (r < 0)
        goto out;
    r = lock_name(s, name);
    if (r >= 0)
        r = pg_exec(s, "UPDATE policies SET active = 0 WHERE name = $1", &p, NULL);
    if (r >= 0)
        r = pg_exec_changed(s, "UPDATE policies SET active = 1 WHERE name = $1 AND version = $2",
                            &on);
    r = pg_sub_end(s, own, r);
out:
    pg_unlock(s);
    return r;
}

static int policy_summary_row(const PGresult *res, int i, void *out)
{
    store_policy *p = out;
    pg_copy_text(res, i, 0, p->name, sizeof(p->name));
    p->version = pg_int_at(res, i, 1);
    pg_copy_text(res, i, 2, p->signer, sizeof(p->signer));
    p->active = pg_int_at(res, i, 3) != 0;
    p->created = pg_int_at(res, i, 4);
    return 0;
}

int pg_policy_list(store *base, store_policy **ret, size_t *ret_n)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r;
    pg_lock(s);
    r = pg_exec(s,
                "SELECT name, version, signer, active, created FROM policies"
                " ORDER BY name, version",
                NULL, &res);
    if (r >= 0)
        r = pg_collect_rows(res, sizeof(**ret), policy_summary_row, NULL, (void **)ret, ret_n);
    pg_unlock(s);
    return r;
}
