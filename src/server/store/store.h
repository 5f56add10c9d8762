/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The server's persistent state: one interface in typed structs, backends
 * behind it chosen at run time by the store URL (store/backend.h: a table of
 * functions per backend): sqlite:///path (store/sqlite*.c, WAL,
 * synchronous=FULL) and postgresql://... (store/postgres*.c, libpq), which
 * several bootgated replicas share. Both have the same schema and one
 * migration numbering (store/schema.c). bootgated and bootgatectl (`audit
 * verify --db`, `db migrate|status`) use the same code.
 *
 * Thread safety: every function may be called from any worker; the backend
 * serializes. A transaction (store_begin .. store_commit/rollback) holds the
 * store for the calling thread, so that "audit record committed, then key
 * released" is one atomic step (DESIGN §5). Functions called inside a
 * transaction must pass the same store; they do not take the lock again.
 *
 * Returns 0 / -ENOENT (not found) / -EEXIST (duplicate, used nonce) / -EIO. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auditchain.h"
#include "bgerr.h"
#include "proto.h"
#include "tpmalg.h"

typedef struct store store;

typedef enum store_open_mode {
    STORE_OPEN_MIGRATE,  /* create the schema or bring it up to date */
    STORE_OPEN_READONLY, /* an existing database of a known schema, never written */
    STORE_OPEN_CONNECT,  /* connect only: no schema change, no schema check */
} store_open_mode;

/* url: "sqlite:///abs/path.db" (a bare path is taken as one) or
 * "postgresql://[user@]host[:port]/db[?param=value&...]" (libpq's URI, passed
 * to it as is: sslmode=verify-full&sslrootcert=..., host=/socket/dir, ...);
 * another scheme is -EPROTONOSUPPORT with a message naming the backends this
 * build has. Creates and migrates the database. */
int store_open(const char *url, store **ret, bg_err *err);
/* For readers (bootgatectl offline): opens an existing database without
 * writing to it; -EPROTO when its schema is not one this code knows. */
int store_open_readonly(const char *url, store **ret, bg_err *err);
/* Connects without touching the schema (bootgated --check, bootgatectl db
 * status): store_schema_version then says where the database stands. */
int store_open_connect(const char *url, store **ret, bg_err *err);
/* The migrations the database has run (0: none, an empty database). */
int store_schema_version(store *s, int64_t *ret_version);
/* The schema version this code writes (store/schema.c). */
int64_t store_schema_latest_version(void);
/* Runs the missing migrations; -EPROTO when the database is newer than this
 * code. Safe against other processes migrating at the same time. */
int store_migrate(store *s, bg_err *err);
/* "sqlite" or "postgresql". */
const char *store_backend_name(const store *s);
void store_close(store *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(store *, store_close)

/* 1 when the database answers a trivial query (for /readyz). */
int store_ping(store *s);

/* Why this thread's last store call failed, in the backend's words ("database
 * is locked", "database or disk is full", "database file ... was removed"),
 * for the operator's log; "" when no reason was recorded. Never holds data
 * values: backends record only their error messages. */
const char *store_last_error(void);

/* The fsyncs this process made to make commits durable (SQLite: of its WAL,
 * shared by the commits of concurrent transactions, sqlite.c group commit;
 * PostgreSQL flushes its WAL itself and groups concurrent commits there). */
uint64_t store_fsyncs(void);

int store_begin(store *s);
int store_commit(store *s);
void store_rollback(store *s);
/* Ends a store_begin transaction by the outcome r of its steps: commits when
 * r >= 0 (and returns the commit's result), else rolls back and returns r. */
static inline int store_end(store *s, int r)
{
    if (r < 0) {
        store_rollback(s);
        return r;
    }
    return store_commit(s);
}

/* ---- nodes ---- */
typedef enum store_node_state {
    NODE_ACTIVATING = 0, /* enrolled, credential activation not yet proven */
    NODE_PENDING,        /* activated, EK without a trusted certificate: awaits approval */
    NODE_ACTIVE,
    NODE_REVOKED,
} store_node_state;

const char *store_node_state_name(store_node_state s);

typedef struct store_node {
    char id[PROTO_MAX_ID + 1];
    char hostname[PROTO_MAX_ID + 1];
    char group[PROTO_MAX_ID + 1];
    store_node_state state;
    char ek_fingerprint[65];
    bool ek_cert_verified;
    char ek_cert_subject[256];
    uint8_t ek_pub[PROTO_MAX_TPM_BLOB];
    size_t ek_pub_size;
    uint8_t ak_pub[PROTO_MAX_TPM_BLOB];
    size_t ak_pub_size;
    uint8_t ak_name[68];
    size_t ak_name_size;
    uint8_t activation_hash[32]; /* SHA-256 of the activation secret */
    int64_t activation_expires;
    int64_t created;
    int64_t updated;
} store_node;

/* Inserts a new node or replaces one in state ACTIVATING/PENDING (re-enrollment);
 * -EEXIST when the id is active or revoked. */
int store_node_put(store *s, const store_node *n);
int store_node_get(store *s, const char *id, store_node *ret);
int store_node_set_state(store *s, const char *id, store_node_state state);
/* Removes a revoked node and its volume keys (-EPERM unless revoked), so that
 * the same TPM can enroll again. The audit records stay. */
int store_node_delete(store *s, const char *id);
/* A node as listed: no key material. */
typedef struct store_node_summary {
    char id[PROTO_MAX_ID + 1];
    char hostname[PROTO_MAX_ID + 1];
    char group[PROTO_MAX_ID + 1];
    store_node_state state;
    char ek_fingerprint[65];
    bool ek_cert_verified;
    int64_t created;
    int64_t updated;
    int64_t volumes;
} store_node_summary;

/* Every node, by creation (malloc'd array, free()). */
int store_node_list(store *s, store_node_summary **ret, size_t *ret_n);

/* ---- volumes (key wrapped with the KEK) ---- */
int store_volume_put(store *s, const char *node_id, const char *uuid, const uint8_t *wrapped,
                     size_t wrapped_size);
int store_volume_get(store *s, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                     size_t *ret_size);
int store_volume_count(store *s, const char *node_id);

/* ---- nonces: single use ---- */
/* Seconds a used nonce's row outlives its expiry: longer than any request
 * takes from its expiry check to its store_nonce_use. */
#define STORE_NONCE_MARGIN 300
/* Records the nonce as used; -EEXIST if it was used before, -ETIME when its
 * expiry is below the purge cutoff (now - STORE_NONCE_MARGIN, never
 * decreasing): then it counts as expired, whatever the caller's clock said.
 * Purges rows below the cutoff. */
int store_nonce_use(store *s, const uint8_t *nonce, size_t size, int64_t expires, int64_t now);

/* ---- policies ---- */
typedef struct store_policy {
    char name[PROTO_MAX_ID + 1];
    int64_t version;
    char *json;      /* malloc'd */
    char *signature; /* base64, malloc'd */
    char signer[256];
    bool active;
    int64_t created;
} store_policy;

void store_policy_done(store_policy *p);
/* -EEXIST unless version is greater than every stored version of name. */
int store_policy_put(store *s, const store_policy *p);
int store_policy_get(store *s, const char *name, int64_t version, store_policy *ret);
int store_policy_get_active(store *s, const char *name, store_policy *ret);
int store_policy_activate(store *s, const char *name, int64_t version);
/* Every stored version, by name and version, without json and signature
 * (store_policies_free). */
int store_policy_list(store *s, store_policy **ret, size_t *ret_n);
void store_policies_free(store_policy *a, size_t n);

/* ---- break-glass grants (DESIGN §4) ---- */
typedef enum store_grant_state {
    GRANT_REQUESTED = 0, /* waiting for approvals */
    GRANT_ACTIVE,
    GRANT_REVOKED,
    GRANT_EXPIRED, /* not_after passed (recorded by the server's periodic sweep) */
} store_grant_state;

const char *store_grant_state_name(store_grant_state s);

typedef struct store_grant {
    char id[33];
    char node_id[PROTO_MAX_ID + 1];
    char code[16];
    char scope[16]; /* "observed" or "any" */
    bool has_observed;
    pcr_bank observed; /* verified PCRs of the denied attempt (scope observed) */
    char reason[256];
    int64_t not_before, not_after;
    int64_t uses, uses_left;
    store_grant_state state;
    char requested_by[192];
    int64_t created;
    int64_t approvals; /* distinct approvers so far */
} store_grant;

void store_grant_done(store_grant *g);
/* The denied attempt a break-glass code names: its node and, when recorded,
 * its verified PCRs (*ret_has_observed). */
int store_denial_find(store *s, const char *code, char *ret_node, size_t node_size,
                      pcr_bank *ret_observed, bool *ret_has_observed);
int store_grant_put(store *s, const store_grant *g);
int store_grant_get(store *s, const char *id, store_grant *ret);
/* -EEXIST when this approver already approved. */
int store_grant_approve(store *s, const char *id, const char *approver, const char *sig_b64);
int store_grant_set_state(store *s, const char *id, store_grant_state state);
/* Active, in their time window, with uses left (malloc'd array). */
int store_grant_list_usable(store *s, const char *node_id, int64_t now, store_grant **ret,
                            size_t *ret_n);
/* uses_left - 1; -ENOENT when none left. */
int store_grant_use(store *s, const char *id);
/* The latest 1000 grants, newest first (malloc'd array, free()). */
int store_grant_list(store *s, store_grant **ret, size_t *ret_n);
/* Marks requested/active grants whose not_after passed as expired; returns
 * them (malloc'd array) so that each gets an audit record. */
int store_grant_expire(store *s, int64_t now, store_grant **ret, size_t *ret_n);

/* ---- attempts: the evidence of each unlock attempt (issue 11) ---- */
/* An unlock attempt whose quote verified (released, or denied by its logs
 * or its policy): what the node showed and how it was judged. The logs are
 * kept once per distinct content (evidence blobs, content-addressed by
 * SHA-256, zlib-compressed); an attempt names them by digest. */
typedef struct store_attempt {
    int64_t id;
    char node_id[PROTO_MAX_ID + 1];
    char group[PROTO_MAX_ID + 1];
    int64_t time;
    bool released;
    char verdict[48];                   /* verdict_name(): "ok" when released by the policy */
    char mode[16];                      /* "enforce", "audit", "breakglass"; "" when no policy */
    char policy_name[PROTO_MAX_ID + 1]; /* "" when no policy was evaluated */
    int64_t policy_version;
    /* the would-be verdict of an audit-mode release ("" otherwise) */
    char audit_verdict[48];
    int64_t audit_seq;
    char eventlog_sha256[65]; /* hex; "" when the node sent none */
    char ima_sha256[65];
    char *pcrs;       /* quoted PCRs, pcr_bank_encode_hex (malloc'd) */
    char *evaluation; /* JSON text: policy_result_to_json or explanation_to_json (malloc'd) */
} store_attempt;

void store_attempt_done(store_attempt *a);
void store_attempts_free(store_attempt *a, size_t n);

typedef struct store_retention {
    int64_t keep_last; /* attempts kept per node (>= 1) */
    int64_t max_age;   /* seconds; 0: no age limit */
} store_retention;

/* Inside a transaction (required: the digests found stored stay stored
 * until its commit): stores the logs that are not stored yet (by
 * digest), the attempt (a->id set), then applies the retention to a's node:
 * its attempts beyond the newest keep_last, and those older than max_age
 * (never the one just stored), go, and so do the blobs no attempt names
 * any more. a->eventlog_sha256 / ima_sha256 are set here from the logs. */
int store_attempt_put(store *s, store_attempt *a, const uint8_t *eventlog, size_t eventlog_size,
                      const uint8_t *ima, size_t ima_size, const store_retention *keep);
int store_attempt_get(store *s, int64_t id, store_attempt *ret);
/* A node's attempts, newest first, at most limit (0: all kept). */
int store_attempt_list(store *s, const char *node_id, int64_t limit, store_attempt **ret,
                       size_t *ret_n);
/* The newest attempt of each node (of group, or every group when NULL or
 * ""), made at or after since, by node id. */
int store_attempt_latest(store *s, const char *group, int64_t since, store_attempt **ret,
                         size_t *ret_n);
/* Every kept attempt (of group, or every group when NULL or "") made at or
 * after since, newest first, at most limit (0: all). */
int store_attempt_since(store *s, const char *group, int64_t since, int64_t limit,
                        store_attempt **ret, size_t *ret_n);
/* A stored log, decompressed (malloc'd); -ENOENT when no attempt names it. */
int store_evidence_get(store *s, const char *sha256_hex, uint8_t **ret, size_t *ret_size);
/* How much the attempts take: rows, distinct blobs, their compressed and
 * original bytes. */
typedef struct store_attempt_stats {
    int64_t attempts, blobs, blob_bytes, blob_raw_bytes;
} store_attempt_stats;
int store_attempt_stats_get(store *s, store_attempt_stats *ret);
/* Removes the blobs no attempt names any more (bootgated's housekeeping;
 * SQLite removes them at once, PostgreSQL here, see postgres_attempts.c). */
int store_evidence_sweep(store *s);

/* ---- audit ---- */
/* A stored record (strings malloc'd; store_audit_records_free). */
typedef struct store_audit_record {
    int64_t seq;
    char *time, *actor, *action, *node;
    char *details; /* the stored JSON text, byte for byte what the chain hashes */
    char *prev_hash, *hash;
} store_audit_record;

void store_audit_records_free(store_audit_record *a, size_t n);
/* The record as the chain code sees it (pointers into r). */
auditchain_entry store_audit_entry(const store_audit_record *r);

/* Appends a record (computing prev_hash/hash); must run inside a transaction
 * or takes the lock itself. details: JSON text (NULL: "{}"). *ret_seq gets
 * the record's seq. */
int store_audit_append(store *s, const char *actor, const char *action, const char *node,
                       const char *details, int64_t *ret_seq);
/* The last record: seq, hash (hex) and action. -ENOENT when the log is empty. */
int store_audit_head(store *s, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                     char *ret_action, size_t action_size);
/* Records with seq > since, at most limit (0 = all), in order. */
int store_audit_list(store *s, int64_t since, int64_t limit, store_audit_record **ret,
                     size_t *ret_n);
/* Recomputes the chain (auditchain_walk_page, in pages). 0 when intact; -EBADMSG with
 * *ret_bad_seq = first bad record. */
int store_audit_verify(store *s, int64_t *ret_count, int64_t *ret_bad_seq, bg_err *err);
