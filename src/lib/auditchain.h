/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The audit hash chain (DESIGN §5), shared by bootgated (which appends) and
 * `bootgatectl audit verify` (which recomputes it, also offline on the DB).
 *
 *   canonical(record) = JSON array, json-c plain form, no spaces:
 *                       [seq, "time", "actor", "action", "node", "details"]
 *                       where details is the record's details JSON as stored
 *                       (itself json-c plain form) carried as a string
 *   hash              = SHA-256(prev_hash(32 bytes) || canonical(record))
 *   prev_hash of seq 1 = 32 zero bytes
 *
 * An array with a fixed order needs no key sorting, and carrying details as
 * a string makes the stored text, byte for byte, what is hashed. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"

#define AUDITCHAIN_HASH_SIZE 32

typedef struct auditchain_record {
    int64_t seq;
    const char *time; /* "2026-11-22T21:15:00Z" */
    const char *actor;
    const char *action;
    const char *node; /* "" when none */
    const char *details;
} auditchain_record;

int auditchain_hash(const uint8_t prev[AUDITCHAIN_HASH_SIZE], const auditchain_record *rec,
                    uint8_t ret[AUDITCHAIN_HASH_SIZE], bg_err *err);

/* Signed heads: the hash chain alone can be recomputed by anyone who can
 * write the database, so the server periodically signs the head with an
 * Ed25519 key kept outside the database and appends the signature as an
 * "audit_head_signed" record (details {"seq", "hash", "signature"}).
 *
 *   message = AUDITCHAIN_HEAD_CONTEXT || decimal(seq) || "\n" || hex(hash)
 */
#define AUDITCHAIN_HEAD_CONTEXT "bootgate-audit-head-v1\n"
#define AUDITCHAIN_HEAD_ACTION  "audit_head_signed"
#define AUDITCHAIN_SIG_SIZE     64

typedef struct evp_pkey_st EVP_PKEY;

int auditchain_head_sign(EVP_PKEY *key, int64_t seq, const char *hash_hex,
                         uint8_t ret_sig[AUDITCHAIN_SIG_SIZE], bg_err *err);
/* 0 when sig is a valid signature by key; -EBADMSG otherwise. */
int auditchain_head_verify(EVP_PKEY *key, int64_t seq, const char *hash_hex, const uint8_t *sig,
                           size_t sig_size, bg_err *err);
/* Loads an Ed25519 PEM private (private = true) or public key. */
int auditchain_load_key(const char *path, bool private_key, EVP_PKEY **ret, bg_err *err);

/* The latest signed head, kept OUTSIDE the table it signs (bootgated writes
 * it atomically to audit_head_file after each signed-head record, and serves
 * it with GET /v1/admin/audit as "signed_head"). The chain alone cannot show
 * that its tail was cut off: a table cut back to an older signed head is a
 * valid chain. Whoever verifies checks that the chain still reaches this head.
 *
 *   {"seq": S, "hash": hex of record S, "signature": b64 Ed25519 over the head
 *    message of (S, hash), "record_seq": R, the audit_head_signed record}
 *
 * R > S; records S+1 .. R-1 do not exist today (the head is signed when it
 * is the last record), but a reader only relies on R > S. */
typedef struct auditchain_head {
    int64_t seq;
    char hash[2 * AUDITCHAIN_HASH_SIZE + 1];
    char signature[128]; /* base64 of AUDITCHAIN_SIG_SIZE bytes */
    int64_t record_seq;
} auditchain_head;

typedef struct json_object json_object;

/* new JSON object of the head; NULL on ENOMEM */
json_object *auditchain_head_to_json(const auditchain_head *h);
/* -EBADMSG naming the problem when j is not a well-formed head */
int auditchain_head_from_json(json_object *j, auditchain_head *ret, bg_err *err);
/* -ENOENT (quietly) when the file does not exist */
int auditchain_head_read_file(const char *path, auditchain_head *ret, bg_err *err);
int auditchain_head_write_file(const char *path, const auditchain_head *h, bg_err *err);
/* The head's signature by key: 0, or -EBADMSG. */
int auditchain_head_check_signature(EVP_PKEY *key, const auditchain_head *h, bg_err *err);

/* Verification of stored records, one implementation for bootgated (its
 * /v1/admin/audit/verify, its head checks) and `bootgatectl audit verify`
 * (records from the server's API or from the store offline). */
typedef struct auditchain_entry {
    auditchain_record rec;
    const char *prev_hash; /* hex, as stored */
    const char *hash;
} auditchain_entry;

/* a[0..n) are records 1..n: consecutive seqs, each prev_hash the hash of
 * the record before, each hash recomputed from its contents. 0, or -EBADMSG
 * with *ret_bad = the first record missing or wrong. */
int auditchain_verify(const auditchain_entry *a, size_t n, int64_t *ret_bad, bg_err *err);
/* The same checks page by page, for a chain too long to hold (bootgatectl
 * reads the server's log in pages): the walk keeps only the hash of the
 * last record seen and the count of signed heads, so memory is bounded by
 * one page. Each page must continue where the previous one ended: a record
 * missing or out of order at a page boundary is a break like any other. */
typedef struct auditchain_walk {
    int64_t next;                       /* the seq the next record must have */
    uint8_t prev[AUDITCHAIN_HASH_SIZE]; /* the hash of record next - 1 */
    int64_t heads, last_signed;         /* signed-head records that verified */
} auditchain_walk;

/* The stored hash (hex) of an earlier record: for a signed-head record that
 * names a record before its page (never the case for the heads bootgated
 * writes, which name the record just before them). -ENOENT when missing. */
typedef int (*auditchain_hash_of_fn)(void *userdata, int64_t seq,
                                     char ret[2 * AUDITCHAIN_HASH_SIZE + 1], bg_err *err);

void auditchain_walk_init(auditchain_walk *w);
/* a[0..n) are the records after those walked so far. The chain as
 * auditchain_verify checks it; with key also each signed-head record as
 * auditchain_verify_heads checks it (hash_of may be NULL: a head naming a
 * record before this page is then a break). 0, or -EBADMSG with *ret_bad;
 * after an error the walk cannot go on. */
int auditchain_walk_page(auditchain_walk *w, const auditchain_entry *a, size_t n, EVP_PKEY *key,
                         auditchain_hash_of_fn hash_of, void *userdata, int64_t *ret_bad,
                         bg_err *err);

/* Every signed-head record of a (records 1..n) verifies with key, and the
 * record it names still has the hash that was signed (a chain rewritten
 * from an edited record on passes auditchain_verify, not this). -EBADMSG
 * (also when there is no signed head) with *ret_bad. */
int auditchain_verify_heads(const auditchain_entry *a, size_t n, EVP_PKEY *key, int64_t *ret_heads,
                            int64_t *ret_last, int64_t *ret_bad, bg_err *err);
/* The log, whose last record is last_seq, still reaches head h (kept at
 * src, named in messages): at_seq is record h->seq and at_record record
 * h->record_seq as stored (NULL when missing). -EBADMSG with *ret_bad = the
 * first record missing (truncation) or changed. */
int auditchain_check_reaches(const auditchain_head *h, int64_t last_seq,
                             const auditchain_entry *at_seq, const auditchain_entry *at_record,
                             const char *src, int64_t *ret_bad, bg_err *err);

/* A stored record as the audit API and `bootgatectl audit export` show it:
 * {"seq", "time", "actor", "action", "node", "details" (the stored text),
 *  "prev_hash", "hash"}. NULL on ENOMEM. */
json_object *auditchain_entry_to_json(const auditchain_entry *e);
/* And back, with pointers into j (valid while j is): -EBADMSG naming the
 * field when one is missing or not of its type. */
int auditchain_entry_from_json(json_object *j, auditchain_entry *ret, bg_err *err);
