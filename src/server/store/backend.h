/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A store backend (store.h): a table of functions, chosen at run time by the
 * scheme of the store URL. A backend's handle starts with a struct store,
 * whose be points at its table; store.c dispatches every store_* call
 * through it. Each function has the contract written in store.h. */

#include <pthread.h>
#include <stdbool.h>

#include "store.h"

/* Group commit, the part both backends share: a transaction commits without
 * waiting for its log to reach the disk (under the store lock), counts itself
 * (commit number seq), releases the lock, then waits here until a sync covers
 * its commit. The first waiter that finds no sync running calls sync(arg,
 * &upto): it makes every commit counted so far durable and says up to which
 * one; the others wait for it, or start the next sync for the commits it did
 * not cover. One sync (counted in store_fsyncs) serves every commit made
 * before it started. */
typedef struct store_group {
    pthread_mutex_t lock;
    pthread_cond_t done;
    uint64_t durable; /* commits the last sync covered */
    bool syncing;
} store_group;

void store_group_init(store_group *g);
void store_group_destroy(store_group *g);
int store_group_wait(store_group *g, uint64_t seq, int (*sync)(void *arg, uint64_t *ret_upto),
                     void *arg);

/* Records the reason of a failure for store_last_error() (this thread). */
void store_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A log as stored: zlib-compressed, named by the SHA-256 of the raw bytes. */
typedef struct store_blob {
    char sha256[65];
    const uint8_t *data; /* compressed */
    size_t size;
    size_t raw_size;
} store_blob;

typedef struct store_backend {
    const char *scheme; /* "sqlite" in "sqlite:///path" */
    /* location: what follows "scheme://" */
    int (*open)(const char *location, store_open_mode mode, store **ret, bg_err *err);
    void (*close)(store *s);
    int (*ping)(store *s);
    int (*schema_version)(store *s, int64_t *ret_version);
    int (*migrate)(store *s, bg_err *err);
    int (*begin)(store *s);
    int (*commit)(store *s);
    void (*rollback)(store *s);
    int (*node_put)(store *s, const store_node *n);
    int (*node_get)(store *s, const char *id, store_node *ret);
    int (*node_set_state)(store *s, const char *id, store_node_state state);
    int (*node_delete)(store *s, const char *id);
    int (*node_list)(store *s, store_node_summary **ret, size_t *ret_n);
    int (*volume_put)(store *s, const char *node_id, const char *uuid, const uint8_t *wrapped,
                      size_t wrapped_size);
    int (*volume_get)(store *s, const char *node_id, const char *uuid, uint8_t **ret_wrapped,
                      size_t *ret_size);
    int (*volume_count)(store *s, const char *node_id);
    int (*nonce_use)(store *s, const uint8_t *nonce, size_t size, int64_t expires, int64_t now);
    int (*policy_put)(store *s, const store_policy *p);
    int (*policy_get)(store *s, const char *name, int64_t version, store_policy *ret);
    int (*policy_get_active)(store *s, const char *name, store_policy *ret);
    int (*policy_activate)(store *s, const char *name, int64_t version);
    int (*policy_list)(store *s, store_policy **ret, size_t *ret_n);
    int (*denial_find)(store *s, const char *code, char *ret_node, size_t node_size,
                       pcr_bank *ret_observed, bool *ret_has_observed);
    int (*grant_put)(store *s, const store_grant *g);
    int (*grant_get)(store *s, const char *id, store_grant *ret);
    int (*grant_approve)(store *s, const char *id, const char *approver, const char *sig_b64);
    int (*grant_set_state)(store *s, const char *id, store_grant_state state);
    int (*grant_list_usable)(store *s, const char *node_id, int64_t now, store_grant **ret,
                             size_t *ret_n);
    int (*grant_use)(store *s, const char *id);
    int (*grant_list)(store *s, store_grant **ret, size_t *ret_n);
    int (*grant_expire)(store *s, int64_t now, store_grant **ret, size_t *ret_n);
    /* 1 when a blob of that digest is stored, 0 when not */
    int (*evidence_has)(store *s, const char *sha256);
    /* stores the blobs not stored yet, the attempt, then the retention */
    int (*attempt_put)(store *s, store_attempt *a, const store_blob *blobs, size_t n_blobs,
                       const store_retention *keep);
    int (*attempt_get)(store *s, int64_t id, store_attempt *ret);
    int (*attempt_list)(store *s, const char *node_id, int64_t limit, store_attempt **ret,
                        size_t *ret_n);
    int (*attempt_latest)(store *s, const char *group, int64_t since, store_attempt **ret,
                          size_t *ret_n);
    int (*attempt_since)(store *s, const char *group, int64_t since, int64_t limit,
                         store_attempt **ret, size_t *ret_n);
    /* the compressed blob (malloc'd) and its raw size */
    int (*evidence_get)(store *s, const char *sha256, uint8_t **ret, size_t *ret_size,
                        int64_t *ret_raw_size);
    int (*attempt_stats)(store *s, store_attempt_stats *ret);
    int (*evidence_sweep)(store *s);
    int (*audit_append)(store *s, const char *actor, const char *action, const char *node,
                        const char *details, int64_t *ret_seq);
    int (*audit_head)(store *s, int64_t *ret_seq, char ret_hash[2 * AUDITCHAIN_HASH_SIZE + 1],
                      char *ret_action, size_t action_size);
    int (*audit_list)(store *s, int64_t since, int64_t limit, store_audit_record **ret,
                      size_t *ret_n);
} store_backend;

struct store {
    const store_backend *be;
};

extern const store_backend store_backend_sqlite;
extern const store_backend store_backend_postgres;
