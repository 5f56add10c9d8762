/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signed audit heads (DESIGN §5, auditchain.h): the chain makes edits
 * visible only to someone who trusts the latest hash; a signature by a key
 * that is not in the database pins the chain up to that record. */
#include "srv.h"

#include <errno.h>
#include <string.h>

#include "audit.h"
#include "auditchain.h"
#include "util.h"

/* Record seq of the log: its hash and action, and the details text. */
static int record_at(srv *s, int64_t seq, char *ret_hash, size_t hash_size, char *ret_action,
                     size_t action_size, json_object **ret_details)
{
    json_object *a = NULL, *o, *v;
    int r = store_audit_list(s->store, seq - 1, 1, &a);
    if (r < 0)
        return r;
    o = json_object_array_length(a) == 1 ? json_object_array_get_idx(a, 0) : NULL;
    if (!o || !json_object_object_get_ex(o, "seq", &v) || json_object_get_int64(v) != seq) {
        json_object_put(a);
        return -ENOENT;
    }
    snprintf(ret_hash, hash_size, "%s",
             json_object_object_get_ex(o, "hash", &v) ? json_object_get_string(v) : "");
    snprintf(ret_action, action_size, "%s",
             json_object_object_get_ex(o, "action", &v) ? json_object_get_string(v) : "");
    if (ret_details)
        *ret_details = json_object_object_get_ex(o, "details", &v)
                           ? json_tokener_parse(json_object_get_string(v))
                           : NULL;
    json_object_put(a);
    return 0;
}

int srv_audit_head_load(srv *s, auditchain_head *ret, bg_err *err)
{
    return auditchain_head_read_file(s->cfg.audit_head_file, ret, err);
}

int srv_audit_head_reached(srv *s, const auditchain_head *h, int64_t *ret_bad_seq, bg_err *err)
{
    char hash[2 * AUDITCHAIN_HASH_SIZE + 1], action[64], last_hash[2 * AUDITCHAIN_HASH_SIZE + 1];
    json_object *det = NULL, *v;
    int64_t last = 0;
    int r;

    r = store_audit_head(s->store, &last, last_hash, action, sizeof(action));
    if (r == -ENOENT)
        last = 0;
    else if (r < 0)
        return r;
    if (last < h->record_seq) {
        *ret_bad_seq = last + 1;
        return bg_err_set(err, -EBADMSG,
                          "the log is truncated: it ends at record %lld, but the signed head in %s "
                          "names record %lld, signed in record %lld",
                          (long long)last, s->cfg.audit_head_file, (long long)h->seq,
                          (long long)h->record_seq);
    }
    r = record_at(s, h->seq, hash, sizeof(hash), action, sizeof(action), NULL);
    if (r >= 0 && strcmp(hash, h->hash) != 0) {
        *ret_bad_seq = h->seq;
        return bg_err_set(err, -EBADMSG,
                          "record %lld no longer has the hash signed for it in %s: the log up to "
                          "it was rewritten",
                          (long long)h->seq, s->cfg.audit_head_file);
    }
    if (r >= 0)
        r = record_at(s, h->record_seq, hash, sizeof(hash), action, sizeof(action), &det);
    if (r >= 0 && (strcmp(action, AUDITCHAIN_HEAD_ACTION) != 0 ||
                   !json_object_object_get_ex(det, "hash", &v) ||
                   strcmp(json_object_get_string(v), h->hash) != 0)) {
        json_object_put(det);
        *ret_bad_seq = h->record_seq;
        return bg_err_set(err, -EBADMSG, "record %lld is not the signed head that %s names",
                          (long long)h->record_seq, s->cfg.audit_head_file);
    }
    json_object_put(det);
    if (r == -ENOENT) {
        *ret_bad_seq = h->seq;
        return bg_err_set(err, -EBADMSG, "record %lld is missing", (long long)h->seq);
    }
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
    return 0;
}
