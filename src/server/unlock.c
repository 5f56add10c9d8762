/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/unlock: the checks a..i of DESIGN §1 in that order, failing
 * closed. Every outcome is an audit record; a key leaves only after its
 * release record is committed. */
#include "srv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "evidence.h"
#include "kek.h"
#include "metrics.h"
#include "nonce.h"
#include "secmem.h"
#include "util.h"

/* "BG-XXXX-XXXX" from an alphabet without look-alikes; names a failed attempt. */
static void breakglass_code(char out[16])
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    uint8_t rnd[8];
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        memset(rnd, 0, sizeof(rnd));
    snprintf(out, 16, "BG-%c%c%c%c-%c%c%c%c", alphabet[rnd[0] & 31], alphabet[rnd[1] & 31],
             alphabet[rnd[2] & 31], alphabet[rnd[3] & 31], alphabet[rnd[4] & 31],
             alphabet[rnd[5] & 31], alphabet[rnd[6] & 31], alphabet[rnd[7] & 31]);
}

typedef enum deny_kind {
    DENY_UNPROVEN, /* before the quote signature verified: the caller proved nothing */
    DENY_EVIDENCE, /* signed evidence that does not hold */
    DENY_POLICY,   /* the boot state is not allowed: break-glass can waive it */
} deny_kind;

/* Quote verdicts reached before the signature verified. */
static bool verdict_unproven(const char *v)
{
    static const char *const unproven[] = {"ak_malformed",        "ak_refused",
                                           "signature_malformed", "signature_scheme",
                                           "bad_signature",       "internal"};
    for (size_t i = 0; i < ELEMENTSOF(unproven); i++)
        if (v && !strcmp(v, unproven[i]))
            return true;
    return false;
}

static void deny(srv_req *r, const proto_unlock_req *req, const char *verdict,
                 evidence_explanation *expl, const char *reason, deny_kind kind)
{
    proto_unlock_denied d = {0};
    json_object *det = json_object_new_object(), *lines = json_object_new_array();
    char detail[320];

    snprintf(d.verdict, sizeof(d.verdict), "%s", verdict);
    if (reason && expl->n == 0)
        (void)evidence_explain_add(expl, "%s", reason);
    d.n_explanation = expl->n;
    d.explanation = expl->lines;
    /* break-glass can waive a policy, never identity or evidence (DESIGN §4) */
    if (kind == DENY_POLICY)
        breakglass_code(d.breakglass_code);
    snprintf(detail, sizeof(detail), "verdict=%s reason=%s", verdict,
             expl->n ? expl->lines[0] : "");
    metrics_denial(verdict);
    /* an unauthenticated flood must not turn into unbounded fsync'd rows */
    if (kind == DENY_UNPROVEN && !srv_denial_audit_allowed(r->srv, r->peer)) {
        d.audit_seq = -1;
        srv_denial_log_unaudited(r->srv, req->node_id, detail);
        json_object_put(det);
        json_object_put(lines);
        srv_reply_json(r, 403, proto_unlock_denied_encode(&d));
        return;
    }

    for (size_t i = 0; i < expl->n; i++)
        json_object_array_add(lines, json_object_new_string(expl->lines[i]));
    json_object_object_add(det, "verdict", json_object_new_string(verdict));
    json_object_object_add(det, "volume_uuid", json_object_new_string(req->volume_uuid));
    json_object_object_add(det, "peer", json_object_new_string(r->peer));
    json_object_object_add(det, "explanation", lines);
    if (d.breakglass_code[0]) {
        json_object_object_add(det, "breakglass_code", json_object_new_string(d.breakglass_code));
        /* the observed PCRs, so that a scope=observed grant can name them */
        json_object *p = json_object_new_object();
        for (unsigned i = 0; i < PCR_COUNT; i++)
            if (req->pcrs.mask & (1u << i)) {
                char k[4], hex[2 * TPMALG_MAX_DIGEST + 1];
                snprintf(k, sizeof(k), "%u", i);
                hex_encode(req->pcrs.pcr[i], req->pcrs.digest_size, hex);
                json_object_object_add(p, k, json_object_new_string(hex));
            }
        json_object_object_add(det, "pcrs", p);
    }
    if (store_audit_append(r->srv->store, "bootgated", "unlock_denied", req->node_id, det,
                           &d.audit_seq) < 0)
        d.audit_seq = -1;
    srv_log_audit("unlock_denied", req->node_id, "bootgated", d.audit_seq, detail);
    json_object_put(det);
    srv_reply_json(r, 403, proto_unlock_denied_encode(&d));
}

static const char *state_verdict(store_node_state s)
{
    switch (s) {
    case NODE_ACTIVATING:
        return "node_not_activated";
    case NODE_PENDING:
        return "node_pending";
    case NODE_REVOKED:
        return "node_revoked";
    case NODE_ACTIVE:
        break;
    }
    return "node_not_active";
}

void srv_handle_unlock(srv_req *r)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    _cleanup_(proto_unlock_req_done) proto_unlock_req req = {0};
    _cleanup_(evidence_explanation_done) evidence_explanation expl = {0};
    _cleanup_(proto_unlock_ok_done) proto_unlock_ok ok = {0};
    _cleanup_(store_policy_done) store_policy policy = {0};
    _cleanup_(secmem_freep) uint8_t *seed = NULL;
    _cleanup_(secmem_freep) uint8_t *vkey = NULL;
    _cleanup_(freep) uint8_t *stored = NULL;
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    _cleanup_(ima_log_freep) ima_log *ima = NULL;
    _cleanup_(json_object_putp) json_object *policy_detail = NULL;
    _cleanup_(store_grant_done) store_grant grant = {0};
    _cleanup_(tpmpub_freep) tpmpub *ak = NULL;
    bool waived = false;
    store_node node;
    uint8_t ak_name[68];
    size_t ak_name_size = 0, stored_size = 0, vkey_size = 0;
    uint64_t expiry = 0, now = (uint64_t)time(NULL);
    const char *verdict = NULL;
    nonce_status ns;
    bool pass = false;
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0 ||
        proto_unlock_req_decode(body, &req, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    srv_timing_mark(r, "parse");

    /* a. nonce: MAC (binds node id), expiry, then single use */
    ns = nonce_check(r->srv->nonce_secret, req.node_id, req.nonce, req.nonce_size, now, &expiry);
    if (ns != NONCE_OK)
        return deny(r, &req, nonce_status_name(ns), &expl,
                    ns == NONCE_FORGED    ? "nonce was not issued by this server for this node"
                    : ns == NONCE_EXPIRED ? "nonce expired; request a new challenge"
                                          : "a 32-byte nonce from /v1/challenge is required",
                    DENY_UNPROVEN);
    r0 = store_nonce_use(r->srv->store, req.nonce, req.nonce_size, (int64_t)expiry, (int64_t)now);
    if (r0 == -EEXIST)
        return deny(r, &req, "nonce_reused", &expl, "nonce was already used", DENY_UNPROVEN);
    if (r0 < 0)
        return srv_reply_error(r, 503, "unavailable", "store error");
    srv_timing_mark(r, "nonce");

    /* b. node enrolled and active; AK name == enrolled AK name */
    r0 = store_node_get(r->srv->store, req.node_id, &node);
    if (r0 == -ENOENT)
        return deny(r, &req, "node_unknown", &expl, "node is not enrolled", DENY_UNPROVEN);
    if (r0 < 0)
        return srv_reply_error(r, 503, "unavailable", "store error");
    if (node.state != NODE_ACTIVE)
        return deny(r, &req, state_verdict(node.state), &expl, "node is not active", DENY_UNPROVEN);
    srv_timing_mark(r, "node");

    /* c. AK public: exactly the restricted signing attributes; its name */
    if (evidence_ak_check(req.ak_public.data, req.ak_public.size, ak_name, sizeof(ak_name),
                          &ak_name_size, &ak, &verdict, &err) < 0)
        return deny(r, &req, verdict, &expl, bg_err_msg(&err), DENY_UNPROVEN);
    if (ak_name_size != node.ak_name_size ||
        CRYPTO_memcmp(ak_name, node.ak_name, ak_name_size) != 0)
        return deny(r, &req, "ak_name_mismatch", &expl,
                    "AK name differs from the one pinned at enrollment", DENY_UNPROVEN);
    srv_timing_mark(r, "ak");

    /* d + e. signature, attest fields, nonce in extraData, selection, pcrDigest */
    if (evidence_quote_verify(ak, &req, &verdict, &err) < 0)
        return deny(r, &req, verdict, &expl, bg_err_msg(&err),
                    verdict_unproven(verdict) ? DENY_UNPROVEN : DENY_EVIDENCE);
    srv_timing_mark(r, "quote");

    /* f. logs replay to the quoted PCRs: a failure of evidence, never of policy */
    if (evidence_logs_replay(&req, &log, &ima, &verdict, &expl, &err) < 0)
        return deny(r, &req, verdict, &expl, bg_err_msg(&err), DENY_EVIDENCE);
    srv_timing_mark(r, "replay");

    /* g. the active signed policy of the node's group, or an active
     * break-glass grant that waives it (never steps a-f) */
    r0 = store_policy_get_active(r->srv->store, node.group, &policy);
    if (r0 == -ENOENT) {
        verdict = "policy_missing";
        (void)evidence_explain_add(&expl, "no active policy for group '%s'", node.group);
    } else if (r0 < 0) {
        return srv_reply_error(r, 503, "unavailable", "store error");
    } else if (evidence_policy_evaluate(r->srv->cfg.policy_signers_dir, &policy, &req, log, ima,
                                        &pass, ok.policy_mode, sizeof(ok.policy_mode), &verdict,
                                        &policy_detail, &expl, &err) < 0) {
        return deny(r, &req, verdict, &expl, bg_err_msg(&err), DENY_EVIDENCE);
    }
    if (!pass) {
        bool waivable = !strcmp(verdict, "policy_missing") || !strcmp(verdict, "policy_denied") ||
                        !strcmp(verdict, "policy_expired");
        if (!waivable)
            return deny(r, &req, verdict, &expl, "the boot state is not allowed", DENY_EVIDENCE);
        r0 = srv_breakglass_find(r->srv, node.id, &req.pcrs, &grant);
        if (r0 == -ENOENT)
            return deny(r, &req, verdict, &expl, "boot state is not allowed by the policy",
                        DENY_POLICY);
        if (r0 < 0)
            return srv_reply_error(r, 503, "unavailable", "store error");
        waived = true;
        snprintf(ok.policy_mode, sizeof(ok.policy_mode), "breakglass");
    }
    srv_timing_mark(r, "policy");

    /* the volume key at rest */
    r0 = store_volume_get(r->srv->store, node.id, req.volume_uuid, &stored, &stored_size);
    if (r0 == -ENOENT)
        return deny(r, &req, "volume_unknown", &expl, "volume is not enrolled for this node",
                    DENY_EVIDENCE);
    if (r0 < 0 || kek_unwrap(r->srv->kek, node.id, req.volume_uuid, stored, stored_size, &vkey,
                             &vkey_size, &err) < 0)
        return srv_reply_error(r, 500, "internal", "cannot unwrap the stored volume key");

    /* i. seed -> MakeCredential(EK, AK name) and the wrapped key, built
     * before the audit record so that nothing can fail after it is committed */
    seed = secmem_alloc(PROTO_SEED_SIZE);
    if (!seed || RAND_bytes(seed, PROTO_SEED_SIZE) != 1)
        return srv_reply_error(r, 500, "internal", "no random seed");
    if (evidence_make_credential(node.ek_pub, node.ek_pub_size, node.ak_name, node.ak_name_size,
                                 seed, PROTO_SEED_SIZE, &ok.credential_blob, &ok.encrypted_secret,
                                 &ok.ek_name, &err) < 0)
        return srv_reply_error(r, 500, "internal", bg_err_msg(&err));
    if (proto_wrap_key(seed, req.nonce, req.nonce_size, node.id, req.volume_uuid, vkey, vkey_size,
                       &ok.wrapped_key.data, &ok.wrapped_key.size, &err) < 0)
        return srv_reply_error(r, 500, "internal", bg_err_msg(&err));
    snprintf(ok.policy_name, sizeof(ok.policy_name), "%s", policy.name[0] ? policy.name : "-");
    ok.policy_version = policy.version;
    srv_timing_mark(r, "release");

    /* h. audit record committed, then the key leaves */
    {
        json_object *det = json_object_new_object();
        char detail[512];
        json_object_object_add(det, "volume_uuid", json_object_new_string(req.volume_uuid));
        json_object_object_add(det, "policy", json_object_new_string(policy.name));
        json_object_object_add(det, "policy_version", json_object_new_int64(policy.version));
        json_object_object_add(det, "mode", json_object_new_string(ok.policy_mode));
        json_object_object_add(det, "peer", json_object_new_string(r->peer));
        if (policy_detail)
            json_object_object_add(det, "evaluation", json_object_get(policy_detail));
        if (expl.n > 0) {
            json_object *lines = json_object_new_array();
            for (size_t i = 0; i < expl.n; i++)
                json_object_array_add(lines, json_object_new_string(expl.lines[i]));
            json_object_object_add(det, "explanation", lines);
        }
        if (waived) {
            json_object_object_add(det, "breakglass_grant", json_object_new_string(grant.id));
            json_object_object_add(det, "policy_verdict", json_object_new_string(verdict));
        }
        r0 = store_begin(r->srv->store);
        if (r0 >= 0 && waived) {
            /* the use is counted in the same transaction as the release */
            json_object *u = json_object_new_object();
            json_object_object_add(u, "grant", json_object_new_string(grant.id));
            json_object_object_add(u, "uses_left", json_object_new_int64(grant.uses_left - 1));
            json_object_object_add(u, "scope", json_object_new_string(grant.scope));
            r0 = store_grant_use(r->srv->store, grant.id);
            if (r0 >= 0)
                r0 = store_audit_append(r->srv->store, "bootgated", "breakglass_used", node.id, u,
                                        NULL);
            json_object_put(u);
            if (r0 < 0) {
                store_rollback(r->srv->store);
                json_object_put(det);
                return srv_reply_error(r, 503, "unavailable", "break-glass use not recorded");
            }
        }
        if (r0 >= 0) {
            r0 = store_audit_append(r->srv->store, "bootgated", "key_released", node.id, det,
                                    &ok.audit_seq);
            r0 = store_end(r->srv->store, r0);
        }
        json_object_put(det);
        if (r0 < 0)
            return srv_reply_error(r, 503, "unavailable", "audit record not committed; no release");
        snprintf(detail, sizeof(detail), "volume=%s policy=%s@%lld", req.volume_uuid, policy.name,
                 (long long)policy.version);
        srv_timing_mark(r, "audit");
        srv_log_audit("key_released", node.id, "bootgated", ok.audit_seq, detail);
        srv_timing_mark(r, "log");
    }
    metrics_release();
    srv_reply_json(r, 200, proto_unlock_ok_encode(&ok));
}
