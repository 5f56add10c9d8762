/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signed audit heads (DESIGN §5, auditchain.h): the chain makes edits
 * visible only to someone who trusts the latest hash; a signature by a key
 * that is not in the database pins the chain up to that record. */
#include "srv.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auditchain.h"
#include "metrics.h"
#include "util.h"

/* Record seq of the log, or NULL (*ret_n 0) when it is missing. */
static int record_at(srv *s, int64_t seq, store_audit_record **ret, size_t *ret_n)
{
    int r = store_audit_list(s->store, seq - 1, 1, ret, ret_n);
    if (r >= 0 && *ret_n == 1 && (*ret)[0].seq != seq) {
        store_audit_records_free(*ret, *ret_n);
        *ret = NULL;
        *ret_n = 0;
    }
    return r;
}

int srv_audit_head_load(srv *s, auditchain_head *ret, bg_err *err)
{
    return auditchain_head_read_file(s->cfg.audit_head_file, ret, err);
}

int srv_audit_head_reached(srv *s, const auditchain_head *h, int64_t *ret_bad_seq, bg_err *err)
{
    char last_hash[2 * AUDITCHAIN_HASH_SIZE + 1], action[64];
    store_audit_record *at_seq = NULL, *at_record = NULL;
    size_t n_seq = 0, n_record = 0;
    int64_t last = 0;
    int r;

    r = store_audit_head(s->store, &last, last_hash, action, sizeof(action));
    if (r == -ENOENT)
        last = 0;
    else if (r < 0)
        return r;
    /* only the two records the head names are read, not the whole log */
    r = record_at(s, h->seq, &at_seq, &n_seq);
    if (r >= 0)
        r = record_at(s, h->record_seq, &at_record, &n_record);
    if (r >= 0) {
        auditchain_entry e_seq = n_seq ? store_audit_entry(at_seq) : (auditchain_entry){0};
        auditchain_entry e_record = n_record ? store_audit_entry(at_record) : (auditchain_entry){0};
        r = auditchain_check_reaches(h, last, n_seq ? &e_seq : NULL, n_record ? &e_record : NULL,
                                     s->cfg.audit_head_file, ret_bad_seq, err);
    }
    store_audit_records_free(at_seq, n_seq);
    store_audit_records_free(at_record, n_record);
    return r;
}

typedef struct signing {
    srv *srv;
    auditchain_head head; /* the new head, when one was signed */
    bg_err *err;
} signing;

/* In the transaction: the head, and its signature as the next record. The
 * log must still reach the last head written out: a log cut back (or
 * rewritten) under the server is never signed over, so that the head file
 * keeps the evidence. */
static int sign_head(srv_audit_tx *tx, void *arg)
{
    signing *sg = arg;
    srv *s = sg->srv;
    char hash[2 * AUDITCHAIN_HASH_SIZE + 1], action[64];
    uint8_t sig[AUDITCHAIN_SIG_SIZE];
    _cleanup_(freep) char *sig_b64 = NULL;
    auditchain_head prev;
    json_object *det;
    int64_t seq = 0, bad = 0;
    int r;

    r = srv_audit_head_load(s, &prev, sg->err);
    if (r >= 0)
        r = srv_audit_head_reached(s, &prev, &bad, sg->err);
    else if (r == -ENOENT)
        r = 0;
    if (r < 0)
        return r;
    r = store_audit_head(srv_audit_tx_store(tx), &seq, hash, action, sizeof(action));
    if (r == -ENOENT || (r >= 0 && !strcmp(action, AUDITCHAIN_HEAD_ACTION)))
        return 0; /* nothing new since the last signature */
    if (r >= 0)
        r = auditchain_head_sign(s->audit_key, seq, hash, sig, sg->err);
    if (r >= 0 && !(sig_b64 = base64_encode_alloc(sig, sizeof(sig))))
        r = -ENOMEM;
    if (r < 0)
        return r;
    det = json_object_new_object();
    json_object_object_add(det, "seq", json_object_new_int64(seq));
    json_object_object_add(det, "hash", json_object_new_string(hash));
    json_object_object_add(det, "signature", json_object_new_string(sig_b64));
    r = srv_audit_tx_append(
        tx,
        &(srv_audit_rec){.actor = "bootgated", .action = AUDITCHAIN_HEAD_ACTION, .details = det},
        &sg->head.record_seq);
    json_object_put(det);
    if (r < 0)
        return r;
    sg->head.seq = seq;
    snprintf(sg->head.hash, sizeof(sg->head.hash), "%s", hash);
    snprintf(sg->head.signature, sizeof(sg->head.signature), "%s", sig_b64);
    return 1;
}

int srv_audit_sign_head(srv *s, bg_err *err)
{
    signing sg = {.srv = s, .err = err};
    int r;

    if (!s->audit_key)
        return 0;
    r = srv_audited(s, NULL, sign_head, &sg, NULL);
    if (r == SRV_AUDIT_FAILED)
        return bg_err_set(err, r, "audit head: cannot append the signature record");
    if (r < 0)
        return bg_err_prefix(err, r, "audit head not signed");
    if (r == 0)
        return 0;
    /* after the commit: the file never names a record that is not in the log */
    r = auditchain_head_write_file(s->cfg.audit_head_file, &sg.head, err);
    if (r < 0)
        return bg_err_prefix(err, r, "audit head: record %lld signed, but not written out",
                             (long long)sg.head.seq);
    metrics_audit_signed_head(sg.head.seq, (int64_t)time(NULL));
    return 0;
}
