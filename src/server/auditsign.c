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

/* In the transaction: the head, and its signature as the next record. */
static int sign_head(srv_audit_tx *tx, void *arg)
{
    srv *s = arg;
    char hash[2 * AUDITCHAIN_HASH_SIZE + 1], action[64];
    uint8_t sig[AUDITCHAIN_SIG_SIZE];
    _cleanup_(freep) char *sig_b64 = NULL;
    json_object *det;
    int64_t seq = 0;
    int r;

    r = store_audit_head(srv_audit_tx_store(tx), &seq, hash, action, sizeof(action));
    if (r == -ENOENT || (r >= 0 && !strcmp(action, AUDITCHAIN_HEAD_ACTION)))
        return 0; /* nothing new since the last signature */
    if (r >= 0)
        r = auditchain_head_sign(s->audit_key, seq, hash, sig, NULL);
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
        NULL);
    json_object_put(det);
    return r < 0 ? r : 1;
}

int srv_audit_sign_head(srv *s, bg_err *err)
{
    int r;

    if (!s->audit_key)
        return 0;
    r = srv_audited(s, NULL, sign_head, s, NULL);
    if (r == SRV_AUDIT_FAILED)
        return bg_err_set(err, r, "audit head: cannot append the signature record");
    if (r < 0)
        return bg_err_set(err, r, "audit head: store error or signing failed");
    return 0;
}
