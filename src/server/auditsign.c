/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Signed audit heads (DESIGN §5, auditchain.h): the chain makes edits
 * visible only to someone who trusts the latest hash; a signature by a key
 * that is not in the database pins the chain up to that record. */
#include "srv.h"

#include <errno.h>
#include <string.h>

#include "auditchain.h"
#include "util.h"

int srv_audit_sign_head(srv *s, bg_err *err)
{
    char hash[2 * AUDITCHAIN_HASH_SIZE + 1], action[64];
    uint8_t sig[AUDITCHAIN_SIG_SIZE];
    _cleanup_(freep) char *sig_b64 = NULL;
    json_object *det;
    int64_t seq = 0, new_seq = 0;
    int r;

    if (!s->audit_key)
        return 0;
    r = store_begin(s->store);
    if (r < 0)
        return bg_err_set(err, r, "audit head: store busy");
    r = store_audit_head(s->store, &seq, hash, action, sizeof(action));
    if (r == -ENOENT || (r >= 0 && !strcmp(action, AUDITCHAIN_HEAD_ACTION))) {
        /* nothing new since the last signature */
        store_rollback(s->store);
        return 0;
    }
    if (r >= 0)
        r = auditchain_head_sign(s->audit_key, seq, hash, sig, err);
    if (r >= 0 && !(sig_b64 = base64_encode_alloc(sig, sizeof(sig))))
        r = -ENOMEM;
    if (r < 0) {
        store_rollback(s->store);
        return r;
    }
    det = json_object_new_object();
    json_object_object_add(det, "seq", json_object_new_int64(seq));
    json_object_object_add(det, "hash", json_object_new_string(hash));
    json_object_object_add(det, "signature", json_object_new_string(sig_b64));
    r = store_audit_append(s->store, "bootgated", AUDITCHAIN_HEAD_ACTION, "", det, &new_seq);
    json_object_put(det);
    r = store_end(s->store, r);
    if (r < 0)
        return bg_err_set(err, r, "audit head: cannot append the signature record");
    srv_log_audit(AUDITCHAIN_HEAD_ACTION, "", "bootgated", new_seq, hash);
    return 0;
}
