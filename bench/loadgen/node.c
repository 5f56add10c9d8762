/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A synthetic node's enrollment and boot, over the same wire protocol
 * (src/lib/proto.h) and HTTPS client (src/lib/https.h) as bootgate-unlock. */
#include "loadgen.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cleanup.h"
#include "eventlog.h"
#include "proto.h"
#include "secmem.h"
#include "util.h"

static const char *const error_names[_LG_ERR_MAX] = {
    [LG_OK] = "ok",
    [LG_ERR_TRANSPORT] = "transport",
    [LG_ERR_HTTP_4XX] = "http_4xx",
    [LG_ERR_HTTP_5XX] = "http_5xx",
    [LG_ERR_DECODE] = "bad_answer",
    [LG_ERR_ACTIVATE] = "activate_failed",
    [LG_ERR_EK_NAME] = "ek_name_mismatch",
    [LG_ERR_UNWRAP] = "unwrap_failed",
    [LG_ERR_KEY] = "key_mismatch",
    [LG_ERR_LOCAL] = "loadgen_internal",
};

const char *lg_error_name(lg_error e)
{
    return (unsigned)e < _LG_ERR_MAX ? error_names[e] : "?";
}

uint64_t lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t lg_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int lg_boot_log_load(const char *path, lg_boot_log *ret, bg_err *err)
{
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    int r;

    *ret = (lg_boot_log){0};
    r = read_file(path, PROTO_MAX_EVENTLOG, &ret->data, &ret->size, err);
    if (r < 0)
        return r;
    r = eventlog_parse(ret->data, ret->size, &log, err);
    if (r >= 0)
        r = eventlog_replay(log, TPM2_ALG_SHA256, &ret->pcrs, err);
    if (r < 0) {
        free(ret->data);
        return bg_err_prefix(err, r, "%s", path);
    }
    /* The quote covers PCRs 0..11; those the log never extends (PCR 10: no
     * IMA log) stay zero, as on a TPM after reset. */
    ret->pcrs.mask = (1u << PROTO_PCR_COUNT) - 1;
    return 0;
}

/* POST body to path; the answer as JSON. */
static lg_error post_json(const https_opts *o, const char *base, const char *path,
                          json_object *body, long *ret_status, json_object **ret, bg_err *err)
{
    char url[512];
    https_response resp = {0};
    const char *s;
    int r;

    s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    snprintf(url, sizeof(url), "%s%s", base, path);
    r = https_request(o, "POST", url, s, &resp, err);
    if (r == -ENOMEM || r == -EINVAL)
        return LG_ERR_LOCAL;
    if (r < 0)
        return LG_ERR_TRANSPORT;
    *ret_status = resp.status;
    if (resp.status != 200) {
        char excerpt[160];
        snprintf(excerpt, sizeof(excerpt), "%.*s", (int)(resp.size < 150 ? resp.size : 150),
                 resp.body);
        bg_err_set(err, -EPROTO, "%s: HTTP %ld %s", path, resp.status, excerpt);
        https_response_done(&resp);
        return resp.status >= 500 ? LG_ERR_HTTP_5XX : LG_ERR_HTTP_4XX;
    }
    r = https_answer_json(&resp, ret, err);
    https_response_done(&resp);
    return r < 0 ? LG_ERR_DECODE : LG_OK;
}

/* post_json of a new body (NULL: out of memory), which it frees */
static lg_error post(const https_opts *o, const char *base, const char *path, json_object *body,
                     long *ret_status, json_object **ret, bg_err *err)
{
    lg_error e;

    *ret = NULL;
    if (!body) {
        bg_err_set(err, -ENOMEM, "out of memory");
        return LG_ERR_LOCAL;
    }
    e = post_json(o, base, path, body, ret_status, ret, err);
    json_object_put(body);
    return e;
}

lg_error lg_node_enroll(const lg_server *srv, lg_node *node, bg_err *err)
{
    proto_enroll_req req = {0};
    proto_enroll_resp resp = {0};
    proto_activate_req act = {0};
    json_object *ans = NULL, *body;
    uint8_t *ek = NULL, *ak = NULL;
    size_t ek_size = 0, ak_size = 0, secret_size = 0;
    uint8_t secret[CREDENTIAL_MAX_SECRET];
    char path[256], fpr[65];
    long status = 0;
    lg_error e = LG_ERR_LOCAL;

    if (softtpm_new(&node->tpm, err) < 0)
        return LG_ERR_LOCAL;
    if (RAND_bytes(node->volume_key, sizeof(node->volume_key)) != 1 ||
        tpmpub_marshal_tpm2b(&node->tpm.ek->public, &ek, &ek_size, err) < 0 ||
        tpmpub_marshal_tpm2b(&node->tpm.ak->public, &ak, &ak_size, err) < 0)
        goto out;
    snprintf(req.hostname, sizeof(req.hostname), "loadgen");
    snprintf(req.group, sizeof(req.group), "%s", srv->group);
    req.ek_public = (proto_bytes){ek, ek_size};
    req.ak_public = (proto_bytes){ak, ak_size};
    req.n_volumes = 1;
    snprintf(req.volumes[0].uuid, sizeof(req.volumes[0].uuid), "%s", srv->volume_uuid);
    req.volumes[0].key = node->volume_key;
    req.volumes[0].key_size = sizeof(node->volume_key);
    e = post(&srv->enroller, srv->url, "/v1/enroll", proto_enroll_req_encode(&req), &status, &ans,
             err);
    if (e != LG_OK)
        goto out;
    if (proto_enroll_resp_decode(ans, &resp, err) < 0) {
        e = LG_ERR_DECODE;
        goto out;
    }
    json_object_put(ans);
    ans = NULL;
    snprintf(node->node_id, sizeof(node->node_id), "%s", resp.node_id);
    snprintf(fpr, sizeof(fpr), "%s", resp.ek_fingerprint);
    if (softtpm_activate(&node->tpm, resp.credential_blob.data, resp.credential_blob.size,
                         resp.encrypted_secret.data, resp.encrypted_secret.size, secret,
                         &secret_size, err) < 0) {
        e = LG_ERR_ACTIVATE;
        goto out;
    }
    if (secret_size != PROTO_SEED_SIZE) {
        bg_err_set(err, -EBADMSG, "enrollment secret of %zu bytes", secret_size);
        e = LG_ERR_DECODE;
        goto out;
    }
    snprintf(act.node_id, sizeof(act.node_id), "%s", node->node_id);
    memcpy(act.secret, secret, PROTO_SEED_SIZE);
    act.secret_size = PROTO_SEED_SIZE;
    e = post(&srv->enroller, srv->url, "/v1/enroll/activate", proto_activate_req_encode(&act),
             &status, &ans, err);
    OPENSSL_cleanse(&act, sizeof(act));
    if (e != LG_OK)
        goto out;
    json_object_put(ans);
    ans = NULL;
    /* no EK certificate: held pending until an admin approves its fingerprint */
    body = json_object_new_object();
    if (body)
        json_object_object_add(body, "ek_fingerprint", json_object_new_string(fpr));
    snprintf(path, sizeof(path), "/v1/admin/nodes/%s/approve", node->node_id);
    e = post(&srv->admin, srv->url, path, body, &status, &ans, err);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    json_object_put(ans);
    proto_enroll_resp_done(&resp);
    free(ek);
    free(ak);
    return e;
}

lg_error lg_node_boot(const lg_server *srv, const lg_node *node, const lg_boot_log *log,
                      long *ret_status, bg_err *err)
{
    https_opts o = srv->node;
    proto_challenge_req creq = {0};
    proto_challenge_resp cresp = {0};
    proto_unlock_req ureq = {0};
    proto_unlock_ok ok = {0};
    json_object *ans = NULL;
    uint8_t *attest = NULL, *sig = NULL, *ak = NULL, *key = NULL;
    size_t attest_size = 0, sig_size = 0, ak_size = 0, key_size = 0, seed_size = 0;
    uint8_t seed[CREDENTIAL_MAX_SECRET];
    lg_error e;

    *ret_status = 0;
    /* one TLS connection for both requests, as bootgate-unlock does */
    o.session = https_session_new();
    if (!o.session) {
        bg_err_set(err, -ENOMEM, "curl_easy_init failed");
        return LG_ERR_LOCAL;
    }
    snprintf(creq.node_id, sizeof(creq.node_id), "%s", node->node_id);
    e = post(&o, srv->url, "/v1/challenge", proto_challenge_req_encode(&creq), ret_status, &ans,
             err);
    if (e != LG_OK)
        goto out;
    if (proto_challenge_resp_decode(ans, &cresp, err) < 0) {
        e = LG_ERR_DECODE;
        goto out;
    }
    json_object_put(ans);
    ans = NULL;
    e = LG_ERR_LOCAL;
    if (softtpm_quote(&node->tpm, &log->pcrs, cresp.nonce, sizeof(cresp.nonce), &attest,
                      &attest_size, &sig, &sig_size, err) < 0 ||
        tpmpub_marshal_tpm2b(&node->tpm.ak->public, &ak, &ak_size, err) < 0)
        goto out;
    snprintf(ureq.node_id, sizeof(ureq.node_id), "%s", node->node_id);
    snprintf(ureq.volume_uuid, sizeof(ureq.volume_uuid), "%s", srv->volume_uuid);
    memcpy(ureq.nonce, cresp.nonce, sizeof(cresp.nonce));
    ureq.nonce_size = sizeof(cresp.nonce);
    ureq.ak_public = (proto_bytes){ak, ak_size};
    ureq.attest = (proto_bytes){attest, attest_size};
    ureq.signature = (proto_bytes){sig, sig_size};
    ureq.pcrs = log->pcrs;
    ureq.event_log = (proto_bytes){log->data, log->size};
    e = post(&o, srv->url, "/v1/unlock", proto_unlock_req_encode(&ureq), ret_status, &ans, err);
    if (e != LG_OK)
        goto out;
    if (proto_unlock_ok_decode(ans, &ok, err) < 0) {
        e = LG_ERR_DECODE;
        goto out;
    }
    if (ok.ek_name.size != node->tpm.ek->name_size ||
        memcmp(ok.ek_name.data, node->tpm.ek->name, ok.ek_name.size) != 0) {
        bg_err_set(err, -EPERM, "the answer names another EK");
        e = LG_ERR_EK_NAME;
        goto out;
    }
    if (softtpm_activate(&node->tpm, ok.credential_blob.data, ok.credential_blob.size,
                         ok.encrypted_secret.data, ok.encrypted_secret.size, seed, &seed_size,
                         err) < 0 ||
        seed_size != PROTO_SEED_SIZE) {
        e = LG_ERR_ACTIVATE;
        goto out;
    }
    if (proto_unwrap_key(seed, cresp.nonce, sizeof(cresp.nonce), node->node_id, srv->volume_uuid,
                         ok.wrapped_key.data, ok.wrapped_key.size, &key, &key_size, err) < 0) {
        e = LG_ERR_UNWRAP;
        goto out;
    }
    if (key_size != sizeof(node->volume_key) ||
        CRYPTO_memcmp(key, node->volume_key, key_size) != 0) {
        bg_err_set(err, -EPERM, "released key differs from the enrolled one");
        e = LG_ERR_KEY;
        goto out;
    }
    e = LG_OK;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    if (key)
        secmem_free(key);
    json_object_put(ans);
    proto_unlock_ok_done(&ok);
    OPENSSL_free(attest);
    OPENSSL_free(sig);
    free(ak);
    https_session_free(o.session);
    return e;
}
