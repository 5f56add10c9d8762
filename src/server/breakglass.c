/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Break-glass (DESIGN §4): a grant names one denied attempt by its code,
 * waives the policy (never identity: steps a-f of the unlock still run) for
 * that node, for a capped time and number of uses, and becomes active after
 * breakglass_approvals distinct approvers signed its canonical form with the
 * Ed25519 keys in approvers_dir.
 *
 *   canonical = "bootgate-grant-v2\n" || json-c plain array
 *               [id, node_id, ek_fingerprint, scope,
 *                sha256hex(pcr_bank_encode(observed PCRs)) or "",
 *                not_before, not_after, uses, reason]
 *
 * Requests, approvals, activation, every use and revocation are audit records. */
#include "srv.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "audit.h"
#include "auditchain.h"
#include "util.h"

#define GRANT_CONTEXT "bootgate-grant-v2\n"

static char *grant_canonical(const store_grant *g, const char *ek_fingerprint)
{
    json_object *a = json_object_new_array();
    char pcr_hash[65] = "";
    char *out = NULL;
    if (!strcmp(g->scope, "observed")) {
        uint8_t enc[PCR_BANK_ENCODED_MAX], md[32];
        unsigned n = 0;
        size_t len = g->has_observed ? pcr_bank_encode(&g->observed, enc) : 0;
        if (len == 0 || EVP_Digest(enc, len, md, &n, EVP_sha256(), NULL) != 1) {
            json_object_put(a);
            return NULL;
        }
        hex_encode(md, sizeof(md), pcr_hash);
    }
    json_object_array_add(a, json_object_new_string(g->id));
    json_object_array_add(a, json_object_new_string(g->node_id));
    json_object_array_add(a, json_object_new_string(ek_fingerprint));
    json_object_array_add(a, json_object_new_string(g->scope));
    json_object_array_add(a, json_object_new_string(pcr_hash));
    json_object_array_add(a, json_object_new_int64(g->not_before));
    json_object_array_add(a, json_object_new_int64(g->not_after));
    json_object_array_add(a, json_object_new_int64(g->uses));
    json_object_array_add(a, json_object_new_string(g->reason));
    if (asprintf(&out, "%s%s", GRANT_CONTEXT,
                 json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
        out = NULL;
    json_object_put(a);
    return out;
}

/* Tries every *.pub in dir; the approver is the file name without .pub. */
static int verify_approver(const char *dir, const char *msg, const uint8_t *sig, size_t sig_size,
                           char *ret_name, size_t name_size)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int r = -EPERM;
    if (!d)
        return -ENOENT;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        char path[4096];
        EVP_PKEY *key = NULL;
        EVP_MD_CTX *md;
        if (len < 5 || strcmp(de->d_name + len - 4, ".pub") != 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
            auditchain_load_key(path, false, &key, NULL) < 0)
            continue;
        md = EVP_MD_CTX_new();
        if (md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
            EVP_DigestVerify(md, sig, sig_size, (const uint8_t *)msg, strlen(msg)) == 1) {
            snprintf(ret_name, name_size, "%.*s", (int)(len - 4), de->d_name);
            r = 0;
        }
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(key);
        if (r == 0)
            break;
    }
    closedir(d);
    return r;
}

/* A grant as the admin API and its audit records show it. */
static json_object *grant_json(const store_grant *g)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(g->id));
    json_object_object_add(o, "node_id", json_object_new_string(g->node_id));
    json_object_object_add(o, "code", json_object_new_string(g->code));
    json_object_object_add(o, "scope", json_object_new_string(g->scope));
    json_object_object_add(o, "reason", json_object_new_string(g->reason));
    json_object_object_add(o, "not_before", json_object_new_int64(g->not_before));
    json_object_object_add(o, "not_after", json_object_new_int64(g->not_after));
    json_object_object_add(o, "uses", json_object_new_int64(g->uses));
    json_object_object_add(o, "uses_left", json_object_new_int64(g->uses_left));
    json_object_object_add(o, "state", json_object_new_string(store_grant_state_name(g->state)));
    json_object_object_add(o, "approvals", json_object_new_int64(g->approvals));
    json_object_object_add(o, "requested_by", json_object_new_string(g->requested_by));
    if (g->has_observed) {
        char *hex = pcr_bank_encode_hex(&g->observed);
        json_object_object_add(o, "observed", hex ? json_object_new_string(hex) : NULL);
        free(hex);
    }
    return o;
}

static int put_grant(srv_audit_tx *tx, void *arg)
{
    return store_grant_put(srv_audit_tx_store(tx), arg);
}

static json_object *grant_reply(const store_grant *g, const char *canonical)
{
    json_object *o = grant_json(g);
    if (canonical)
        json_object_object_add(o, "to_sign", json_object_new_string(canonical));
    return o;
}

/* POST /v1/admin/breakglass {"code", "reason", "ttl": seconds, "uses": n, "scope":
 * "observed"|"any"} */
void srv_handle_breakglass_request(srv_req *r)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    _cleanup_(store_grant_done) store_grant g = {0};
    _cleanup_(freep) char *canonical = NULL;
    json_object *v, *det;
    store_node node;
    int64_t ttl = 1800, now = (int64_t)time(NULL);
    uint8_t rnd[16];
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    if (!json_object_object_get_ex(body, "code", &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) >= (int)sizeof(g.code))
        return srv_reply_error(r, 400, "bad_request", "code (BG-XXXX-XXXX) is required");
    if (proto_check_string("code", json_object_get_string(v), (size_t)json_object_get_string_len(v),
                           &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    snprintf(g.code, sizeof(g.code), "%s", json_object_get_string(v));
    if (!json_object_object_get_ex(body, "reason", &v) ||
        !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) < 3 ||
        json_object_get_string_len(v) >= (int)sizeof(g.reason))
        return srv_reply_error(r, 400, "bad_request", "a reason (3..255 characters) is required");
    if (proto_check_string("reason", json_object_get_string(v),
                           (size_t)json_object_get_string_len(v), &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    snprintf(g.reason, sizeof(g.reason), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(body, "ttl", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_int) || (ttl = json_object_get_int64(v)) < 60)
            return srv_reply_error(r, 400, "bad_request", "ttl is seconds, at least 60");
    }
    /* capped by the server, never more than 24 h (config enforces the max) */
    if (ttl > (int64_t)r->srv->cfg.breakglass_max_ttl)
        ttl = r->srv->cfg.breakglass_max_ttl;
    g.uses = 1;
    if (json_object_object_get_ex(body, "uses", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_int) || (g.uses = json_object_get_int64(v)) < 1)
            return srv_reply_error(r, 400, "bad_request", "uses must be at least 1");
    }
    if (g.uses > (int64_t)r->srv->cfg.breakglass_max_uses)
        g.uses = r->srv->cfg.breakglass_max_uses;
    snprintf(g.scope, sizeof(g.scope), "observed");
    if (json_object_object_get_ex(body, "scope", &v) && !json_object_is_type(v, json_type_null)) {
        const char *sc = json_object_get_string(v);
        if (!json_object_is_type(v, json_type_string) ||
            (strcmp(sc, "observed") != 0 && strcmp(sc, "any") != 0))
            return srv_reply_error(r, 400, "bad_request", "scope is observed or any");
        snprintf(g.scope, sizeof(g.scope), "%s", sc);
    }
    r0 = store_denial_find(r->srv->store, g.code, g.node_id, sizeof(g.node_id), &g.observed,
                           &g.has_observed);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "code_unknown", "no denied attempt has this code");
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    if (!strcmp(g.scope, "observed") && !g.has_observed)
        return srv_reply_error(r, 409, "conflict",
                               "the denied attempt recorded no PCR values; scope any is needed");
    if (store_node_get(r->srv->store, g.node_id, &node) < 0 || node.state != NODE_ACTIVE)
        return srv_reply_error(r, 409, "conflict", "break-glass is only for active nodes");
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return srv_reply_error(r, 500, "internal", "no random id");
    hex_encode(rnd, sizeof(rnd), g.id);
    g.not_before = now;
    g.not_after = now + ttl;
    g.uses_left = g.uses;
    g.state = GRANT_REQUESTED;
    snprintf(g.requested_by, sizeof(g.requested_by), "%s", r->actor);
    canonical = grant_canonical(&g, node.ek_fingerprint);
    if (!canonical)
        return srv_reply_error(r, 500, "internal", "out of memory");
    det = grant_json(&g);
    r0 = srv_audited(
        r->srv,
        &(srv_audit_rec){
            .actor = r->actor, .action = "breakglass_requested", .node = g.node_id, .details = det},
        put_grant, &g, NULL);
    json_object_put(det);
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    srv_reply_json(r, 200, grant_reply(&g, canonical));
}

void srv_handle_breakglass_list(srv_req *r)
{
    _cleanup_(freep) store_grant *g = NULL;
    size_t n = 0;
    json_object *a, *o;
    if (store_grant_list(r->srv->store, &g, &n) < 0)
        return srv_reply_audit_error(r, -EIO);
    a = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        json_object_array_add(a, grant_json(&g[i]));
        store_grant_done(&g[i]);
    }
    o = json_object_new_object();
    json_object_object_add(o, "grants", a);
    srv_reply_json(r, 200, o);
}

static int load_grant(srv_req *r, store_grant *g, store_node *node, char **ret_canonical)
{
    int r0 = store_grant_get(r->srv->store, r->params[0], g);
    if (r0 == -ENOENT) {
        srv_reply_error(r, 404, "grant_unknown", NULL);
        return r0;
    }
    if (r0 < 0 || store_node_get(r->srv->store, g->node_id, node) < 0) {
        srv_reply_audit_error(r, -EIO);
        return r0 < 0 ? r0 : -EIO;
    }
    *ret_canonical = grant_canonical(g, node->ek_fingerprint);
    if (!*ret_canonical) {
        srv_reply_error(r, 500, "internal", "out of memory");
        return -ENOMEM;
    }
    return 0;
}

void srv_handle_breakglass_show(srv_req *r)
{
    _cleanup_(store_grant_done) store_grant g = {0};
    _cleanup_(freep) char *canonical = NULL;
    store_node node;
    if (load_grant(r, &g, &node, &canonical) < 0)
        return;
    srv_reply_json(r, 200, grant_reply(&g, canonical));
}

typedef struct approval {
    srv_req *req;
    store_grant *grant;
    const char *approver;
    const char *sig_b64;
} approval;

/* The approval, and the activation when it is the M-th: one transaction. */
static int approve_grant(srv_audit_tx *tx, void *arg)
{
    approval *a = arg;
    store_grant *g = a->grant;
    json_object *det;
    int r = store_grant_approve(srv_audit_tx_store(tx), g->id, a->approver, a->sig_b64);
    if (r < 0)
        return r;
    g->approvals++;
    det = json_object_new_object();
    json_object_object_add(det, "grant", json_object_new_string(g->id));
    json_object_object_add(det, "approver", json_object_new_string(a->approver));
    json_object_object_add(det, "approvals", json_object_new_int64(g->approvals));
    r = srv_audit_tx_append(tx,
                            &(srv_audit_rec){.actor = a->req->actor,
                                             .action = "breakglass_approved",
                                             .node = g->node_id,
                                             .details = det},
                            NULL);
    json_object_put(det);
    if (r < 0 || g->state != GRANT_REQUESTED ||
        g->approvals < (int64_t)a->req->srv->cfg.breakglass_approvals)
        return r;
    r = store_grant_set_state(srv_audit_tx_store(tx), g->id, GRANT_ACTIVE);
    if (r < 0)
        return r;
    g->state = GRANT_ACTIVE;
    det = grant_json(g);
    r = srv_audit_tx_append(tx,
                            &(srv_audit_rec){.actor = "bootgated",
                                             .action = "breakglass_activated",
                                             .node = g->node_id,
                                             .details = det},
                            NULL);
    json_object_put(det);
    return r;
}

/* A refused approval is an audit record of its own (only certificate
 * holders of the approver role get this far). Answers 503 when the record
 * cannot be committed, else status. */
static void approval_refused(srv_req *r, const store_grant *g, const char *approver, int status,
                             const char *error, const char *reason)
{
    json_object *det = json_object_new_object();
    int r0;

    json_object_object_add(det, "grant", json_object_new_string(g->id));
    if (approver)
        json_object_object_add(det, "approver", json_object_new_string(approver));
    json_object_object_add(det, "reason", json_object_new_string(reason));
    r0 = srv_audited(r->srv,
                     &(srv_audit_rec){.actor = r->actor,
                                      .action = "breakglass_approval_refused",
                                      .node = g->node_id,
                                      .details = det},
                     NULL, NULL, NULL);
    json_object_put(det);
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    srv_reply_error(r, status, error, reason);
}

/* The CN of an actor "role:CN". */
static const char *actor_cn(const char *actor)
{
    const char *colon = strchr(actor, ':');
    return colon ? colon + 1 : actor;
}

/* POST /v1/admin/breakglass/ID/approve {"signature": b64 Ed25519 over to_sign} */
void srv_handle_breakglass_approve(srv_req *r)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    _cleanup_(store_grant_done) store_grant g = {0};
    _cleanup_(freep) char *canonical = NULL;
    _cleanup_(freep) uint8_t *sig = NULL;
    json_object *v;
    store_node node;
    approval ap;
    char approver[256];
    size_t sig_size = 0;
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    if (!json_object_object_get_ex(body, "signature", &v) ||
        !json_object_is_type(v, json_type_string) ||
        base64_decode_alloc(json_object_get_string(v), &sig, &sig_size, NULL) < 0 || sig_size != 64)
        return srv_reply_error(r, 400, "bad_request", "signature: base64 of 64 bytes (Ed25519)");
    if (load_grant(r, &g, &node, &canonical) < 0)
        return;
    if (g.state == GRANT_REVOKED)
        return srv_reply_error(r, 409, "conflict", "grant is revoked");
    if (g.not_after <= (int64_t)time(NULL))
        return srv_reply_error(r, 409, "conflict", "grant has expired");
    if (verify_approver(r->srv->cfg.approvers_dir, canonical, sig, sig_size, approver,
                        sizeof(approver)) < 0)
        return approval_refused(r, &g, NULL, 403, "bad_signature",
                                "signature does not verify with any key in approvers_dir");
    /* four eyes: an approver key named like the requester's certificate CN
     * is the requester's own */
    if (strcmp(approver, actor_cn(g.requested_by)) == 0)
        return approval_refused(r, &g, approver, 403, "forbidden",
                                "the requester of a grant cannot approve it");
    ap = (approval){
        .req = r, .grant = &g, .approver = approver, .sig_b64 = json_object_get_string(v)};
    r0 = srv_audited(r->srv, NULL, approve_grant, &ap, NULL);
    if (r0 == -EEXIST)
        return approval_refused(r, &g, approver, 409, "conflict",
                                "this approver already approved the grant");
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    srv_reply_json(r, 200, grant_reply(&g, NULL));
}

static int revoke_grant(srv_audit_tx *tx, void *arg)
{
    return store_grant_set_state(srv_audit_tx_store(tx), arg, GRANT_REVOKED);
}

void srv_handle_breakglass_revoke(srv_req *r)
{
    _cleanup_(store_grant_done) store_grant g = {0};
    json_object *det;
    int r0 = store_grant_get(r->srv->store, r->params[0], &g);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "grant_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    g.state = GRANT_REVOKED;
    det = grant_json(&g);
    r0 = srv_audited(
        r->srv,
        &(srv_audit_rec){
            .actor = r->actor, .action = "breakglass_revoked", .node = g.node_id, .details = det},
        revoke_grant, g.id, NULL);
    json_object_put(det);
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    srv_reply_json(r, 200, grant_reply(&g, NULL));
}

typedef struct expiry {
    store_grant *grants;
    size_t n;
} expiry;

static int expire_grants(srv_audit_tx *tx, void *arg)
{
    expiry *e = arg;
    int r = store_grant_expire(srv_audit_tx_store(tx), (int64_t)time(NULL), &e->grants, &e->n);
    for (size_t i = 0; r >= 0 && i < e->n; i++) {
        json_object *det;
        e->grants[i].state = GRANT_EXPIRED;
        det = grant_json(&e->grants[i]);
        r = srv_audit_tx_append(tx,
                                &(srv_audit_rec){.actor = "bootgated",
                                                 .action = "breakglass_expired",
                                                 .node = e->grants[i].node_id,
                                                 .details = det},
                                NULL);
        json_object_put(det);
    }
    return r;
}

int srv_breakglass_expire(srv *s, bg_err *err)
{
    expiry e = {0};
    int r = srv_audited(s, NULL, expire_grants, &e, NULL);
    for (size_t i = 0; i < e.n; i++)
        store_grant_done(&e.grants[i]);
    free(e.grants);
    if (r < 0)
        return bg_err_set(err, r,
                          r == SRV_AUDIT_FAILED
                              ? "grant expiry: audit record not committed, grants left as they were"
                              : "grant expiry: store error");
    return 0;
}

int srv_breakglass_find(srv *s, const char *node_id, const pcr_bank *pcrs, store_grant *ret_grant)
{
    store_grant *a = NULL;
    size_t n = 0;
    int r = store_grant_list_usable(s->store, node_id, (int64_t)time(NULL), &a, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t i = 0; i < n && r < 0; i++)
        if (!strcmp(a[i].scope, "any") ||
            (a[i].has_observed && pcr_bank_equal(&a[i].observed, pcrs))) {
            *ret_grant = a[i];
            r = 0;
        }
    for (size_t i = 0; i < n; i++)
        store_grant_done(&a[i]);
    free(a);
    return r;
}
