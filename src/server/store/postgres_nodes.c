/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PostgreSQL backend: nodes, their volume keys, used nonces. */
#include "postgres.h"

/* ---- nodes ---- */

#define NODE_COLS                                                                                  \
    "SELECT id, hostname, grp, state, ek_fingerprint, ek_cert_verified, ek_cert_subject,"          \
    " ek_pub, ak_pub, ak_name, activation_hash, activation_expires, created, updated FROM nodes "

static int node_get_locked(pg_store *s, const char *id, store_node *ret)
{
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;

    pg_text(&p, id);
    r = pg_query_row(s, NODE_COLS "WHERE id = $1", &p, &res);
    if (r < 0)
        return r;
    memset(ret, 0, sizeof(*ret));
    pg_copy_text(res, 0, 0, ret->id, sizeof(ret->id));
    pg_copy_text(res, 0, 1, ret->hostname, sizeof(ret->hostname));
    pg_copy_text(res, 0, 2, ret->group, sizeof(ret->group));
    ret->state = (store_node_state)pg_int_at(res, 0, 3);
    pg_copy_text(res, 0, 4, ret->ek_fingerprint, sizeof(ret->ek_fingerprint));
    ret->ek_cert_verified = pg_int_at(res, 0, 5) != 0;
    pg_copy_text(res, 0, 6, ret->ek_cert_subject, sizeof(ret->ek_cert_subject));
    ret->ek_pub_size = pg_copy_blob(res, 0, 7, ret->ek_pub, sizeof(ret->ek_pub));
    ret->ak_pub_size = pg_copy_blob(res, 0, 8, ret->ak_pub, sizeof(ret->ak_pub));
    ret->ak_name_size = pg_copy_blob(res, 0, 9, ret->ak_name, sizeof(ret->ak_name));
    (void)pg_copy_blob(res, 0, 10, ret->activation_hash, sizeof(ret->activation_hash));
    ret->activation_expires = pg_int_at(res, 0, 11);
    ret->created = pg_int_at(res, 0, 12);
    ret->updated = pg_int_at(res, 0, 13);
    return 0;
}

int pg_node_get(store *base, const char *id, store_node *ret)
{
    pg_store *s = PG(base);
    int r;
    pg_lock(s);
    r = node_get_locked(s, id, ret);
    pg_unlock(s);
    return r;
}

int pg_node_put(store *base, const store_node *n)
{
    pg_store *s = PG(base);
    pg_params p = {0}, id = {0};
    store_node old;
    bool own = false;
    int r;

    pg_text(&id, n->id);
    pg_lock(s);
    r = pg_sub_begin(s, &own);
    if (r < 0)
        goto out;
    /* FOR UPDATE: two replicas re-enrolling the same node take turns */
    r = pg_exec(s, "SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE", &id, NULL);
    if (r >= 0)
        r = node_get_locked(s, n->id, &old);
    if (r >= 0 && (old.state == NODE_ACTIVE || old.state == NODE_REVOKED))
        r = -EEXIST;
    else if (r >= 0) {
        /* re-enrollment before activation/approval: start over, old keys included */
        r = pg_exec(s, "DELETE FROM volumes WHERE node_id = $1", &id, NULL);
        if (r >= 0)
            r = pg_exec(s, "DELETE FROM nodes WHERE id = $1", &id, NULL);
    } else if (r == -ENOENT)
        r = 0;
    if (r >= 0) {
        pg_text(&p, n->id);
        pg_text(&p, n->hostname);
        pg_text(&p, n->group);
        pg_int(&p, (int64_t)n->state);
        pg_text(&p, n->ek_fingerprint);
        pg_int(&p, n->ek_cert_verified);
        pg_text(&p, n->ek_cert_subject);
        pg_blob(&p, n->ek_pub, n->ek_pub_size);
        pg_blob(&p, n->ak_pub, n->ak_pub_size);
        pg_blob(&p, n->ak_name, n->ak_name_size);
        pg_blob(&p, n->activation_hash, sizeof(n->activation_hash));
        pg_int(&p, n->activation_expires);
        pg_int(&p, n->created ? n->created : pg_now());
        pg_int(&p, pg_now());
        /* plain INSERT: a duplicate EK fingerprint under another id is
         * refused, never silently replaced */
        r = pg_exec(s,
                    "INSERT INTO nodes (id, hostname, grp, state, ek_fingerprint,"
                    " ek_cert_verified, ek_cert_subject, ek_pub, ak_pub, ak_name, activation_hash,"
                    " activation_expires, created, updated)"
                    " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)",
                    &p, NULL);
    }
    r = pg_sub_end(s, own, r);
out:
    pg_unlock(s);
    return r;
}

int pg_node_set_state(store *base, const char *id, store_node_state state)
{
    pg_store *s = PG(base);
    pg_params p = {0};
    int r;
    pg_int(&p, (int64_t)state);
    pg_int(&p, pg_now());
    pg_text(&p, id);
    pg_lock(s);
    r = pg_exec_changed(s, "UPDATE nodes SET state = $1, updated = $2 WHERE id = $3", &p);
    pg_unlock(s);
    return r;
}

int pg_node_delete(store *base, const char *id)
{
    pg_store *s = PG(base);
    pg_params p = {0};
    store_node old;
    bool own = false;
    int r;

    pg_text(&p, id);
    pg_lock(s);
    r = pg_sub_begin(s, &own);
    if (r < 0)
        goto out;
    r = pg_exec(s, "SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE", &p, NULL);
    if (r >= 0)
        r = node_get_locked(s, id, &old);
    if (r >= 0 && old.state != NODE_REVOKED)
        r = -EPERM;
    if (r >= 0)
        r = pg_exec(s, "DELETE FROM volumes WHERE node_id = $1", &p, NULL);
    if (r >= 0)
        r = pg_exec(s, "DELETE FROM nodes WHERE id = $1", &p, NULL);
    r = pg_sub_end(s, own, r);
out:
    pg_unlock(s);
    return r;
}

static int node_summary_row(const PGresult *res, int i, void *out)
{
    store_node_summary *n = out;
    pg_copy_text(res, i, 0, n->id, sizeof(n->id));
    pg_copy_text(res, i, 1, n->hostname, sizeof(n->hostname));
    pg_copy_text(res, i, 2, n->group, sizeof(n->group));
    n->state = (store_node_state)pg_int_at(res, i, 3);
    pg_copy_text(res, i, 4, n->ek_fingerprint, sizeof(n->ek_fingerprint));
    n->ek_cert_verified = pg_int_at(res, i, 5) != 0;
    n->created = pg_int_at(res, i, 6);
    n->updated = pg_int_at(res, i, 7);
    n->volumes = pg_int_at(res, i, 8);
    return 0;
}

int pg_node_list(store *base, store_node_summary **ret, size_t *ret_n)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r;
    pg_lock(s);
    r = pg_exec(s,
                "SELECT id, hostname, grp, state, ek_fingerprint, ek_cert_verified, created,"
                " updated, (SELECT count(*) FROM volumes v WHERE v.node_id = nodes.id)"
                " FROM nodes ORDER BY created, id",
                NULL, &res);
    if (r >= 0)
        r = pg_collect_rows(res, sizeof(**ret), node_summary_row, NULL, (void **)ret, ret_n);
    pg_unlock(s);
    return r;
}

/* ---- volumes ---- */

int pg_volume_put(store *base, const char *node_id, const char *uuid, const uint8_t *wrapped,
                  size_t wrapped_size)
{
    pg_store *s = PG(base);
    pg_params p = {0};
    int r;
    pg_text(&p, node_id);
    pg_text(&p, uuid);
    pg_blob(&p, wrapped, wrapped_size);
    pg_int(&p, pg_now());
    pg_lock(s);
    r = pg_exec(s,
                "INSERT INTO volumes (node_id, uuid, wrapped, created) VALUES ($1,$2,$3,$4)"
                " ON CONFLICT (node_id, uuid) DO UPDATE SET wrapped = excluded.wrapped,"
                " created = excluded.created",
                &p, NULL);
    pg_unlock(s);
    return r;
}

int pg_volume_get(store *base, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                  size_t *ret_size)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, node_id);
    pg_text(&p, uuid);
    pg_lock(s);
    r = pg_query_row(s, "SELECT wrapped FROM volumes WHERE node_id = $1 AND uuid = $2", &p, &res);
    if (r >= 0)
        r = pg_dup_blob(res, 0, 0, ret_wrapped, ret_size);
    pg_unlock(s);
    return r;
}

int pg_volume_count(store *base, const char *node_id)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0};
    int r;
    pg_text(&p, node_id);
    pg_lock(s);
    r = pg_query_row(s, "SELECT count(*) FROM volumes WHERE node_id = $1", &p, &res);
    if (r >= 0)
        r = (int)pg_int_at(res, 0, 0);
    pg_unlock(s);
    return r;
}

/* ---- nonces ---- */

/* Single use across every replica: the row's primary key decides, inserted
 * with ON CONFLICT DO NOTHING so that a replay inside a caller's transaction
 * is a plain answer (-EEXIST), not a failed transaction. Rows outlive their
 * expiry by STORE_NONCE_MARGIN; the purge cutoff is the database's
 * (nonce_horizon, migration 3), shared by every replica and never moved
 * back, and a nonce expiring below it is refused as expired (its row may be
 * gone). The horizon never passes the database server's own clock minus the
 * margin, so a replica whose clock runs ahead cannot move it for the others
 * (with a cutoff per replica, it purged rows that another replica still
 * accepted: a replay), and none is ever moved back.
 *
 * The use reads the horizon FOR SHARE: a replica advancing it (UPDATE, then
 * DELETE below it, one statement) waits for uses in flight, and a use after
 * the advance sees the new horizon. The advance runs once a second per
 * replica, the use on every unlock. */
int pg_nonce_use(store *base, const uint8_t *nonce, size_t size, int64_t expires, int64_t now)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    pg_params p = {0}, a = {0};
    bool own = false;
    int r = 0;

    pg_lock(s);
    /* s->nonce_cutoff caches the shared horizon: it is never ahead of it */
    if (expires < s->nonce_cutoff) {
        pg_unlock(s);
        return -ETIME;
    }
    /* One transaction without its own WAL flush: every path after the nonce
     * is used ends in an audit commit, whose flush (pg_commit) also covers
     * this one (the WAL is one sequence). An unlock waits for one flush. */
    if (PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
        r = pg_exec(s, "BEGIN; SET LOCAL synchronous_commit = off", NULL, NULL);
        if (r < 0) {
            pg_unlock(s);
            return r;
        }
        own = s->in_tx = true;
    }
    if (now != s->nonce_advanced) {
        pg_int(&a, now - STORE_NONCE_MARGIN);
        pg_int(&a, STORE_NONCE_MARGIN);
        r = pg_exec(s,
                    "WITH c AS (SELECT LEAST($1::bigint,"
                    " extract(epoch from now())::bigint - $2::bigint) AS v),"
                    " h AS (UPDATE nonce_horizon SET cutoff = c.v FROM c"
                    " WHERE id = 1 AND cutoff < c.v RETURNING cutoff)"
                    " DELETE FROM used_nonces WHERE expires < (SELECT cutoff FROM h)",
                    &a, NULL);
        if (r >= 0)
            s->nonce_advanced = now;
    }
    if (r >= 0) {
        pg_blob(&p, nonce, size);
        pg_int(&p, expires);
        r = pg_exec(s,
                    "WITH h AS (SELECT cutoff FROM nonce_horizon WHERE id = 1 FOR SHARE),"
                    " ins AS (INSERT INTO used_nonces (nonce, expires) SELECT $1, $2 FROM h"
                    " WHERE $2 >= h.cutoff ON CONFLICT (nonce) DO NOTHING RETURNING 1)"
                    " SELECT (SELECT cutoff FROM h), (SELECT count(*) FROM ins)",
                    &p, &res);
    }
    if (r >= 0 && (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)))
        r = -EIO; /* the horizon row is gone: not a database this code made */
    if (r >= 0) {
        int64_t shared = pg_int_at(res, 0, 0);
        if (shared > s->nonce_cutoff)
            s->nonce_cutoff = shared;
        if (expires < shared)
            r = -ETIME;
        else if (pg_int_at(res, 0, 1) == 0)
            r = -EEXIST;
    }
    if (own) {
        int c = pg_exec(s, r >= 0 ? "COMMIT" : "ROLLBACK", NULL, NULL);
        if (r >= 0 && c < 0)
            r = c;
        s->in_tx = false;
    }
    pg_unlock(s);
    return r;
}
