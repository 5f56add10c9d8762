/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL backend (postgresql://...): connection, migrations,
 * transactions, query helpers and its table of functions. */
#include "postgres.h"

#include <inttypes.h>

#include "schema.h"

void pg_text(pg_params *p, const char *v)
{
    p->values[p->n] = v;
    p->lengths[p->n] = 0;
    p->formats[p->n] = 0;
    p->n++;
}

void pg_int(pg_params *p, int64_t v)
{
    snprintf(p->ints[p->n], sizeof(p->ints[p->n]), "%" PRId64, v);
    pg_text(p, p->ints[p->n]);
}

void pg_blob(pg_params *p, const void *data, size_t size)
{
    /* binary format: the bytes as they are, no escaping */
    p->values[p->n] = size ? data : "";
    p->lengths[p->n] = (int)size;
    p->formats[p->n] = 1;
    p->n++;
}

/* The session's settings, on every new connection: UTC text for any
 * timestamp, no statement waits forever on a lock, and a reader's connection
 * cannot write. */
static int session_setup(pg_store *s)
{
    const char *sql[] = {"SET TIME ZONE 'UTC'; SET lock_timeout = '30s'",
                         "SET default_transaction_read_only = on"};
    for (size_t i = 0; i < (s->readonly ? 2u : 1u); i++) {
        PGresult *res = PQexec(s->conn, sql[i]);
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            return -EIO;
    }
    return 0;
}

/* A dropped connection (the database server restarted, the network broke)
 * is re-established between transactions, never inside one: whatever the
 * transaction did is gone with the connection, and its statements fail until
 * the caller ends it. A connection whose session setup failed is not used
 * (s->unset): the next statement tries again. */
static void reconnect_if_lost(pg_store *s)
{
    if (s->in_tx || (PQstatus(s->conn) != CONNECTION_BAD && !s->unset))
        return;
    PQreset(s->conn);
    s->unset = PQstatus(s->conn) != CONNECTION_OK || session_setup(s) < 0;
}

int pg_exec(pg_store *s, const char *sql, const pg_params *p, PGresult **ret)
{
    PGresult *res;
    ExecStatusType st;
    int r = 0;

    if (ret)
        *ret = NULL;
    reconnect_if_lost(s);
    if (s->unset && PQstatus(s->conn) == CONNECTION_OK) {
        store_error_set("postgresql: the session setup failed after a reconnect");
        return -EIO;
    }
    /* without parameters: the simple protocol, which takes several
     * statements at once (migrations, session setup) */
    res = p ? PQexecParams(s->conn, sql, p->n, NULL, p->values, p->lengths, p->formats, 0)
            : PQexec(s->conn, sql);
    st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        r = state && !strncmp(state, "23", 2) ? -EEXIST : -EIO;
        if (r == -EIO) {
            /* the primary message only: it never carries a parameter's value */
            const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
            if (!m)
                m = PQerrorMessage(s->conn);
            store_error_set("postgresql: %.*s", (int)strcspn(m, "\n"), m);
        }
        PQclear(res);
        return r;
    }
    if (ret)
        *ret = res;
    else
        PQclear(res);
    return 0;
}

int pg_exec_changed(pg_store *s, const char *sql, const pg_params *p)
{
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r = pg_exec(s, sql, p, &res);
    if (r >= 0 && !strcmp(PQcmdTuples(res), "0"))
        r = -ENOENT;
    return r;
}

int pg_query_row(pg_store *s, const char *sql, const pg_params *p, PGresult **ret)
{
    int r = pg_exec(s, sql, p, ret);
    if (r >= 0 && PQntuples(*ret) < 1) {
        PQclear(*ret);
        *ret = NULL;
        r = -ENOENT;
    }
    return r;
}

int pg_sub_begin(pg_store *s, bool *ret_own)
{
    *ret_own = PQtransactionStatus(s->conn) == PQTRANS_IDLE;
    return pg_exec(s, *ret_own ? "BEGIN" : "SAVEPOINT pg_sub", NULL, NULL);
}

int pg_sub_end(pg_store *s, bool own, int r)
{
    if (own) {
        int c = pg_exec(s, r >= 0 ? "COMMIT" : "ROLLBACK", NULL, NULL);
        return r >= 0 ? c : r;
    }
    if (r >= 0)
        return pg_exec(s, "RELEASE SAVEPOINT pg_sub", NULL, NULL);
    (void)pg_exec(s, "ROLLBACK TO SAVEPOINT pg_sub", NULL, NULL);
    (void)pg_exec(s, "RELEASE SAVEPOINT pg_sub", NULL, NULL);
    return r;
}

void pg_copy_text(const PGresult *res, int row, int col, char *dst, size_t size)
{
    snprintf(dst, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

int64_t pg_int_at(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

size_t pg_copy_blob(const PGresult *res, int row, int col, uint8_t *dst, size_t size)
{
    size_t n = 0;
    unsigned char *b;
    if (PQgetisnull(res, row, col))
        return 0;
    b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &n);
    if (!b || n > size) {
        PQfreemem(b);
        return 0;
    }
    memcpy(dst, b, n);
    PQfreemem(b);
    return n;
}

int pg_dup_blob(const PGresult *res, int row, int col, uint8_t **ret, size_t *ret_size)
{
    size_t n = 0;
    unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &n);
    uint8_t *out;
    if (!b)
        return -ENOMEM;
    out = malloc(n ? n : 1);
    if (out && n)
        memcpy(out, b, n);
    PQfreemem(b);
    if (!out)
        return -ENOMEM;
    *ret = out;
    *ret_size = n;
    return 0;
}

int pg_collect_rows(const PGresult *res, size_t elem_size,
                    int (*row)(const PGresult *, int, void *), void (*done)(void *), void **ret,
                    size_t *ret_n)
{
    size_t n = (size_t)PQntuples(res);
    uint8_t *a = calloc(n ? n : 1, elem_size);
    int r = 0;
    size_t i;

    if (!a)
        return -ENOMEM;
    for (i = 0; i < n && r >= 0; i++)
        r = row(res, (int)i, a + i * elem_size);
    if (r < 0) {
        for (size_t j = 0; done && j + 1 < i; j++)
            done(a + j * elem_size);
        free(a);
        return r;
    }
    *ret = a;
    *ret_n = n;
    return 0;
}

/* Server messages can name the failing statement; the primary message alone
 * never carries a parameter's value. */
static int pg_err(pg_store *s, bg_err *err, const char *what)
{
    const char *m = PQerrorMessage(s->conn);
    size_t n = strcspn(m, "\n");
    return bg_err_set(err, -EIO, "postgresql: %s: %.*s", what, (int)(n > 300 ? 300 : n), m);
}

static int schema_version_locked(pg_store *s, int64_t *ret)
{
    _cleanup_(pg_clearp) PGresult *res = NULL;
    int r;

    *ret = 0;
    r = pg_exec(s, "SELECT to_regclass('schema_version') IS NOT NULL", NULL, &res);
    if (r < 0)
        return r;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        return 0; /* an empty database */
    PQclear(res);
    res = NULL;
    r = pg_exec(s, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, &res);
    if (r >= 0)
        *ret = pg_int_at(res, 0, 0);
    return r;
}

static int pg_schema_version(store *base, int64_t *ret)
{
    pg_store *s = PG(base);
    int r;
    pg_lock(s);
    r = schema_version_locked(s, ret);
    pg_unlock(s);
    return r;
}

/* All missing migrations in one transaction under an advisory lock, so that
 * replicas starting together migrate once: the others wait, then find the
 * schema current. */
static int pg_migrate(store *base, bg_err *err)
{
    pg_store *s = PG(base);
    pg_params p = {0};
    int64_t version = 0;
    int r;

    pg_lock(s);
    pg_int(&p, PG_LOCK_MIGRATE);
    r = pg_exec(s, "BEGIN", NULL, NULL);
    s->in_tx = r >= 0;
    if (r >= 0)
        r = pg_exec(s, "SELECT pg_advisory_xact_lock($1)", &p, NULL);
    if (r >= 0)
        r = pg_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL,
                    NULL);
    if (r >= 0)
        r = schema_version_locked(s, &version);
    if (r < 0)
        r = pg_err(s, err, "reading the schema version");
    else if (version > (int64_t)store_schema_latest)
        r = bg_err_set(err, -EPROTO, "database schema %lld is newer than this code (%zu)",
                       (long long)version, store_schema_latest);
    for (size_t i = (size_t)version; r >= 0 && i < store_schema_latest; i++) {
        pg_params v = {0};
        pg_int(&v, (int64_t)i + 1);
        r = pg_exec(s, store_migrations[i].postgres, NULL, NULL);
        if (r >= 0)
            r = pg_exec(s, "INSERT INTO schema_version VALUES ($1)", &v, NULL);
        if (r < 0)
            r = bg_err_prefix(err, pg_err(s, err, "migration failed"), "migration %zu", i + 1);
    }
    if (r >= 0 && pg_exec(s, "COMMIT", NULL, NULL) < 0)
        r = pg_err(s, err, "commit of the migrations");
    if (r < 0)
        (void)pg_exec(s, "ROLLBACK", NULL, NULL);
    s->in_tx = false;
    pg_unlock(s);
    return r;
}

static void pg_close(store *base)
{
    pg_store *s = PG(base);
    if (!s)
        return;
    PQfinish(s->conn);
    PQfinish(s->sync_conn);
    if (s->uri)
        explicit_bzero(s->uri, strlen(s->uri));
    free(s->uri);
    store_group_destroy(&s->group);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* NOTICEs (e.g. "relation already exists, skipping") are not ours to print. */
static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_open(const char *location, store_open_mode mode, store **ret, bg_err *err)
{
    _cleanup_(freep) char *uri = NULL;
    pthread_mutexattr_t a;
    pg_store *s;
    int64_t version = 0;
    int r;

    /* libpq parses the URI itself (parameters, TLS, socket directories) */
    if (asprintf(&uri, "postgresql://%s", location) < 0)
        return -ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->base.be = &store_backend_postgres;
    s->readonly = mode == STORE_OPEN_READONLY;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->lock, &a);
    pthread_mutexattr_destroy(&a);
    store_group_init(&s->group);
    if (!s->readonly && !(s->uri = strdup(uri))) {
        pg_close(&s->base);
        return -ENOMEM;
    }
    s->conn = PQconnectdb(uri);
    explicit_bzero(uri, strlen(uri)); /* the URI may hold a password */
    if (!s->conn || PQstatus(s->conn) != CONNECTION_OK) {
        /* libpq's message names host and port, never the password */
        r = s->conn ? pg_err(s, err, "cannot connect") : -ENOMEM;
        pg_close(&s->base);
        return r;
    }
    PQsetNoticeProcessor(s->conn, quiet_notices, NULL);
    r = session_setup(s);
    if (r < 0)
        r = pg_err(s, err, "session setup");
    if (r >= 0 && s->readonly) {
        r = schema_version_locked(s, &version);
        if (r < 0)
            r = pg_err(s, err, "reading the schema version");
        else if (version < 1 || version > (int64_t)store_schema_latest)
            r = bg_err_set(err, -EPROTO, "database schema %lld is not one this code knows (1..%zu)",
                           (long long)version, store_schema_latest);
    } else if (r >= 0 && mode == STORE_OPEN_MIGRATE)
        r = pg_migrate(&s->base, err);
    if (r < 0) {
        pg_close(&s->base);
        return r;
    }
    *ret = &s->base;
    return 0;
}

static int pg_ping(store *base)
{
    pg_store *s = PG(base);
    int r;
    pg_lock(s);
    r = pg_exec(s, "SELECT 1", NULL, NULL) == 0 ? 1 : 0;
    pg_unlock(s);
    return r;
}

/* A transaction commits without waiting for the WAL flush; pg_commit waits
 * for it outside the lock, shared with concurrent commits. */
static int pg_begin(store *base)
{
    pg_store *s = PG(base);
    pg_lock(s);
    if (pg_exec(s, "BEGIN; SET LOCAL synchronous_commit = off", NULL, NULL) < 0) {
        pg_unlock(s);
        return -EIO;
    }
    s->in_tx = true;
    return 0;
}

/* store_group_wait's sync: a synchronous commit of a transaction that wrote
 * a row (schema 5's commit_barrier; a commit that wrote no WAL is not
 * flushed) on the second connection. Its commit record is written after
 * those of every commit counted so far (their COMMIT returned), and
 * PostgreSQL flushes the WAL up to it before answering: all of them are
 * durable. */
static int wal_flush(void *arg, uint64_t *ret_upto)
{
    pg_store *s = arg;
    pg_lock(s);
    *ret_upto = s->committed;
    pg_unlock(s);
    /* a connection the database server dropped since its last use looks
     * fine until used: one more try on a fresh one */
    for (int attempt = 0; attempt < 2; attempt++) {
        PGresult *res;
        bool ok;
        if (!s->sync_conn)
            s->sync_conn = PQconnectdb(s->uri);
        else if (attempt > 0 || PQstatus(s->sync_conn) != CONNECTION_OK)
            PQreset(s->sync_conn);
        if (!s->sync_conn || PQstatus(s->sync_conn) != CONNECTION_OK) {
            store_error_set("postgresql: cannot connect for the commit flush");
            continue;
        }
        res = PQexec(s->sync_conn, "SET synchronous_commit = on;"
                                   " INSERT INTO commit_barrier VALUES (pg_backend_pid() % 1024, 1)"
                                   " ON CONFLICT (slot) DO UPDATE SET n = commit_barrier.n + 1");
        ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (ok)
            return 0;
        const char *m = PQerrorMessage(s->sync_conn);
        store_error_set("postgresql: commit flush: %.*s", (int)strcspn(m, "\n"), m);
    }
    return -EIO;
}

static int pg_commit(store *base)
{
    pg_store *s = PG(base);
    _cleanup_(pg_clearp) PGresult *res = NULL;
    uint64_t seq = 0;
    int r = pg_exec(s, "COMMIT", NULL, &res);
    /* COMMIT of a transaction that failed earlier answers ROLLBACK */
    if (r >= 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0)
        r = -EIO;
    if (r < 0 && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
        (void)pg_exec(s, "ROLLBACK", NULL, NULL);
    if (r >= 0)
        seq = ++s->committed;
    s->in_tx = false;
    pg_unlock(s);
    if (r >= 0 && !s->readonly)
        r = store_group_wait(&s->group, seq, wal_flush, s);
    return r;
}

static void pg_rollback(store *base)
{
    pg_store *s = PG(base);
    (void)pg_exec(s, "ROLLBACK", NULL, NULL);
    s->in_tx = false;
    pg_unlock(s);
}

const store_backend store_backend_postgres = {
    .scheme = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .ping = pg_ping,
    .schema_version = pg_schema_version,
    .migrate = pg_migrate,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .node_put = pg_node_put,
    .node_get = pg_node_get,
    .node_set_state = pg_node_set_state,
    .node_delete = pg_node_delete,
    .node_list = pg_node_list,
    .volume_put = pg_volume_put,
    .volume_get = pg_volume_get,
    .volume_count = pg_volume_count,
    .nonce_use = pg_nonce_use,
    .policy_put = pg_policy_put,
    .policy_get = pg_policy_get,
    .policy_get_active = pg_policy_get_active,
    .policy_activate = pg_policy_activate,
    .policy_list = pg_policy_list,
    .denial_find = pg_denial_find,
    .grant_put = pg_grant_put,
    .grant_get = pg_grant_get,
    .grant_approve = pg_grant_approve,
    .grant_set_state = pg_grant_set_state,
    .grant_list_usable = pg_grant_list_usable,
    .grant_use = pg_grant_use,
    .grant_list = pg_grant_list,
    .grant_expire = pg_grant_expire,
    .evidence_has = pg_evidence_has,
    .attempt_put = pg_attempt_put,
    .attempt_get = pg_attempt_get,
    .attempt_list = pg_attempt_list,
    .attempt_latest = pg_attempt_latest,
    .attempt_since = pg_attempt_since,
    .evidence_get = pg_evidence_get,
    .attempt_stats = pg_attempt_stats,
    .evidence_sweep = pg_evidence_sweep,
    .audit_append = pg_audit_append,
    .audit_head = pg_audit_head,
    .audit_list = pg_audit_list,
};
