/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The unlock flow of DESIGN §1, for every volume with a bootgate token:
 * challenge -> quote -> unlock -> ActivateCredential -> unwrap -> activate
 * (or verify). A denial is shown with its explanation and break-glass code
 * and the client keeps polling until a grant or the deadline. */
#include "client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <json-c/json.h>

#include "http.h"
#include "luks.h"
#include "proto.h"
#include "secmem.h"
#include "timing.h"
#include "tpm.h"
#include "util.h"
#include "volumes.h"

typedef struct unlock_ctx {
    client_opts *o;
    tpm_ctx *tpm;
    uint8_t ak_public[TPM_BLOB_MAX];
    size_t ak_public_size;
    char ak_name_hex[2 * TPM_NAME_MAX + 1];
    uint8_t ek_name[TPM_NAME_MAX];
    size_t ek_name_size;
    proto_bytes event_log;
    proto_bytes ima_log;
    uint64_t deadline_ms;
    uint64_t last_denial; /* hash of the last explanation shown, 0 = none */
    https_session *session;
    server_list servers; /* the volume's, from the token or the configuration */
    size_t server;       /* the one that answered last: the next attempt starts there */
} unlock_ctx;

/* Outcome of one attempt, in order of severity for the final exit code. */
typedef enum attempt_result {
    ATTEMPT_UNLOCKED,
    ATTEMPT_DENIED,      /* 403 with an explanation: poll again */
    ATTEMPT_RETRY,       /* the server failed mid-attempt: again at once, fresh nonce */
    ATTEMPT_UNREACHABLE, /* deadline passed while the server was unreachable */
    ATTEMPT_FATAL,       /* exit code in *ret_exit */
} attempt_result;

/* The attempt's outcome when client_post did not bring a 200 answer: the
 * server's refusal (exit 1), a bad answer or a configuration error (exit set
 * by client_post), or unreachable until the deadline. */
static attempt_result post_failed(const client_opts *o, const char *dev, int r, client_answer *a,
                                  int *ret_exit)
{
    if (r == -EPERM) {
        client_print_refusal(o, dev, a);
        client_answer_done(a);
        *ret_exit = CLIENT_EXIT_DENIED;
        return ATTEMPT_FATAL;
    }
    if (r == -EBADMSG || *ret_exit != CLIENT_EXIT_UNREACHABLE)
        return ATTEMPT_FATAL;
    return ATTEMPT_UNREACHABLE;
}

/* FNV-1a over the verdict and explanation: a repeated denial is shown in
 * one line so the console keeps the full explanation readable. */
static uint64_t denial_hash(const proto_unlock_denied *d)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i <= d->n_explanation; i++) {
        const char *s = i == 0 ? d->verdict : d->explanation[i - 1];
        for (; *s; s++)
            h = (h ^ (uint8_t)*s) * 0x100000001b3u;
        h = (h ^ '\n') * 0x100000001b3u;
    }
    return h ? h : 1;
}

static void print_denial(unlock_ctx *u, const char *dev, const proto_unlock_denied *d)
{
    const client_opts *o = u->o;
    uint64_t h = denial_hash(d);

    if (h == u->last_denial) {
        client_log(o, LOG_WARNING, "%s: still denied (%s); break-glass code: %s", dev, d->verdict,
                   d->breakglass_code[0] ? d->breakglass_code : "none");
        return;
    }
    u->last_denial = h;
    client_log(o, LOG_WARNING, "%s: unlock DENIED (%s)", dev, d->verdict);
    for (size_t i = 0; i < d->n_explanation && i < 16; i++)
        client_log(o, LOG_WARNING, "  %s", d->explanation[i]);
    if (d->n_explanation > 16)
        client_log(o, LOG_WARNING, "  ... %zu more", d->n_explanation - 16);
    if (d->breakglass_code[0])
        client_log(o, LOG_WARNING, "  break-glass code: %s  (audit #%lld)", d->breakglass_code,
                   (long long)d->audit_seq);
}

/* A nonce refusal after a try that failed mid-request (the same server
 * again, or another that took over): the failed try may have used the nonce
 * before its answer was lost. Not a denial of this machine: the attempt
 * starts over with a fresh challenge, at once. */
static bool nonce_lost_in_failover(const client_answer *a, size_t before, size_t after)
{
    json_object *v;
    return (before != after || a->attempts > 1) && a->status == 403 && a->json &&
           json_object_object_get_ex(a->json, "verdict", &v) &&
           json_object_is_type(v, json_type_string) &&
           !strncmp(json_object_get_string(v), "nonce_", 6);
}

static attempt_result unlock_attempt(unlock_ctx *u, const char *dev, struct crypt_device *cd,
                                     const luks_token *tok, int *ret_exit)
{
    const client_opts *o = u->o;
    _cleanup_(json_object_putp) json_object *jreq = NULL;
    _cleanup_(client_answer_done) client_answer a = {0};
    https_opts h = client_https_opts(o);
    _cleanup_(secmem_freep) uint8_t *seed = NULL;
    _cleanup_(secmem_freep) uint8_t *key = NULL;
    proto_challenge_req creq = {{0}};
    proto_challenge_resp chal;
    proto_unlock_req ureq;
    proto_unlock_ok ok = {0};
    tpm_quote *q = NULL;
    size_t seed_size = 0, key_size = 0;
    bg_err err = {{0}};
    int r;

    *ret_exit = CLIENT_EXIT_USAGE;

    /* 1. challenge */
    snprintf(creq.node_id, sizeof(creq.node_id), "%s", tok->node_id);
    jreq = proto_challenge_req_encode(&creq);
    if (!jreq)
        return ATTEMPT_FATAL;
    h.session = u->session;
    r = client_post(o, &h, dev, "challenge", &u->servers, &u->server, "/v1/challenge", jreq, false,
                    u->deadline_ms, &a, ret_exit);
    if (r < 0)
        return post_failed(o, dev, r, &a, ret_exit);
    if (proto_challenge_resp_decode(a.json, &chal, &err) < 0) {
        client_bad_answer(o, dev, "challenge", &err, ret_exit);
        return ATTEMPT_FATAL;
    }

    /* 2. quote with the server's nonce */
    uint64_t t0 = https_now_ms();
    q = calloc(1, sizeof(*q));
    if (!q)
        return ATTEMPT_FATAL;
    r = tpm_quote_pcrs(u->tpm, chal.nonce, sizeof(chal.nonce), q, &err);
    if (r < 0) {
        client_msg(o, "%s: %s", client_tpm_strerror(r), bg_err_msg(&err));
        free(q);
        *ret_exit = CLIENT_EXIT_TPM;
        return ATTEMPT_FATAL;
    }
    client_debug(o, "quote: %u tr%s, %llu ms", q->tries, q->tries == 1 ? "y" : "ies",
                 (unsigned long long)(https_now_ms() - t0));

    /* 3. unlock request. The proto_bytes point at our buffers: never _done'd. */
    memset(&ureq, 0, sizeof(ureq));
    snprintf(ureq.node_id, sizeof(ureq.node_id), "%s", tok->node_id);
    snprintf(ureq.volume_uuid, sizeof(ureq.volume_uuid), "%s", luks_uuid(cd));
    memcpy(ureq.nonce, chal.nonce, sizeof(chal.nonce));
    ureq.nonce_size = sizeof(chal.nonce);
    ureq.ak_public = (proto_bytes){u->ak_public, u->ak_public_size};
    ureq.attest = (proto_bytes){q->attest, q->attest_size};
    ureq.signature = (proto_bytes){q->signature, q->signature_size};
    ureq.pcrs.alg = TPMALG_SHA256;
    ureq.pcrs.digest_size = 32;
    ureq.pcrs.mask = TPM_QUOTE_PCR_MASK;
    for (unsigned i = 0; i < PROTO_PCR_COUNT; i++)
        memcpy(ureq.pcrs.pcr[i], q->pcrs[i], 32);
    ureq.event_log = u->event_log;
    ureq.ima_log = u->ima_log;
    json_object_put(TAKE_PTR(jreq));
    client_answer_done(&a);
    jreq = proto_unlock_req_encode(&ureq);
    free(q);
    if (!jreq)
        return ATTEMPT_FATAL;
    /* the nonce is good at every replica (shared nonce secret and store):
     * the unlock goes to the next one too if this one fails */
    size_t challenged_at = u->server;
    r = client_post(o, &h, dev, "unlock", &u->servers, &u->server, "/v1/unlock", jreq, false,
                    u->deadline_ms, &a, ret_exit);
    if (r == -EPERM && nonce_lost_in_failover(&a, challenged_at, u->server)) {
        if (u->server == challenged_at)
            client_log(o, LOG_INFO,
                       "%s: %s refused the nonce its failed try had used: asking again", dev,
                       u->servers.url[u->server]);
        else
            client_log(o, LOG_INFO,
                       "%s: %s refused the nonce of %s after a failed try: asking again", dev,
                       u->servers.url[u->server], u->servers.url[challenged_at]);
        return ATTEMPT_RETRY;
    }
    if (r == -EPERM && a.status == 403) {
        /* A denial: its explanation and break-glass code; keep polling. */
        proto_unlock_denied d;
        memset(&d, 0, sizeof(d));
        if (a.json && proto_unlock_denied_decode(a.json, &d, &err) >= 0)
            print_denial(u, dev, &d);
        else
            client_print_refusal(o, dev, &a);
        proto_unlock_denied_done(&d);
        *ret_exit = CLIENT_EXIT_DENIED;
        return ATTEMPT_DENIED;
    }
    if (r < 0)
        return post_failed(o, dev, r, &a, ret_exit);
    if (proto_unlock_ok_decode(a.json, &ok, &err) < 0) {
        client_bad_answer(o, dev, "unlock", &err, ret_exit);
        return ATTEMPT_FATAL;
    }

    /* 4. the seed only comes out of this TPM's ActivateCredential, through a
     * session salted to the EK the TPM showed us at setup. The server made the
     * credential for the enrolled EK: if that is not the same key (same name,
     * same public area), whoever showed us this one, e.g. someone answering on
     * the TPM bus, could read the salt and then the seed. Stop before either. */
    if (ok.ek_name.size != u->ek_name_size ||
        memcmp(ok.ek_name.data, u->ek_name, u->ek_name_size) != 0) {
        char mine[2 * TPM_NAME_MAX + 1], enrolled[2 * PROTO_MAX_TPM_NAME + 1];
        hex_encode(u->ek_name, u->ek_name_size, mine);
        hex_encode(ok.ek_name.data, ok.ek_name.size, enrolled);
        client_msg(o,
                   "%s: this TPM's EK (name %s) is not the enrolled EK (%s); not activating "
                   "the credential (EK type changed, TPM replaced, or the TPM bus is tampered "
                   "with)",
                   dev, mine, enrolled);
        proto_unlock_ok_done(&ok);
        *ret_exit = CLIENT_EXIT_TPM;
        return ATTEMPT_FATAL;
    }
    seed = secmem_alloc(64);
    if (!seed) {
        proto_unlock_ok_done(&ok);
        return ATTEMPT_FATAL;
    }
    t0 = https_now_ms();
    uint64_t t_us = timing_now_us();
    r = tpm_activate_credential(u->tpm, ok.credential_blob.data, ok.credential_blob.size,
                                ok.encrypted_secret.data, ok.encrypted_secret.size, seed, 64,
                                &seed_size, &err);
    timing_add(TIMING_TPM_ACTIVATE, t_us);
    if (r >= 0 && seed_size != PROTO_SEED_SIZE)
        r = bg_err_set(&err, -EBADMSG, "credential of %zu bytes", seed_size);
    if (r < 0) {
        client_msg(o, "%s: %s: %s", dev, client_tpm_strerror(r), bg_err_msg(&err));
        proto_unlock_ok_done(&ok);
        *ret_exit = CLIENT_EXIT_TPM;
        return ATTEMPT_FATAL;
    }
    client_debug(o, "ActivateCredential: %llu ms", (unsigned long long)(https_now_ms() - t0));
    t_us = timing_now_us();
    r = proto_unwrap_key(seed, chal.nonce, sizeof(chal.nonce), tok->node_id, luks_uuid(cd),
                         ok.wrapped_key.data, ok.wrapped_key.size, &key, &key_size, &err);
    timing_add(TIMING_UNWRAP, t_us);
    secmem_wipe(seed, 64);
    if (r < 0) {
        client_msg(o, "%s: the released key does not unwrap: %s", dev, bg_err_msg(&err));
        proto_unlock_ok_done(&ok);
        *ret_exit = CLIENT_EXIT_DENIED;
        return ATTEMPT_FATAL;
    }

    /* 5. open the volume (or only prove the key opens it) */
    t_us = timing_now_us();
    if (o->verify_only)
        r = luks_volume_key_verify(cd, key, key_size, &err);
    else
        r = luks_activate(cd, key, key_size,
                          o->cfg.allow_discards ? CRYPT_ACTIVATE_ALLOW_DISCARDS : 0, &err);
    timing_add(TIMING_LUKS_VERIFY, t_us);
    if (r < 0) {
        client_msg(o, "%s: %s", dev, bg_err_msg(&err));
        proto_unlock_ok_done(&ok);
        *ret_exit = CLIENT_EXIT_DENIED;
        return ATTEMPT_FATAL;
    }
    client_log(o, LOG_INFO, "%s: %s (policy %s v%lld, %s; audit #%lld)", dev,
               o->verify_only ? "released key verified against the LUKS header" : "unlocked",
               ok.policy_name, (long long)ok.policy_version, ok.policy_mode,
               (long long)ok.audit_seq);
    proto_unlock_ok_done(&ok);
    *ret_exit = CLIENT_EXIT_OK;
    return ATTEMPT_UNLOCKED;
}

static int unlock_volume(unlock_ctx *u, volume *v)
{
    const client_opts *o = u->o;
    const char *dev = v->dev;
    struct crypt_device *cd = v->cd;
    const luks_token *tok = &v->tok;
    char ca_hex[65];
    bg_err err = {{0}};
    int exit_code = CLIENT_EXIT_USAGE;

    if (v->r < 0) {
        client_msg(o, "%s", bg_err_msg(&v->err));
        return CLIENT_EXIT_USAGE;
    }
    char servers[SERVERS_MAX * SERVER_URL_MAX];
    if (o->cfg.server[0]) {
        if (server_list_parse(o->cfg.server, &u->servers, &err) < 0 || u->servers.n == 0) {
            client_msg(o, "server = %s: %s", o->cfg.server,
                       u->servers.n ? bg_err_msg(&err) : "no URL");
            return CLIENT_EXIT_USAGE;
        }
    } else
        u->servers = tok->servers;
    u->server = 0;
    server_list_format(&u->servers, servers, sizeof(servers));
    if (https_file_sha256_hex(o->cfg.ca, ca_hex, &err) < 0) {
        client_msg(o, "CA file: %s", bg_err_msg(&err));
        return CLIENT_EXIT_USAGE;
    }
    if (tok->ca_sha256[0] && strcmp(ca_hex, tok->ca_sha256) != 0) {
        client_msg(o, "%s: CA file %s is not the CA pinned at enrollment (sha256 %s)", dev,
                   o->cfg.ca, tok->ca_sha256);
        return CLIENT_EXIT_USAGE;
    }
    /* The AK is derived from the EPS: a different name means this is not the
     * TPM that was enrolled (cleared, replaced, or the disk moved). */
    if (tok->ak_name[0] && strcmp(tok->ak_name, u->ak_name_hex) != 0) {
        client_msg(o,
                   "%s: TPM identity differs from enrollment (TPM cleared or replaced, or the "
                   "disk moved): AK name %s, enrolled %s",
                   dev, u->ak_name_hex, tok->ak_name);
        return CLIENT_EXIT_TPM;
    }
    client_debug(o, "%s: uuid %s, servers %s, node %s", dev, luks_uuid(cd), servers, tok->node_id);

    u->last_denial = 0;
    for (bool denied = false;;) {
        attempt_result res = unlock_attempt(u, dev, cd, tok, &exit_code);
        if (res == ATTEMPT_RETRY)
            continue; /* bounded by the deadline of its requests */
        /* A server that stops answering after denying us leaves us denied. */
        if (res == ATTEMPT_UNREACHABLE && denied)
            return CLIENT_EXIT_DENIED;
        if (res != ATTEMPT_DENIED)
            return exit_code;
        denied = true;
        /* Denied: keep polling so that a break-glass grant or a newly
         * activated policy takes effect without a reboot, as long as another
         * attempt fits before the deadline. */
        uint64_t now = https_now_ms(), wait = (uint64_t)o->cfg.poll_interval_s * 1000;
        if (now >= u->deadline_ms || u->deadline_ms - now <= wait) {
            client_log(o, LOG_WARNING, "%s: still denied; the deadline leaves no time to ask again",
                       dev);
            return CLIENT_EXIT_DENIED;
        }
        client_log(o, LOG_INFO, "%s: asking again in %llu s", dev,
                   (unsigned long long)(wait / 1000));
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000),
                              .tv_nsec = (long)(wait % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

static void read_log(const client_opts *o, const char *path, size_t max, proto_bytes *ret)
{
    bg_err err = {{0}};
    int r;

    ret->data = NULL;
    ret->size = 0;
    if (!path[0])
        return;
    r = read_file(path, max, &ret->data, &ret->size, &err);
    /* An initramfs without systemd may not have securityfs mounted yet. */
    if (r == -ENOENT && !strncmp(path, "/sys/kernel/security/", 21) &&
        access("/sys/kernel/security/tpm0", F_OK) < 0 &&
        mount("securityfs", "/sys/kernel/security", "securityfs", 0, NULL) == 0)
        r = read_file(path, max, &ret->data, &ret->size, &err);
    if (r < 0) {
        client_debug(o, "%s: %s (sent empty)", path, bg_err_msg(&err));
        ret->data = NULL;
        ret->size = 0;
    }
}

int client_unlock_main(client_opts *o, int argc, char **argv)
{
    _cleanup_(tpm_closep) tpm_ctx *t = NULL;
    unlock_ctx u = {.o = o};
    volume_search vs = {.wait_s = o->cfg.tpm_wait_s};
    uint8_t name[TPM_NAME_MAX];
    size_t n;
    bg_err err = {{0}};
    int worst = CLIENT_EXIT_OK, r;

    if (argc > 0 && !strcmp(argv[0], "unlock")) {
        argc--;
        argv++;
    }
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-') {
            client_msg(o, "unknown option '%s' (options go before the devices)", argv[i]);
            return CLIENT_EXIT_USAGE;
        }
    u.deadline_ms = https_now_ms() + (uint64_t)o->cfg.timeout_s * 1000;
    if (argc > 0) {
        vs.devs = argv;
        vs.n_devs = (size_t)argc;
    }
    /* The LUKS headers are read (or the disks searched for) on a thread of
     * their own while this one sets up the TPM (volumes.h). */
    volume_search_start(&vs);
    r = client_tpm_setup(o, &t);
    uint64_t t_us = timing_now_us();
    volume_search_join(&vs);
    timing_add(TIMING_LUKS_LOAD, t_us);
    timing_add_us(TIMING_LUKS_SEARCH, vs.busy_us);
    timing_add_us(TIMING_LUKS_SEARCH_CPU, vs.cpu_us);
    if (vs.r < 0) {
        client_msg(o, "%s", bg_err_msg(&vs.err));
        volume_search_done(&vs);
        return CLIENT_EXIT_USAGE;
    }
    if (r != 0) {
        volume_search_done(&vs);
        return r;
    }
    u.tpm = t;
    t_us = timing_now_us();
    if (tpm_ak_public(t, u.ak_public, sizeof(u.ak_public), &u.ak_public_size, &err) < 0 ||
        tpm_ak_name(t, name, sizeof(name), &n, &err) < 0 ||
        tpm_ek_name(t, u.ek_name, sizeof(u.ek_name), &u.ek_name_size, &err) < 0) {
        client_msg(o, "%s", bg_err_msg(&err));
        volume_search_done(&vs);
        return CLIENT_EXIT_TPM;
    }
    timing_add(TIMING_TPM_SETUP, t_us);
    hex_encode(name, n, u.ak_name_hex);
    u.session = https_session_new();
    read_log(o, o->cfg.event_log, PROTO_MAX_EVENTLOG, &u.event_log);
    read_log(o, o->cfg.ima_log, PROTO_MAX_IMALOG, &u.ima_log);

    for (size_t i = 0; i < vs.n; i++) {
        r = unlock_volume(&u, &vs.v[i]);
        /* Several volumes: report the highest exit code of any of them. */
        if (r != CLIENT_EXIT_OK && (worst == CLIENT_EXIT_OK || r > worst))
            worst = r;
    }
    if (worst != CLIENT_EXIT_OK && o->console)
        client_msg(o, "giving up (exit %d); the passphrase prompt follows", worst);
    client_debug(
        o, "done in %llu ms, exit %d",
        (unsigned long long)(https_now_ms() - (u.deadline_ms - (uint64_t)o->cfg.timeout_s * 1000)),
        worst);
    https_session_free(u.session);
    proto_bytes_free(&u.event_log);
    proto_bytes_free(&u.ima_log);
    volume_search_done(&vs);
    return worst;
}
