/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/enroll and /v1/enroll/activate (DESIGN §2), role enroller.
 *
 * enroll:   EK public (+ certificate), AK public, volume keys. The server pins
 *           the AK name, wraps the keys with the KEK and answers with a
 *           MakeCredential challenge over a fresh secret.
 * activate: the secret from ActivateCredential proves that the AK and the EK
 *           live in one TPM. The node becomes active when its EK certificate
 *           chained to ek_ca_bundle, else pending until `bootgatectl node approve`. */
#include "srv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "audit.h"
#include "evidence.h"
#include "kek.h"
#include "secjson.h"
#include "secmem.h"
#include "util.h"

static int sha256(const uint8_t *in, size_t n, uint8_t out[32])
{
    unsigned len = 0;
    return EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

/* A failed activation: a record of its own, nothing changes. The caller is
 * refused either way, so a record that cannot be written is only logged. */
static void audit_activation_failed(srv_req *r, const char *node, const char *why)
{
    json_object *det = json_object_new_object();
    json_object_object_add(det, "reason", json_object_new_string(why));
    if (srv_audited(r->srv,
                    &(srv_audit_rec){.actor = r->actor,
                                     .action = "node_activation_failed",
                                     .node = node,
                                     .details = det},
                    NULL, NULL, NULL) < 0)
        srv_log_audit(
            LOG_NOTICE,
            &(srv_log_fields){
                .action = "node_activation_failed", .node = node, .actor = r->actor, .seq = -1},
            why);
    json_object_put(det);
}

typedef struct enrollment {
    const store_node *node;
    const proto_enroll_req *req;
    uint8_t *const *wrapped;
    const size_t *wrapped_size;
} enrollment;

static int put_node(srv_audit_tx *tx, void *arg)
{
    enrollment *e = arg;
    int r = store_node_put(srv_audit_tx_store(tx), e->node);
    for (size_t i = 0; r >= 0 && i < e->req->n_volumes; i++)
        r = store_volume_put(srv_audit_tx_store(tx), e->node->id, e->req->volumes[i].uuid,
                             e->wrapped[i], e->wrapped_size[i]);
    return r;
}

typedef struct node_state_change {
    const char *id;
    store_node_state from, to;
} node_state_change;

/* -EPERM when another request moved the node on since it was read */
static int set_node_state(srv_audit_tx *tx, void *arg)
{
    node_state_change *c = arg;
    store_node n;
    int r = store_node_get(srv_audit_tx_store(tx), c->id, &n);
    if (r < 0)
        return r;
    if (n.state != c->from)
        return -EPERM;
    return store_node_set_state(srv_audit_tx_store(tx), c->id, c->to);
}

void srv_handle_enroll(srv_req *r)
{
    _cleanup_(secjson_putp) json_object *body = NULL; /* volume keys / secret */
    _cleanup_(proto_enroll_req_done) proto_enroll_req req = {0};
    _cleanup_(proto_enroll_resp_done) proto_enroll_resp resp = {0};
    _cleanup_(secmem_freep) uint8_t *secret = NULL;
    uint8_t *wrapped[PROTO_MAX_VOLUMES] = {0};
    size_t wrapped_size[PROTO_MAX_VOLUMES] = {0};
    store_node node = {0};
    bg_verdict verdict = VERDICT_AK_MALFORMED;
    char cert_reason[256] = "no EK certificate";
    json_object *det;
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0 ||
        proto_enroll_req_decode(body, &req, &err) < 0)
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    if (req.n_volumes == 0)
        return srv_reply_error(r, 400, "bad_request", "at least one volume is required");
    if (req.ek_public.size > sizeof(node.ek_pub) || req.ak_public.size > sizeof(node.ak_pub))
        return srv_reply_error(r, 400, "bad_request", "TPM public area too large");
    if (evidence_ek_check(req.ek_public.data, req.ek_public.size, &err) < 0 ||
        evidence_ek_fingerprint(req.ek_public.data, req.ek_public.size, node.ek_fingerprint, &err) <
            0)
        return srv_reply_error(r, 400, "bad_ek", bg_err_msg(&err));
    if (evidence_ak_check(req.ak_public.data, req.ak_public.size, node.ak_name,
                          sizeof(node.ak_name), &node.ak_name_size, NULL, &verdict, &err) < 0)
        return srv_reply_error(r, 400, verdict_name(verdict), bg_err_msg(&err));

    /* node id: stable across re-enrollment of the same TPM */
    snprintf(node.id, sizeof(node.id), "%.32s", node.ek_fingerprint);
    snprintf(node.hostname, sizeof(node.hostname), "%s", req.hostname);
    snprintf(node.group, sizeof(node.group), "%s", req.group);
    memcpy(node.ek_pub, req.ek_public.data, req.ek_public.size);
    node.ek_pub_size = req.ek_public.size;
    memcpy(node.ak_pub, req.ak_public.data, req.ak_public.size);
    node.ak_pub_size = req.ak_public.size;
    node.state = NODE_ACTIVATING;
    if (req.ek_cert.size > 0) {
        bg_err cerr = {0};
        if (evidence_ek_cert_check(r->srv->ek_cas, req.ek_cert.data, req.ek_cert.size,
                                   req.ek_public.data, req.ek_public.size, node.ek_cert_subject,
                                   sizeof(node.ek_cert_subject), &cerr) >= 0)
            node.ek_cert_verified = true;
        else
            snprintf(cert_reason, sizeof(cert_reason), "%s", bg_err_msg(&cerr));
    }

    /* the activation challenge */
    secret = secmem_alloc(PROTO_SEED_SIZE);
    if (!secret || RAND_bytes(secret, PROTO_SEED_SIZE) != 1 ||
        sha256(secret, PROTO_SEED_SIZE, node.activation_hash) < 0)
        return srv_reply_error(r, 500, "internal", "no random secret");
    node.activation_expires = (int64_t)time(NULL) + r->srv->cfg.enroll_ttl;
    if (evidence_make_credential(req.ek_public.data, req.ek_public.size, node.ak_name,
                                 node.ak_name_size, secret, PROTO_SEED_SIZE, &resp.credential_blob,
                                 &resp.encrypted_secret, NULL, &err) < 0)
        return srv_reply_error(r, 400, "bad_ek", bg_err_msg(&err));

    for (size_t i = 0; i < req.n_volumes; i++)
        if (kek_wrap(r->srv->kek, node.id, req.volumes[i].uuid, req.volumes[i].key,
                     req.volumes[i].key_size, &wrapped[i], &wrapped_size[i], &err) < 0) {
            for (size_t j = 0; j < i; j++)
                free(wrapped[j]);
            return srv_reply_error(r, 500, "internal", bg_err_msg(&err));
        }

    det = json_object_new_object();
    json_object_object_add(det, "hostname", json_object_new_string(node.hostname));
    json_object_object_add(det, "group", json_object_new_string(node.group));
    json_object_object_add(det, "ek_fingerprint", json_object_new_string(node.ek_fingerprint));
    json_object_object_add(det, "ek_cert_verified", json_object_new_boolean(node.ek_cert_verified));
    if (!node.ek_cert_verified)
        json_object_object_add(det, "ek_cert_reason", json_object_new_string(cert_reason));
    json_object_object_add(det, "volumes", json_object_new_int64((int64_t)req.n_volumes));

    r0 = srv_audited(
        r->srv,
        &(srv_audit_rec){
            .actor = r->actor, .action = "node_enrolled", .node = node.id, .details = det},
        put_node,
        &(enrollment){.node = &node, .req = &req, .wrapped = wrapped, .wrapped_size = wrapped_size},
        NULL);
    json_object_put(det);
    for (size_t i = 0; i < req.n_volumes; i++)
        free(wrapped[i]);
    if (r0 == -EEXIST)
        return srv_reply_error(
            r, 409, "conflict",
            "node is already active or revoked: `bootgatectl node revoke` and `node delete` first");
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);

    snprintf(resp.node_id, sizeof(resp.node_id), "%s", node.id);
    snprintf(resp.ek_fingerprint, sizeof(resp.ek_fingerprint), "%s", node.ek_fingerprint);
    snprintf(resp.state, sizeof(resp.state), "%s", store_node_state_name(node.state));
    srv_reply_json(r, 200, proto_enroll_resp_encode(&resp));
}

void srv_handle_enroll_activate(srv_req *r)
{
    _cleanup_(secjson_putp) json_object *body = NULL; /* volume keys / secret */
    proto_activate_req req = {0};
    proto_activate_resp resp = {0};
    store_node node;
    uint8_t h[32];
    json_object *det;
    bg_err err = {0};
    int r0;

    if (proto_parse_body(r->body, r->body_size, &body, &err) < 0 ||
        proto_activate_req_decode(body, &req, &err) < 0) {
        secmem_wipe(&req, sizeof(req));
        return srv_reply_error(r, 400, "bad_request", bg_err_msg(&err));
    }
    r0 = sha256(req.secret, req.secret_size, h);
    secmem_wipe(req.secret, sizeof(req.secret));
    if (r0 < 0)
        return srv_reply_error(r, 500, "internal", "SHA-256 failed");
    r0 = store_node_get(r->srv->store, req.node_id, &node);
    if (r0 == -ENOENT)
        return srv_reply_error(r, 404, "node_unknown", NULL);
    if (r0 < 0)
        return srv_reply_audit_error(r, -EIO);
    if (node.state != NODE_ACTIVATING)
        return srv_reply_error(r, 409, "conflict", "node is not waiting for activation");
    if (node.activation_expires < (int64_t)time(NULL)) {
        audit_activation_failed(r, node.id, "expired");
        return srv_reply_error(r, 403, "activation_expired", "enroll again");
    }
    if (CRYPTO_memcmp(h, node.activation_hash, sizeof(h)) != 0) {
        audit_activation_failed(r, node.id, "wrong secret");
        return srv_reply_error(r, 403, "activation_failed",
                               "the secret does not match: AK and EK are not in one TPM");
    }
    node.state = node.ek_cert_verified ? NODE_ACTIVE : NODE_PENDING;
    det = json_object_new_object();
    json_object_object_add(det, "state", json_object_new_string(store_node_state_name(node.state)));
    r0 = srv_audited(
        r->srv,
        &(srv_audit_rec){
            .actor = r->actor, .action = "node_activated", .node = node.id, .details = det},
        set_node_state,
        &(node_state_change){.id = node.id, .from = NODE_ACTIVATING, .to = node.state}, NULL);
    json_object_put(det);
    if (r0 == -EPERM)
        return srv_reply_error(r, 409, "conflict", "node is not waiting for activation");
    if (r0 < 0)
        return srv_reply_audit_error(r, r0);

    snprintf(resp.node_id, sizeof(resp.node_id), "%s", node.id);
    snprintf(resp.state, sizeof(resp.state), "%s", store_node_state_name(node.state));
    snprintf(resp.ek_fingerprint, sizeof(resp.ek_fingerprint), "%s", node.ek_fingerprint);
    srv_reply_json(r, 200, proto_activate_resp_encode(&resp));
}
