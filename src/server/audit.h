/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one way bootgated changes state (DESIGN §5, §6): the change and its
 * audit record commit in one store transaction, or neither does; the log
 * line of each record is written only after the commit.
 *
 *   srv_audited(s, &(srv_audit_rec){actor, action, node, details}, change, arg, &seq)
 *
 * runs change(tx, arg) (NULL: the record alone), then appends the record
 * (action NULL: only the records the change appended itself), then commits.
 * A change that needs more than one record, in its own order, appends them
 * with srv_audit_tx_append(); they are part of the same transaction.
 *
 * Returns the change's result (>= 0) with *ret_seq = the seq of the last
 * record committed; a negative result of change (its refusal: -ENOENT,
 * -EEXIST, -EPERM, ...) unchanged, with nothing committed; SRV_AUDIT_FAILED
 * when a record or the commit failed, so that a caller can answer 503 and
 * tell this apart from the change's own -EEXIST (an audit INSERT refused by
 * a constraint is -EEXIST too in the store). */

#include <errno.h>
#include <stdint.h>

#include <json-c/json.h>

#include "auditchain.h"
#include "srv.h"

#define SRV_AUDIT_FAILED (-ENOLCK)

typedef struct srv_audit_rec {
    const char *actor;
    const char *action;
    const char *node;     /* NULL or "" when none */
    json_object *details; /* NULL: {}; not consumed */
    /* the log line's text when not the details (an unlock's record holds a
     * whole explanation: the journal gets one bounded line, the audit
     * record the rest); NULL: the details */
    const char *summary;
    /* the log record's BOOTGATE_VERDICT and BOOTGATE_POLICY; NULL: none */
    const char *verdict;
    const char *policy;
} srv_audit_rec;

typedef struct srv_audit_tx srv_audit_tx;

typedef int (*srv_audit_change_fn)(srv_audit_tx *tx, void *arg);

int srv_audited(srv *s, const srv_audit_rec *rec, srv_audit_change_fn change, void *arg,
                int64_t *ret_seq);

/* Inside a change: the store of the transaction, and a record of its own.
 * A failed append fails the whole transaction (SRV_AUDIT_FAILED), whatever
 * the change then returns. */
store *srv_audit_tx_store(srv_audit_tx *tx);
int srv_audit_tx_append(srv_audit_tx *tx, const srv_audit_rec *rec, int64_t *ret_seq);

/* 503 {"error": "unavailable"} for a failed srv_audited (or store) call r,
 * saying so when it was the audit record that could not be committed. The
 * store's reason (store_last_error) goes to the log, not to the client: at
 * most one line a second, with the number of similar lines left out. */
void srv_reply_audit_error(srv_req *req, int r);

/* auditsign.c: the latest signed head, kept outside the database in
 * audit_head_file (auditchain.h). -ENOENT when there is none yet. */
int srv_audit_head_load(srv *s, auditchain_head *ret, bg_err *err);
/* 0 when the log still reaches head h: record h->seq has the signed hash
 * and the log goes on to the audit_head_signed record h->record_seq.
 * -EBADMSG with *ret_bad_seq = the first record missing (truncation) or
 * changed, and a message saying which. */
int srv_audit_head_reached(srv *s, const auditchain_head *h, int64_t *ret_bad_seq, bg_err *err);
