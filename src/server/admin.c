/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /v1/admin/...: nodes, policies, audit. Roles are checked by the route
 * table; every change is an audit record in the same transaction. */
#include "srv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "audit.h"
#include "evidence.h"
#include "lockout.h"
#include "policy.h"
#include "util.h"

static json_object *wrap(const char *key, json_object *v)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, key, v);
    return o;
}

/* Runs change() and the audit record in one transaction (audit.h). */
static int audited(srv_req *r, const char *action, const char *node, json_object *det,
                   srv_audit_change_fn change, void *arg, int64_t *ret_seq)
{
    srv_audit_rec rec = {.actor = r->actor, .action = action, .node = node, .details = det};
    return srv_audited(r->srv, &rec, change, arg, ret_seq);
}

void srv_handle_admin_nodes(srv_req *r)
{
    _cleanup_(freep) store_node_summary *n = NULL;
    size_t count = 0;
    json_object *a;
    if (store_node_list(r->srv->store, &n, &count) < 0)
        return srv_reply_audit_error(r, -EIO);
    a = json_object_new_array();
    for (size_t i = 0; i < count; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "node_id", json_object_new_string(n[i].id));
        json_object_object_add(o, "hostname", json_object_new_string(n[i].hostname));
        json_object_object_add(o, "group", json_object_new_string(n[i].group));
        json_object_object_add(o, "state",
                               json_object_new_string(store_node_state_name(n[i].state)));
        json_object_object_add(o, "ek_fingerprint", json_object_new_string(n[i].ek_fingerprint));
        json_object_object_add(o, "ek_cert_verified",
                               json_object_new_boolean(n[i].ek_cert_verified));
        json_object_object_add(o, "created", json_object_new_int64(n[i].created));
        json_object_object_add(o, "updated", json_object_new_int64(n[i].updated));
        json_object_object_add(o, "volumes", json_object_new_int64(n[i].volumes));
        json_object_array_add(a, o);
    }
    srv_reply_json(r, 200, wrap("nodes", a));
}

void srv_handle_admin_node_show(srv_req *r)
{
    store_node n;
    json_object *o;
    _cleanup_(freep) char *ak = NULL;
    int r0 = store_node_get(r->srv->store, r->params[0], &n);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "node_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    ak = hex_encode_alloc(n.ak_name, n.ak_name_size);
    o = json_object_new_object();
    json_object_object_add(o, "node_id", json_object_new_string(n.id));
    json_object_object_add(o, "hostname", json_object_new_string(n.hostname));
    json_object_object_add(o, "group", json_object_new_string(n.group));
    json_object_object_add(o, "state", json_object_new_string(store_node_state_name(n.state)));
    json_object_object_add(o, "ek_fingerprint", json_object_new_string(n.ek_fingerprint));
    json_object_object_add(o, "ek_cert_verified", json_object_new_boolean(n.ek_cert_verified));
    json_object_object_add(o, "ek_cert_subject", json_object_new_string(n.ek_cert_subject));
    json_object_object_add(o, "ak_name", json_object_new_string(ak ? ak : ""));
    json_object_object_add(o, "volumes",
                           json_object_new_int(store_volume_count(r->srv->store, n.id)));
    json_object_object_add(o, "created", json_object_new_int64(n.created));
    json_object_object_add(o, "updated", json_object_new_int64(n.updated));
    srv_reply_json(r, 200, o);
}

typedef struct state_change {
    const char *id;
    store_node_state from_required; /* -1: any */
    int has_from;
    store_node_state to;
    const char *fingerprint; /* approve: must match */
    int refused;             /* set by change_state: 1 wrong state, 2 wrong fingerprint */
} state_change;

static int change_state(srv_audit_tx *tx, void *arg)
{
    state_change *c = arg;
    store_node n;
    int r0 = store_node_get(srv_audit_tx_store(tx), c->id, &n);
    if (r0 < 0)
        return r0;
    if (c->has_from && n.state != c->from_required) {
        c->refused = 1;
        return -EPERM;
    }
    if (c->fingerprint && strcasecmp(c->fingerprint, n.ek_fingerprint) != 0) {
        c->refused = 2;
        return -EPERM;
    }
    return store_node_set_state(srv_audit_tx_store(tx), c->id, c->to);
}

void srv_handle_admin_node_approve(srv_req *r)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    json_object *fp = NULL, *det, *o;
    state_change c = {
        .id = r->params[0], .has_from = 1, .from_required = NODE_PENDING, .to = NODE_ACTIVE};
    int64_t seq = 0;
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    if (!json_object_object_get_ex(body, "ek_fingerprint", &fp) ||
        !json_object_is_type(fp, json_type_string) || json_object_get_string_len(fp) != 64)
        return srv_reply_error(r, 400, "bad_request",
                               "ek_fingerprint (64 hex digits, from the node's TPM) is required");
    if (proto_check_string("ek_fingerprint", json_object_get_string(fp), 64, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    c.fingerprint = json_object_get_string(fp);
    det = json_object_new_object();
    json_object_object_add(det, "ek_fingerprint", json_object_new_string(c.fingerprint));
    r0 = audited(r, "node_approved", c.id, det, change_state, &c, &seq);
    json_object_put(det);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "node_unknown", NULL);
    if (c.refused == 1)
        return srv_reply_error(r, 409, "conflict", "node is not pending");
    if (c.refused == 2)
        return srv_reply_error(r, 403, "fingerprint_mismatch",
                               "EK fingerprint differs from the enrolled EK");
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    o = json_object_new_object();
    json_object_object_add(o, "node_id", json_object_new_string(c.id));
    json_object_object_add(o, "state", json_object_new_string("active"));
    json_object_object_add(o, "audit_seq", json_object_new_int64(seq));
    srv_reply_json(r, 200, o);
}

void srv_handle_admin_node_revoke(srv_req *r)
{
    state_change c = {.id = r->params[0], .to = NODE_REVOKED};
    json_object *o;
    int64_t seq = 0;
    int r0 = audited(r, "node_revoked", c.id, NULL, change_state, &c, &seq);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "node_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    o = json_object_new_object();
    json_object_object_add(o, "node_id", json_object_new_string(c.id));
    json_object_object_add(o, "state", json_object_new_string("revoked"));
    json_object_object_add(o, "audit_seq", json_object_new_int64(seq));
    srv_reply_json(r, 200, o);
}

static int delete_node(srv_audit_tx *tx, void *arg)
{
    return store_node_delete(srv_audit_tx_store(tx), arg);
}

/* DELETE /v1/admin/nodes/ID: only a revoked node, so that removing a node
 * always leaves a revocation record first */
void srv_handle_admin_node_delete(srv_req *r)
{
    json_object *o;
    int64_t seq = 0;
    int r0 = audited(r, "node_deleted", r->params[0], NULL, delete_node, r->params[0], &seq);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "node_unknown", NULL);
    if (r0 == -EPERM)
        return srv_reply_error(r, 409, "conflict", "revoke the node first");
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    o = json_object_new_object();
    json_object_object_add(o, "node_id", json_object_new_string(r->params[0]));
    json_object_object_add(o, "state", json_object_new_string("deleted"));
    json_object_object_add(o, "audit_seq", json_object_new_int64(seq));
    srv_reply_json(r, 200, o);
}

static int put_policy(srv_audit_tx *tx, void *arg)
{
    return store_policy_put(srv_audit_tx_store(tx), arg);
}

/* body {"policy": <policy JSON object, or its text>, "signature": "<base64 Ed25519>"}; the
 * signature is over the canonical form (policy.h), so formatting does not matter. */
void srv_handle_admin_policy_upload(srv_req *r)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    json_object *pj = NULL, *sj = NULL, *det, *o;
    _cleanup_(freep) char *canonical = NULL;
    _cleanup_(freep) char *sig = NULL;
    store_policy p = {0};
    int64_t seq = 0;
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    if (!json_object_object_get_ex(body, "policy", &pj) ||
        !(json_object_is_type(pj, json_type_string) || json_object_is_type(pj, json_type_object)) ||
        !json_object_object_get_ex(body, "signature", &sj) ||
        !json_object_is_type(sj, json_type_string))
        return srv_reply_error(r, 400, "bad_request",
                               "policy (JSON object or text) and signature (base64) are required");
    if (evidence_policy_check_upload(r->srv->cfg.policy_signers_dir, pj, json_object_get_string(sj),
                                     &canonical, &sig, p.name, sizeof(p.name), &p.version, p.signer,
                                     sizeof(p.signer), &err) < 0)
        return srv_reply_error(r, 400, "policy_rejected", bg_err_msg(&err));
    p.json = canonical;
    p.signature = sig;
    det = json_object_new_object();
    json_object_object_add(det, "name", json_object_new_string(p.name));
    json_object_object_add(det, "version", json_object_new_int64(p.version));
    json_object_object_add(det, "signer", json_object_new_string(p.signer));
    r0 = audited(r, "policy_uploaded", "", det, put_policy, &p, &seq);
    json_object_put(det);
    if (r0 == -EEXIST)
        return srv_reply_error(r, 409, "conflict",
                               "version must be greater than every stored version of this name");
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(p.name));
    json_object_object_add(o, "version", json_object_new_int64(p.version));
    json_object_object_add(o, "audit_seq", json_object_new_int64(seq));
    srv_reply_json(r, 200, o);
}

void srv_handle_admin_policies(srv_req *r)
{
    store_policy *p = NULL;
    size_t n = 0;
    json_object *a;
    if (store_policy_list(r->srv->store, &p, &n) < 0)
        return srv_reply_audit_error(r, -EIO);
    a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(p[i].name));
        json_object_object_add(o, "version", json_object_new_int64(p[i].version));
        json_object_object_add(o, "signer", json_object_new_string(p[i].signer));
        json_object_object_add(o, "active", json_object_new_boolean(p[i].active));
        json_object_object_add(o, "created", json_object_new_int64(p[i].created));
        json_object_array_add(a, o);
    }
    store_policies_free(p, n);
    srv_reply_json(r, 200, wrap("policies", a));
}

static int parse_version(const char *s, int64_t *ret)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

void srv_handle_admin_policy_show(srv_req *r)
{
    _cleanup_(store_policy_done) store_policy p = {0};
    int64_t version;
    json_object *o;
    int r0;
    if (parse_version(r->params[1], &version) < 0)
        return srv_reply_error(r, 400, "bad_request", "version must be a number");
    r0 = store_policy_get(r->srv->store, r->params[0], version, &p);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "policy_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(p.name));
    json_object_object_add(o, "version", json_object_new_int64(p.version));
    json_object_object_add(o, "policy", json_object_new_string(p.json));
    json_object_object_add(o, "signature", json_object_new_string(p.signature));
    json_object_object_add(o, "signer", json_object_new_string(p.signer));
    json_object_object_add(o, "active", json_object_new_boolean(p.active));
    json_object_object_add(o, "created", json_object_new_int64(p.created));
    srv_reply_json(r, 200, o);
}

typedef struct activation {
    const char *name;
    int64_t version;
    bool force;
    char reason[256]; /* with force: why (audited) */
} activation;

static int activate_policy(srv_audit_tx *tx, void *arg)
{
    activation *a = arg;
    return store_policy_activate(srv_audit_tx_store(tx), a->name, a->version);
}

/* The optional body {"force": true, "reason": "..."}: a reason (3..255
 * characters of text) is required with force. Replies itself on failure. */
static int parse_force(srv_req *r, activation *a)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    json_object *v;
    bg_err err = {0};
    if (!r->body || r->body_size == 0)
        return 0;
    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0) {
        srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
        return -EINVAL;
    }
    json_object_object_foreach(body, key, val)
    {
        (void)val;
        if (strcmp(key, "force") && strcmp(key, "reason")) {
            srv_reply_error(r, 400, "bad_request", "only force and reason are accepted");
            return -EINVAL;
        }
    }
    if (json_object_object_get_ex(body, "force", &v)) {
        if (!json_object_is_type(v, json_type_boolean)) {
            srv_reply_error(r, 400, "bad_request", "force is true or false");
            return -EINVAL;
        }
        a->force = json_object_get_boolean(v);
    }
    if (!json_object_object_get_ex(body, "reason", &v) || json_object_is_type(v, json_type_null)) {
        if (a->force) {
            srv_reply_error(r, 400, "bad_request", "force requires a reason (3..255 characters)");
            return -EINVAL;
        }
        return 0;
    }
    if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) < 3 ||
        json_object_get_string_len(v) >= (int)sizeof(a->reason)) {
        srv_reply_error(r, 400, "bad_request", "reason: 3..255 characters");
        return -EINVAL;
    }
    if (proto_check_string("reason", json_object_get_string(v),
                           (size_t)json_object_get_string_len(v), &err) < 0) {
        srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
        return -EINVAL;
    }
    snprintf(a->reason, sizeof(a->reason), "%s", json_object_get_string(v));
    return 0;
}

/* 409 would_lock_out: the nodes the version would deny (lockout.h). */
static void reply_lockout(srv_req *r, const activation *a, const srv_lockout *l)
{
    char reason[256];
    json_object *o = json_object_new_object();
    if (l->would_deny)
        snprintf(reason, sizeof reason,
                 "%zu node(s) whose latest boot %s v%lld released would be denied by v%lld; "
                 "activate with force and a reason to override",
                 l->would_deny, a->name, (long long)l->active_version, (long long)a->version);
    else
        snprintf(reason, sizeof reason,
                 "%zu node(s) could not be checked (beyond activation_check_max_nodes or "
                 "_max_states); activate with force and a reason to override",
                 l->unchecked);
    json_object_object_add(o, "error", json_object_new_string("would_lock_out"));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_object_add(o, "active_version", json_object_new_int64(l->active_version));
    json_object_object_add(o, "checked", json_object_new_int64((int64_t)l->checked));
    json_object_object_add(o, "would_deny", json_object_new_int64((int64_t)l->would_deny));
    json_object_object_add(o, "unchecked", json_object_new_int64((int64_t)l->unchecked));
    json_object_object_add(o, "nodes", json_object_get(l->nodes));
    srv_reply_json(r, 409, o);
}

/* A version may be activated only while it could release a key: one that
 * expired since its upload, or gates PCRs the quote does not cover, is
 * refused with the reason; and, unless forced, only when it denies no node
 * whose latest boot the active version released (lockout.h). Replies itself
 * on failure. */
static int check_activation(srv_req *r, const activation *a, srv_lockout *lock)
{
    _cleanup_(store_policy_done) store_policy stored = {0};
    _cleanup_(policy_freep) policy *p = NULL;
    bg_err err = {0};
    int r0 = store_policy_get(r->srv->store, a->name, a->version, &stored);
    if (r0 == -ENOENT) {
        srv_reply_error(r, 404, "policy_unknown", NULL);
        return r0;
    }
    if (r0 < 0) {
        srv_reply_audit_error(r, -EIO);
        return r0;
    }
    r0 = policy_parse(stored.json, strlen(stored.json), &p, &err);
    if (r0 >= 0)
        r0 = policy_check_deployable(p, EVIDENCE_QUOTED_PCRS, time(NULL), &err);
    if (r0 < 0) {
        srv_reply_error(r, 400, "policy_rejected", bg_err_msg(&err));
        return r0;
    }
    r0 = srv_lockout_check(r->srv, &stored, lock, &err);
    if (r0 == -EPERM) {
        srv_reply_error(r, 400, "policy_rejected", bg_err_msg(&err));
        return r0;
    }
    if (r0 < 0) {
        srv_log(LOG_ERR, &(srv_log_fields){.action = "store_error", .seq = -1},
                "activation check of %s v%lld: %s", a->name, (long long)a->version,
                bg_err_msg(&err));
        srv_reply_error(r, 500, "internal", "the activation check could not read the attempts");
        return r0;
    }
    if ((lock->would_deny || lock->unchecked) && !a->force) {
        reply_lockout(r, a, lock);
        return -EBUSY;
    }
    return 0;
}

void srv_handle_admin_policy_activate(srv_req *r)
{
    activation a = {.name = r->params[0]};
    _cleanup_(srv_lockout_done) srv_lockout lock = {0};
    json_object *det, *o;
    int64_t seq = 0;
    int r0;
    if (parse_version(r->params[1], &a.version) < 0)
        return srv_reply_error(r, 400, "bad_request", "version must be a number");
    if (parse_force(r, &a) < 0)
        return;
    r0 = check_activation(r, &a, &lock);
    if (r0 < 0)
        return;
    det = json_object_new_object();
    json_object_object_add(det, "name", json_object_new_string(a.name));
    json_object_object_add(det, "version", json_object_new_int64(a.version));
    if (lock.active_version) {
        json_object_object_add(det, "previous_version", json_object_new_int64(lock.active_version));
        json_object_object_add(det, "checked_nodes", json_object_new_int64((int64_t)lock.checked));
        json_object_object_add(det, "would_deny", json_object_get(lock.nodes));
        if (lock.unchecked)
            json_object_object_add(det, "unchecked_nodes",
                                   json_object_new_int64((int64_t)lock.unchecked));
    }
    if (a.force) {
        json_object_object_add(det, "forced", json_object_new_boolean(1));
        json_object_object_add(det, "reason", json_object_new_string(a.reason));
    }
    r0 = audited(r, "policy_activated", "", det, activate_policy, &a, &seq);
    json_object_put(det);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "policy_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(a.name));
    json_object_object_add(o, "version", json_object_new_int64(a.version));
    json_object_object_add(o, "active", json_object_new_boolean(1));
    json_object_object_add(o, "audit_seq", json_object_new_int64(seq));
    json_object_object_add(o, "checked_nodes", json_object_new_int64((int64_t)lock.checked));
    json_object_object_add(o, "would_deny", json_object_new_int64((int64_t)lock.would_deny));
    srv_reply_json(r, 200, o);
}

/* GET /v1/admin/audit?since=SEQ&limit=N */
void srv_handle_admin_audit(srv_req *r)
{
    struct evkeyvalq q = {0};
    const char *v;
    int64_t since = 0, limit = 1000;
    store_audit_record *rec = NULL;
    size_t n = 0;
    json_object *a, *o;
    auditchain_head head;
    int r0;

    if (r->query[0] && evhttp_parse_query_str(r->query, &q) < 0)
        return srv_reply_error(r, 400, "bad_request", "bad query string");
    if ((v = evhttp_find_header(&q, "since")) && parse_version(v, &since) < 0) {
        evhttp_clear_headers(&q);
        return srv_reply_error(r, 400, "bad_request", "since must be a number");
    }
    if ((v = evhttp_find_header(&q, "limit")) && (parse_version(v, &limit) < 0 || limit > 100000)) {
        evhttp_clear_headers(&q);
        return srv_reply_error(r, 400, "bad_request", "limit must be 0..100000");
    }
    evhttp_clear_headers(&q);
    /* the head before the records: the file only moves forward, so the
     * records listed next always reach it */
    r0 = srv_audit_head_load(r->srv, &head, NULL);
    if (store_audit_list(r->srv->store, since, limit, &rec, &n) < 0)
        return srv_reply_audit_error(r, -EIO);
    a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        auditchain_entry e = store_audit_entry(&rec[i]);
        json_object_array_add(a, auditchain_entry_to_json(&e));
    }
    store_audit_records_free(rec, n);
    o = wrap("records", a);
    if (r0 >= 0)
        json_object_object_add(o, "signed_head", auditchain_head_to_json(&head));
    srv_reply_json(r, 200, o);
}

/* The chain, and that it still reaches the signed head in audit_head_file. */
void srv_handle_admin_audit_verify(srv_req *r)
{
    int64_t count = 0, bad = 0;
    auditchain_head head;
    bg_err err = {0}, herr = {0};
    int rh = srv_audit_head_load(r->srv, &head, &herr);
    int r0 = store_audit_verify(r->srv->store, &count, &bad, &err);
    json_object *o;
    if (r0 >= 0 && rh >= 0)
        r0 = srv_audit_head_reached(r->srv, &head, &bad, &err);
    else if (r0 >= 0 && rh != -ENOENT) {
        r0 = -EBADMSG;
        bad = 0;
        bg_err_set(&err, r0, "%s", bg_err_msg(&herr));
    }
    if (r0 < 0 && r0 != -EBADMSG)
        return srv_reply_audit_error(r, -EIO);
    o = json_object_new_object();
    if (rh >= 0)
        json_object_object_add(o, "signed_head_seq", json_object_new_int64(head.seq));
    json_object_object_add(o, "valid", json_object_new_boolean(r0 >= 0));
    json_object_object_add(o, "records", json_object_new_int64(count));
    if (r0 < 0) {
        json_object_object_add(o, "first_bad_seq", json_object_new_int64(bad));
        json_object_object_add(o, "reason", json_object_new_string(bg_err_msg(&err)));
    }
    srv_reply_json(r, 200, o);
}
