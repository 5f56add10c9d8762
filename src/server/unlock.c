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

#include "audit.h"
#include "evidence.h"
#include "explain.h"
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

/* The lines of a denial on the wire: one cap, PROTO_MAX_EXPLANATIONS. */
static int denial_lines(const explanation *ex, proto_unlock_denied *d)
{
    return explanation_lines(ex, PROTO_MAX_EXPLANATIONS, &d->explanation, &d->n_explanation);
}

/* The PCRs a denial names: those that differ from the closest baseline and
 * those whose log does not replay (bit n = PCR n). */
static uint32_t denied_pcrs(const explanation *ex)
{
    uint32_t mask = 0;
    for (size_t i = 0; i < ex->n_pcrs; i++)
        if (ex->pcrs[i].pcr < 32)
            mask |= 1u << ex->pcrs[i].pcr;
    for (size_t i = 0; i < ex->n_replay; i++)
        if (ex->replay[i].pcr < 32)
            mask |= 1u << ex->replay[i].pcr;
    return mask;
}

/* An attempt whose quote verified keeps its evidence (store.h attempts):
 * the node, the verified evidence and the request's logs. NULL before the
 * quote verified: a caller who proved nothing makes no attempt row. */
typedef struct attempt_src {
    const store_node *node;
    const evidence *ev;
    const proto_unlock_req *req;
} attempt_src;

typedef struct attempt_rec {
    const srv_audit_rec *rec;  /* the attempt's audit record */
    srv_audit_change_fn inner; /* a change of its own in the same transaction, or NULL */
    void *inner_arg;
    const proto_unlock_req *req;
    store_attempt a;
    store_retention keep;
} attempt_rec;

/* Inside the transaction: the inner change, the audit record, then the
 * attempt naming that record. */
static int record_attempt(srv_audit_tx *tx, void *arg)
{
    attempt_rec *c = arg;
    int r = c->inner ? c->inner(tx, c->inner_arg) : 0;
    if (r < 0)
        return r;
    r = srv_audit_tx_append(tx, c->rec, &c->a.audit_seq);
    if (r < 0)
        return r;
    return store_attempt_put(srv_audit_tx_store(tx), &c->a, c->req->event_log.data,
                             c->req->event_log.size, c->req->ima_log.data, c->req->ima_log.size,
                             &c->keep);
}

/* srv_audited, and with src the attempt row in the same transaction.
 * evaluation: the JSON the attempt keeps (its explanation); judged_by: the
 * evaluated policy or NULL; audit_verdict: the would-be verdict of an
 * audit-mode release or NULL. */
static int audited_attempt(srv_req *r, const srv_audit_rec *rec, const attempt_src *src,
                           bool released, const char *verdict, const char *mode,
                           const store_policy *judged_by, const char *audit_verdict,
                           json_object *evaluation, srv_audit_change_fn inner, void *inner_arg,
                           int64_t *ret_seq)
{
    _cleanup_(freep) char *pcrs = NULL;
    attempt_rec c = {.rec = rec, .inner = inner, .inner_arg = inner_arg};
    const srv_config *cfg = &r->srv->cfg;

    /* a quote whose fields did not hold verified no PCR value: nothing to
     * keep beyond its audit record */
    if (!src || !src->ev->quoted.mask)
        return srv_audited(r->srv, rec, inner, inner_arg, ret_seq);
    pcrs = pcr_bank_encode_hex(&src->ev->quoted);
    if (!pcrs)
        return SRV_AUDIT_FAILED;
    c.req = src->req;
    snprintf(c.a.node_id, sizeof(c.a.node_id), "%s", src->node->id);
    snprintf(c.a.group, sizeof(c.a.group), "%s", src->node->group);
    c.a.time = (int64_t)time(NULL);
    c.a.released = released;
    snprintf(c.a.verdict, sizeof(c.a.verdict), "%s", verdict);
    snprintf(c.a.mode, sizeof(c.a.mode), "%s", mode ? mode : "");
    if (judged_by && judged_by->name[0]) {
        snprintf(c.a.policy_name, sizeof(c.a.policy_name), "%s", judged_by->name);
        c.a.policy_version = judged_by->version;
    }
    snprintf(c.a.audit_verdict, sizeof(c.a.audit_verdict), "%s",
             audit_verdict ? audit_verdict : "");
    c.a.pcrs = pcrs;
    c.a.evaluation =
        (char *)(evaluation
                     ? json_object_to_json_string_ext(
                           evaluation, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                     : "{}");
    c.keep.keep_last = cfg->attempts_keep;
    c.keep.max_age = (int64_t)cfg->attempts_max_age_days * 86400;
    return srv_audited(r->srv, NULL, record_attempt, &c, ret_seq);
}

/* A 403 with the verdict and its explanation, after its audit record (a
 * denial before identity writes one only within the denial_audit_* budget).
 * ex: the structured explanation (its reason is set from reason when empty);
 * observed: the verified PCRs, kept with a denial that gets a break-glass code;
 * judged_by: the policy that was evaluated, or NULL; src: the attempt to keep
 * (NULL before the quote verified). */
static void deny_policy(srv_req *r, const proto_unlock_req *req, bg_verdict v, explanation *ex,
                        const char *reason, const pcr_bank *observed, const store_policy *judged_by,
                        const attempt_src *src)
{
    const char *policy_name = judged_by ? judged_by->name : NULL;
    _cleanup_(proto_unlock_denied_done) proto_unlock_denied d = {0};
    const verdict_info *vi = verdict_get(v);
    json_object *det;
    char detail[320];
    int r0;

    if (!ex->reason[0] && reason)
        snprintf(ex->reason, sizeof(ex->reason), "%s", reason);
    snprintf(d.verdict, sizeof(d.verdict), "%s", vi->name);
    if (denial_lines(ex, &d) < 0)
        return srv_reply_error(r, 500, "internal", "out of memory");
    /* break-glass can waive a policy, never identity or evidence (DESIGN §4) */
    if (vi->breakglass_code)
        breakglass_code(d.breakglass_code);
    snprintf(detail, sizeof(detail), "verdict=%s reason=%s", vi->name, ex->reason);
    metrics_denial(v, r->node_group, denied_pcrs(ex));
    /* an unauthenticated flood must not turn into unbounded fsync'd rows */
    if (vi->cls == VERDICT_CLASS_UNPROVEN && !srv_denial_audit_allowed(r->srv, r->peer)) {
        d.audit_seq = -1;
        srv_denial_log_unaudited(r->srv, req->node_id, vi->name, detail);
        return srv_reply_json(r, 403, proto_unlock_denied_encode(&d));
    }

    det = json_object_new_object();
    json_object_object_add(det, "verdict", json_object_new_string(vi->name));
    json_object_object_add(det, "class", json_object_new_string(verdict_class_name(vi->cls)));
    json_object_object_add(det, "volume_uuid", json_object_new_string(req->volume_uuid));
    json_object_object_add(det, "peer", json_object_new_string(r->peer));
    json_object_object_add(det, "explanation", explanation_to_json(ex));
    if (d.breakglass_code[0]) {
        json_object_object_add(det, "breakglass_code", json_object_new_string(d.breakglass_code));
        /* the verified PCRs, so that a scope=observed grant can name them */
        if (observed) {
            char *hex = pcr_bank_encode_hex(observed);
            json_object_object_add(det, "observed", hex ? json_object_new_string(hex) : NULL);
            free(hex);
        }
    }
    {
        srv_audit_rec rec = {"bootgated", "unlock_denied", req->node_id, det,
                             detail,      vi->name,        policy_name};
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "reason", json_object_new_string(ex->reason));
        json_object_object_add(ev, "explanation",
                               json_object_get(json_object_object_get(det, "explanation")));
        r0 = audited_attempt(r, &rec, src, false, vi->name,
                             judged_by && judged_by->name[0] ? "enforce" : NULL, judged_by, NULL,
                             ev, NULL, NULL, &d.audit_seq);
        json_object_put(ev);
    }
    json_object_put(det);
    if (r0 < 0)
        /* nothing is released either way; without its record the attempt
         * cannot be explained or waived later, so the node asks again */
        return srv_reply_error(r, 503, "unavailable", "denial not recorded");
    srv_reply_json(r, 403, proto_unlock_denied_encode(&d));
}

/* A denial before any policy was evaluated. */
static void deny(srv_req *r, const proto_unlock_req *req, bg_verdict v, explanation *ex,
                 const char *reason, const pcr_bank *observed)
{
    deny_policy(r, req, v, ex, reason, observed, NULL, NULL);
}

typedef struct release_change {
    const store_grant *grant; /* the break-glass grant that waived the policy, or NULL */
    const char *node_id;
} release_change;

/* Inside the release's transaction: a waiving grant's use is counted, and
 * recorded, with the release or not at all. */
static int count_grant_use(srv_audit_tx *tx, void *arg)
{
    release_change *c = arg;
    json_object *u;
    int r;
    if (!c->grant)
        return 0;
    r = store_grant_use(srv_audit_tx_store(tx), c->grant->id);
    if (r < 0)
        return r;
    u = json_object_new_object();
    json_object_object_add(u, "grant", json_object_new_string(c->grant->id));
    json_object_object_add(u, "uses_left", json_object_new_int64(c->grant->uses_left - 1));
    json_object_object_add(u, "scope", json_object_new_string(c->grant->scope));
    r = srv_audit_tx_append(
        tx, &(srv_audit_rec){"bootgated", "breakglass_used", c->node_id, u, NULL, NULL, NULL},
        NULL);
    json_object_put(u);
    return r;
}

static bg_verdict state_verdict(store_node_state s)
{
    switch (s) {
    case NODE_ACTIVATING:
        return VERDICT_NODE_NOT_ACTIVATED;
    case NODE_PENDING:
        return VERDICT_NODE_PENDING;
    case NODE_REVOKED:
    case NODE_ACTIVE:
        break;
    }
    return VERDICT_NODE_REVOKED;
}

static void timing_mark(void *arg, const char *stage)
{
    srv_timing_mark(arg, stage);
}

void srv_handle_unlock(srv_req *r)
{
    _cleanup_(json_object_putp) json_object *body = NULL;
    _cleanup_(proto_unlock_req_done) proto_unlock_req req = {0};
    _cleanup_(proto_unlock_ok_done) proto_unlock_ok ok = {0};
    _cleanup_(store_policy_done) store_policy active = {0};
    _cleanup_(secmem_freep) uint8_t *seed = NULL;
    _cleanup_(secmem_freep) uint8_t *vkey = NULL;
    _cleanup_(freep) uint8_t *stored = NULL;
    _cleanup_(evidence_done) evidence ev = {0};
    _cleanup_(policy_result_done) policy_result res = {0};
    _cleanup_(store_grant_done) store_grant grant = {0};
    _cleanup_(tpmpub_freep) tpmpub *ak = NULL;
    explanation ex = {0};
    bool waived = false, would_deny = false;
    store_node node;
    attempt_src src = {.node = &node, .ev = &ev, .req = &req};
    size_t stored_size = 0, vkey_size = 0;
    uint64_t expiry = 0, now = (uint64_t)time(NULL);
    bg_verdict v;
    nonce_status ns;
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0 ||
        proto_unlock_req_decode(body, &req, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    srv_timing_mark(r, "parse");

    /* a. nonce: MAC (binds node id), expiry, then single use */
    ns = nonce_check(r->srv->nonce_secret, req.node_id, req.nonce, req.nonce_size, now, &expiry);
    if (ns != NONCE_OK)
        return deny(r, &req, nonce_status_verdict(ns), &ex,
                    ns == NONCE_FORGED    ? "nonce was not issued by this server for this node"
                    : ns == NONCE_EXPIRED ? "nonce expired; request a new challenge"
                                          : "a 32-byte nonce from /v1/challenge is required",
                    NULL);
    /* A genuine nonce that lives longer than this server would let it: its
     * replica's clock runs ahead. Refused, so that no clock widens the
     * window in which a quote counts as fresh. */
    if (expiry > now + r->srv->cfg.nonce_ttl + SRV_NONCE_CLOCK_SKEW)
        return deny(r, &req, VERDICT_NONCE_EXPIRED, &ex,
                    "nonce issued by a server whose clock is ahead of this one's: the "
                    "replicas' clocks differ; request a new challenge",
                    NULL);
    r0 = store_nonce_use(r->srv->store, req.nonce, req.nonce_size, (int64_t)expiry, (int64_t)now);
    if (r0 == -EEXIST)
        return deny(r, &req, VERDICT_NONCE_REUSED, &ex, "nonce was already used", NULL);
    if (r0 == -ETIME)
        return deny(r, &req, VERDICT_NONCE_EXPIRED, &ex, "nonce expired; request a new challenge",
                    NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    srv_timing_mark(r, "nonce");

    /* b. node enrolled and active */
    r0 = store_node_get(r->srv->store, req.node_id, &node);
    if (r0 == -ENOENT)
        return deny(r, &req, VERDICT_NODE_UNKNOWN, &ex, "node is not enrolled", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);
    snprintf(r->node_group, sizeof(r->node_group), "%s", node.group);
    if (node.state != NODE_ACTIVE)
        return deny(r, &req, state_verdict(node.state), &ex, "node is not active", NULL);
    srv_timing_mark(r, "node");

    /* c-f, verified once: AK attributes and pinned name, signature, attest
     * fields, nonce in extraData, selection, pcrDigest, PCRs outside the
     * quote, replay of both logs (evidence_verify, verify.h) */
    if (evidence_ak_parse(req.ak_public.data, req.ak_public.size, &ak, &err) < 0)
        return deny(r, &req, VERDICT_AK_MALFORMED, &ex, bg_err_msg(&err), NULL);
    {
        quote_selection required = {
            .n_banks = 1, .banks = {{.alg = PROTO_PCR_ALG, .mask = EVIDENCE_QUOTED_PCRS}}};
        evidence_input in = {
            .ak = ak,
            .pinned_ak_name = node.ak_name,
            .pinned_ak_name_size = node.ak_name_size,
            .attest = req.attest.data,
            .attest_size = req.attest.size,
            .sig = req.signature.data,
            .sig_size = req.signature.size,
            .nonce = req.nonce,
            .nonce_size = req.nonce_size,
            .pcrs = &req.pcrs,
            .required = &required,
            .event_log = req.event_log.data,
            .event_log_size = req.event_log.size,
            .ima_log = req.ima_log.data,
            .ima_log_size = req.ima_log.size,
            .mark = timing_mark,
            .mark_arg = r,
        };
        if (evidence_verify(&in, &ev, &err) < 0)
            return deny(r, &req, VERDICT_INTERNAL, &ex, bg_err_msg(&err), NULL);
        if (ev.verdict != VERDICT_OK) {
            explain_evidence(&ex, &ev);
            /* signed evidence that does not hold (a log that does not
             * replay) is an attempt of this node's TPM: kept */
            return deny_policy(r, &req, ev.verdict, &ex, NULL, NULL, NULL,
                               verdict_get(ev.verdict)->cls == VERDICT_CLASS_EVIDENCE ? &src
                                                                                      : NULL);
        }
    }

    /* g. the active signed policy of the node's group, or an active
     * break-glass grant that waives it (never steps a-f) */
    r0 = store_policy_get_active(r->srv->store, node.group, &active);
    if (r0 == -ENOENT) {
        v = VERDICT_POLICY_MISSING;
        snprintf(ex.reason, sizeof(ex.reason), "no active policy for group '%s'", node.group);
    } else if (r0 < 0) {
        return srv_reply_audit_error(r, r0);
    } else if (evidence_policy_evaluate(r->srv->cfg.policy_signers_dir, &active, &ev, &res, &v,
                                        &err) < 0) {
        return deny_policy(r, &req, v, &ex, bg_err_msg(&err), NULL, &active, &src);
    }
    snprintf(ok.policy_mode, sizeof(ok.policy_mode), "%s",
             r0 == -ENOENT ? "enforce" : policy_mode_name(res.mode));
    if (r0 == -ENOENT || !res.release) {
        explanation *why = res.explanation ? res.explanation : &ex;
        if (!verdict_get(v)->waivable)
            return deny_policy(r, &req, v, why, "the boot state is not allowed", NULL, &active,
                               &src);
        r0 = srv_breakglass_find(r->srv, node.id, &ev.quoted, &grant);
        if (r0 == -ENOENT)
            return deny_policy(r, &req, v, why, "boot state is not allowed by the policy",
                               &ev.quoted, &active, &src);
        if (r0 < 0)
            return srv_reply_audit_error(r, r0);
        waived = true;
        snprintf(ok.policy_mode, sizeof(ok.policy_mode), "breakglass");
    }
    /* audit mode released what it would deny: identity and evidence (a-f)
     * verified as always; the would-be verdict is recorded and counted */
    would_deny =
        !waived && r0 != -ENOENT && res.mode == POLICY_MODE_AUDIT && res.verdict != POLICY_PASS;
    srv_timing_mark(r, "policy");

    /* the volume key at rest */
    r0 = store_volume_get(r->srv->store, node.id, req.volume_uuid, &stored, &stored_size);
    if (r0 == -ENOENT)
        return deny(r, &req, VERDICT_VOLUME_UNKNOWN, &ex, "volume is not enrolled for this node",
                    NULL);
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
    snprintf(ok.policy_name, sizeof(ok.policy_name), "%s", active.name[0] ? active.name : "-");
    ok.policy_version = active.version;
    srv_timing_mark(r, "release");

    /* h. audit record committed, then the key leaves */
    {
        json_object *det = json_object_new_object();
        json_object_object_add(det, "volume_uuid", json_object_new_string(req.volume_uuid));
        json_object_object_add(det, "policy", json_object_new_string(active.name));
        json_object_object_add(det, "policy_version", json_object_new_int64(active.version));
        json_object_object_add(det, "mode", json_object_new_string(ok.policy_mode));
        json_object_object_add(det, "peer", json_object_new_string(r->peer));
        if (active.name[0])
            json_object_object_add(det, "evaluation", policy_result_to_json(&res));
        if (would_deny)
            json_object_object_add(det, "audit_verdict", json_object_new_string(verdict_name(v)));
        if (waived) {
            json_object_object_add(det, "breakglass_grant", json_object_new_string(grant.id));
            json_object_object_add(det, "policy_verdict", json_object_new_string(verdict_name(v)));
        }
        /* the grant's use, its record and the release record: one transaction */
        release_change c = {.grant = waived ? &grant : NULL, .node_id = node.id};
        char summary[2 * PROTO_MAX_ID + 160];
        snprintf(summary, sizeof(summary), "volume=%s policy=%s@%lld mode=%s%s%s", req.volume_uuid,
                 active.name[0] ? active.name : "-", (long long)active.version, ok.policy_mode,
                 would_deny ? " would_deny=" : "", would_deny ? verdict_name(v) : "");
        srv_audit_rec rec = {"bootgated", "key_released",           node.id,    det,
                             summary,     verdict_name(VERDICT_OK), active.name};
        /* audit mode: the verdict the policy would have given */
        r0 = audited_attempt(r, &rec, &src, true, verdict_name(VERDICT_OK), ok.policy_mode, &active,
                             would_deny ? verdict_name(v) : NULL,
                             json_object_object_get(det, "evaluation"), count_grant_use, &c,
                             &ok.audit_seq);
        json_object_put(det);
        if (r0 < 0)
            return srv_reply_audit_error(r, r0);
        srv_timing_mark(r, "audit");
        /* srv_audited wrote the syslog line after the commit */
        srv_timing_mark(r, "log");
    }
    metrics_release(node.group, ok.policy_mode);
    if (would_deny)
        metrics_audit_would_deny(v, node.group, res.explanation ? denied_pcrs(res.explanation) : 0);
    srv_reply_json(r, 200, proto_unlock_ok_encode(&ok));
}
