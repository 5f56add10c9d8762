/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The crypto floor of one release: what the server cannot avoid doing for a
 * boot (TLS 1.3 handshake, quote signature, MakeCredential, HKDF + AES-GCM),
 * timed in this process with the thread's CPU clock, so that it compares with
 * bootgated's CPU time per release measured in the same run. */
#include "loadgen.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "credential.h"
#include "proto.h"
#include "quote.h"
#include "secmem.h"

#define FLOOR_REPEATS 3u /* the floor is the best mean of these */

/* The server context as bootgated builds it (src/server/http.c srv_tls_init):
 * TLS 1.3 only, the same chain and key, the client CA list with an optional
 * client certificate, no session tickets and no session cache. */
static SSL_CTX *server_ctx(const char *cert, const char *key, const char *client_ca)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        goto fail;
    if (client_ca) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, client_ca, NULL) != 1) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* One full handshake over an in-memory BIO pair; returns the server SSL
 * object's CPU time (SSL_new, every SSL_do_handshake, SSL_free) or 0, and
 * the client object's likewise in *ret_client_ns. */
static uint64_t handshake_once(SSL_CTX *sctx, SSL_CTX *cctx, uint64_t *ret_client_ns)
{
    uint64_t t, server_ns = 0, client_ns = 0;
    SSL *s, *c;
    BIO *sb = NULL, *cb = NULL;
    bool s_done = false, c_done = false;

    t = lg_thread_cpu_ns();
    c = SSL_new(cctx);
    client_ns += lg_thread_cpu_ns() - t;
    t = lg_thread_cpu_ns();
    s = SSL_new(sctx);
    server_ns += lg_thread_cpu_ns() - t;
    if (!s || !c || BIO_new_bio_pair(&sb, 0, &cb, 0) != 1) {
        SSL_free(s);
        SSL_free(c);
        return 0;
    }
    SSL_set_bio(s, sb, sb);
    SSL_set_bio(c, cb, cb);
    SSL_set_accept_state(s);
    SSL_set_connect_state(c);
    SSL_set_tlsext_host_name(c, "127.0.0.1");
    for (int i = 0; i < 16 && !(s_done && c_done); i++) {
        if (!c_done) {
            t = lg_thread_cpu_ns();
            int r = SSL_do_handshake(c);
            client_ns += lg_thread_cpu_ns() - t;
            if (r == 1)
                c_done = true;
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
                break;
        }
        if (!s_done) {
            t = lg_thread_cpu_ns();
            int r = SSL_do_handshake(s);
            server_ns += lg_thread_cpu_ns() - t;
            if (r == 1)
                s_done = true;
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
                break;
        }
    }
    t = lg_thread_cpu_ns();
    SSL_free(s);
    server_ns += lg_thread_cpu_ns() - t;
    t = lg_thread_cpu_ns();
    SSL_free(c);
    client_ns += lg_thread_cpu_ns() - t;
    *ret_client_ns = client_ns;
    return s_done && c_done ? server_ns : 0;
}

static int floor_tls(const char *cert, const char *key, const char *client_ca, const char *ca,
                     unsigned rounds, double *ret_us, double *ret_client_us, bg_err *err)
{
    SSL_CTX *sctx = server_ctx(cert, key, client_ca), *cctx = SSL_CTX_new(TLS_client_method());
    double best = 0, best_client = 0;
    int r = 0;

    if (!sctx || !cctx || SSL_CTX_load_verify_locations(cctx, ca, NULL) != 1) {
        r = bg_err_set(err, -EIO, "cannot build TLS contexts from %s, %s", cert, ca);
        goto out;
    }
    SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
    for (unsigned rep = 0; rep < FLOOR_REPEATS; rep++) {
        uint64_t sum = 0, sum_client = 0, client_ns = 0;
        for (unsigned i = 0; i < rounds; i++) {
            uint64_t ns = handshake_once(sctx, cctx, &client_ns);
            if (!ns) {
                r = bg_err_set(err, -EIO, "in-memory TLS 1.3 handshake failed");
                goto out;
            }
            sum += ns;
            sum_client += client_ns;
        }
        double mean = (double)sum / rounds / 1000.0,
               mean_client = (double)sum_client / rounds / 1000.0;
        if (rep == 0 || mean < best)
            best = mean;
        if (rep == 0 || mean_client < best_client)
            best_client = mean_client;
    }
    *ret_us = best;
    *ret_client_us = best_client;
out:
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    return r;
}

int lg_floor_measure(const char *cert, const char *key, const char *client_ca, const char *ca,
                     const lg_boot_log *log, unsigned rounds, lg_floor *ret, bg_err *err)
{
    softtpm t;
    uint8_t nonce[PROTO_NONCE_SIZE], seed[PROTO_SEED_SIZE], vk[LG_VOLUME_KEY_SIZE];
    uint8_t *attest = NULL, *sig = NULL;
    size_t attest_size = 0, sig_size = 0;
    quote_selection sel = {.n_banks = 1, .banks = {{.alg = TPM2_ALG_SHA256, .mask = 0xfff}}};
    double best[6] = {0, 0, 0, 0, 0, 0};
    int r;

    *ret = (lg_floor){0};
    r = floor_tls(cert, key, client_ca, ca, rounds, &ret->tls_us, &ret->client_tls_us, err);
    if (r < 0)
        return r;
    r = softtpm_new(&t, err);
    if (r < 0)
        return r;
    if (RAND_bytes(nonce, sizeof(nonce)) != 1 || RAND_bytes(seed, sizeof(seed)) != 1 ||
        RAND_bytes(vk, sizeof(vk)) != 1) {
        r = bg_err_set(err, -EIO, "RAND_bytes failed");
        goto out;
    }
    r = softtpm_quote(&t, &log->pcrs, nonce, sizeof(nonce), &attest, &attest_size, &sig, &sig_size,
                      err);
    if (r < 0)
        goto out;
    quote_evidence ev = {.ak = t.ak,
                         .attest = attest,
                         .attest_size = attest_size,
                         .sig = sig,
                         .sig_size = sig_size,
                         .nonce = nonce,
                         .nonce_size = sizeof(nonce),
                         .banks = &log->pcrs,
                         .n_banks = 1,
                         .required = &sel,
                         .pinned_ak_name = t.ak->name,
                         .pinned_ak_name_size = t.ak->name_size};
    for (unsigned rep = 0; rep < FLOOR_REPEATS; rep++) {
        /* server: quote verify, MakeCredential, wrap; client: quote sign,
         * ActivateCredential, unwrap */
        uint64_t ns[6] = {0, 0, 0, 0, 0, 0}, t0;
        for (unsigned i = 0; i < rounds; i++) {
            quote_result qr;
            credential_blob blob;
            uint8_t *wrapped = NULL, *id_obj = NULL, *enc = NULL, *vk2 = NULL;
            uint8_t *a2 = NULL, *s2 = NULL, got[CREDENTIAL_MAX_SECRET];
            size_t wrapped_size = 0, id_size = 0, enc_size = 0, vk2_size = 0, got_size = 0;
            size_t a2_size = 0, s2_size = 0;

            t0 = lg_thread_cpu_ns();
            r = softtpm_quote(&t, &log->pcrs, nonce, sizeof(nonce), &a2, &a2_size, &s2, &s2_size,
                              err);
            ns[3] += lg_thread_cpu_ns() - t0;
            OPENSSL_free(a2);
            OPENSSL_free(s2);
            if (r < 0)
                goto out;
            t0 = lg_thread_cpu_ns();
            r = quote_verify(&ev, &qr, err);
            ns[0] += lg_thread_cpu_ns() - t0;
            if (r < 0 || qr.verdict != QUOTE_VALID) {
                r = r < 0 ? r : bg_err_set(err, -EIO, "own quote refused: %s", qr.reason);
                goto out;
            }
            t0 = lg_thread_cpu_ns();
            r = credential_make(t.ek, t.ak->name, t.ak->name_size, seed, sizeof(seed), &blob, err);
            ns[1] += lg_thread_cpu_ns() - t0;
            if (r < 0)
                goto out;
            t0 = lg_thread_cpu_ns();
            r = proto_wrap_key(seed, nonce, sizeof(nonce), "0123456789abcdef0123456789abcdef",
                               "6f1b2c3d-0000-4000-8000-00000000abcd", vk, sizeof(vk), &wrapped,
                               &wrapped_size, err);
            ns[2] += lg_thread_cpu_ns() - t0;
            if (r >= 0)
                r = credential_marshal(&blob, &id_obj, &id_size, &enc, &enc_size, err);
            if (r >= 0) {
                t0 = lg_thread_cpu_ns();
                r = softtpm_activate(&t, id_obj, id_size, enc, enc_size, got, &got_size, err);
                ns[4] += lg_thread_cpu_ns() - t0;
            }
            if (r >= 0) {
                t0 = lg_thread_cpu_ns();
                r = proto_unwrap_key(got, nonce, sizeof(nonce), "0123456789abcdef0123456789abcdef",
                                     "6f1b2c3d-0000-4000-8000-00000000abcd", wrapped, wrapped_size,
                                     &vk2, &vk2_size, err);
                ns[5] += lg_thread_cpu_ns() - t0;
            }
            if (r >= 0 && (vk2_size != sizeof(vk) || CRYPTO_memcmp(vk2, vk, vk2_size) != 0))
                r = bg_err_set(err, -EIO, "the floor's own unwrap gave another key");
            OPENSSL_cleanse(got, sizeof(got));
            secmem_free(vk2); /* wipes */
            free(id_obj);
            free(enc);
            free(wrapped);
            if (r < 0)
                goto out;
        }
        for (unsigned k = 0; k < 6; k++) {
            double mean = (double)ns[k] / rounds / 1000.0;
            if (rep == 0 || mean < best[k])
                best[k] = mean;
        }
    }
    ret->quote_us = best[0];
    ret->makecred_us = best[1];
    ret->wrap_us = best[2];
    ret->total_us = ret->tls_us + ret->quote_us + ret->makecred_us + ret->wrap_us;
    ret->sign_us = best[3];
    ret->activate_us = best[4];
    ret->unwrap_us = best[5];
    ret->client_total_us = ret->client_tls_us + ret->sign_us + ret->activate_us + ret->unwrap_us;
    r = 0;
out:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(vk, sizeof(vk));
    OPENSSL_free(attest);
    OPENSSL_free(sig);
    softtpm_done(&t);
    return r;
}
