/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The PostgreSQL backend's own parts, shared by its files: postgres.c
 * (connection, migrations, transactions, query helpers, the backend table),
 * postgres_nodes.c (nodes, volumes, nonces), postgres_policies.c,
 * postgres_grants.c, postgres_audit.c. One libpq connection per store,
 * serialized by a recursive lock that a transaction holds from begin to
 * commit, as in the SQLite backend. Several processes (replicas) share the
 * database: what must be single across all of them is enforced by the
 * database itself (primary keys, conditional UPDATEs, advisory locks), never
 * by this process's memory. */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "backend.h"
#include "cleanup.h"

/* pg_advisory_xact_lock keys (one 64-bit space per database). */
#define PG_LOCK_AUDIT    0x62676175646974LL /* "bgaudit": the audit chain's head */
#define PG_LOCK_MIGRATE  0x62676d6967LL     /* "bgmig": schema migrations */
#define PG_LOCK_EVIDENCE 0x62676576LL       /* "bgev": evidence blobs (postgres_attempts.c) */

typedef struct pg_store {
    store base; /* first: the backend-neutral handle */
    PGconn *conn;
    pthread_mutex_t lock; /* recursive: a transaction holds it across calls */
    bool readonly;
    bool in_tx;             /* between pg_begin and its commit or rollback: no reconnect */
    bool unset;             /* reconnected without its session setup: not used */
    int64_t nonce_cutoff;   /* the shared nonce horizon, as last seen (a cache) */
    int64_t nonce_advanced; /* the clock second of this replica's last advance */
    /* Group commit (backend.h store_group; postgres.c pg_commit): a
     * transaction commits with synchronous_commit off under the lock; then
     * one synchronous commit on sync_conn, whose commit record comes after
     * theirs in the WAL, makes every commit counted so far durable. */
    store_group group;
    uint64_t committed; /* commits so far (under lock) */
    char *uri;          /* for sync_conn (may hold a password: wiped at close) */
    PGconn *sync_conn;  /* opened at the first sync, used by one syncer at a time */
} pg_store;

#define PG(b) ((pg_store *)(b))

#define PG_MAX_PARAMS 16

/* The parameters of one statement: text, or binary for BYTEA. */
typedef struct pg_params {
    int n;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    char ints[PG_MAX_PARAMS][24];
} pg_params;

static inline int64_t pg_now(void)
{
    return (int64_t)time(NULL);
}

static inline void pg_lock(pg_store *s)
{
    pthread_mutex_lock(&s->lock);
}

static inline void pg_unlock(pg_store *s)
{
    pthread_mutex_unlock(&s->lock);
}

static inline void pg_clearp(PGresult **res)
{
    PQclear(*res);
}

void pg_text(pg_params *p, const char *v);
void pg_int(pg_params *p, int64_t v);
void pg_blob(pg_params *p, const void *data, size_t size);

/* Runs sql with the parameters (NULL: none). 0 for a command or rows (in
 * *ret when given, PQclear'd by the caller), -EEXIST for a constraint
 * violation (SQLSTATE class 23, as SQLite's SQLITE_CONSTRAINT), -EIO else;
 * the server's message goes to the debug log only. Store lock held. */
int pg_exec(pg_store *s, const char *sql, const pg_params *p, PGresult **ret);
/* pg_exec, then -ENOENT when no row was changed (UPDATE/DELETE). */
int pg_exec_changed(pg_store *s, const char *sql, const pg_params *p);
/* pg_exec of a query, then -ENOENT when it returned no row. */
int pg_query_row(pg_store *s, const char *sql, const pg_params *p, PGresult **ret);

/* A unit of work of several statements: its own transaction when the caller
 * has none, else a savepoint in the caller's, so that a failed step leaves
 * nothing behind either way. Store lock held. */
int pg_sub_begin(pg_store *s, bool *ret_own);
int pg_sub_end(pg_store *s, bool own, int r);

/* Column helpers (text results). */
void pg_copy_text(const PGresult *res, int row, int col, char *dst, size_t size);
int64_t pg_int_at(const PGresult *res, int row, int col);
/* A BYTEA column into dst (0 when NULL or larger than size). */
size_t pg_copy_blob(const PGresult *res, int row, int col, uint8_t *dst, size_t size);
/* A BYTEA column, malloc'd (*ret_size bytes); -ENOMEM. */
int pg_dup_blob(const PGresult *res, int row, int col, uint8_t **ret, size_t *ret_size);

/* The rows of a result as a malloc'd array of elem_size entries, each filled
 * by row(); on failure nothing is returned (done(), when given, undoes the
 * entries collected so far). */
int pg_collect_rows(const PGresult *res, size_t elem_size,
                    int (*row)(const PGresult *, int, void *), void (*done)(void *), void **ret,
                    size_t *ret_n);

/* The backend's functions (contracts in store.h). */
int pg_node_put(store *base, const store_node *n);
int pg_node_get(store *base, const char *id, store_node *ret);
int pg_node_set_state(store *base, const char *id, store_node_state state);
int pg_node_delete(store *base, const char *id);
int pg_node_list(store *base, store_node_summary **ret, size_t *ret_n);
int pg_volume_put(store *base, const char *node_id, const char *uuid, const uint8_t *wrapped,
                  size_t wrapped_size);
int pg_volume_get(store *base, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                  size_t *ret_size);
int pg_volume_count(store *base, const char *node_id);
int pg_nonce_use(store *base, const uint8_t *nonce, size_t size, int64_t expires, int64_t now);
int pg_policy_put(store *base, const store_policy *p);
int pg_policy_get(store *base, const char *name, int64_t version, store_policy *ret);
int pg_policy_get_active(store *base, const char *name, store_policy *ret);
int pg_policy_activate(store *base, const char *name, int64_t version);
int pg_policy_list(store *base, store_policy **ret, size_t *ret_n);
int pg_denial_find(store *base, const char *code, char *ret_node, size_t node_size,
                   pcr_bank *ret_observed, bool *ret_has_observed);
int pg_grant_put(store *base, const store_grant *g);
int pg_grant_get(store *base, const char *id, store_grant *ret);
int pg_grant_list_usable(store *base, const char *node_id, int64_t now, store_grant **ret,
                         size_t *ret_n);
int pg_grant_approve(store *base, const char *id, const char *approver, const char *sig_b64);
int pg_grant_set_state(store *base, const char *id, store_grant_state state);
int pg_grant_use(store *base, const char *id);
int pg_grant_list(store *base, store_grant **ret, size_t *ret_n);
int pg_grant_expire(store *base, int64_t now, store_grant **ret, size_t *ret_n);
int pg_evidence_has(store *base, const char *sha256);
int pg_attempt_put(store *base, store_attempt *a, const store_blob *blobs, size_t n_blobs,
                   const store_retention *keep);
int pg_attempt_get(store *base, int64_t id, store_attempt *ret);
int pg_attempt_list(store *base, const char *node_id, int64_t limit, store_attempt **ret,
                    size_t *ret_n);
int pg_attempt_latest(store *base, const char *group, int64_t since, store_attempt **ret,
                      size_t *ret_n);
int pg_attempt_since(store *base, const char *group, int64_t since, int64_t limit,
                     store_attempt **ret, size_t *ret_n);
int pg_evidence_get(store *base, const char *sha256, uint8_t **ret, size_t *ret_size,
                    int64_t *ret_raw_size);
int pg_attempt_stats(store *base, store_attempt_stats *ret);
int pg_evidence_sweep(store *base);
int pg_audit_append(store *base, const char *actor, const char *action, const char *node,
                    const char *details, int64_t *ret_seq);
int pg_audit_head(store *base, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                  char *ret_action, size_t action_size);
int pg_audit_list(store *base, int64_t since, int64_t limit, store_audit_record **ret,
                  size_t *ret_n);
