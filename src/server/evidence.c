/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evidence.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "cursor.h"
#include "eventlog.h"
#include "ima.h"
#include "util.h"

/* The event-log library arrives from a parallel branch; until it is linked
 * these are NULL and replay fails closed. */
#pragma weak eventlog_parse
#pragma weak eventlog_free
#pragma weak eventlog_replay
#pragma weak ima_parse
#pragma weak ima_log_free
#pragma weak ima_replay

void evidence_explanation_done(evidence_explanation *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->lines[i]);
    e->n = 0;
}

int evidence_explain_add(evidence_explanation *e, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;
    if (e->n >= EVIDENCE_MAX_EXPLANATION)
        return 0; /* the first lines carry the story; the rest is in the audit log */
    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -ENOMEM;
    e->lines[e->n++] = s;
    return 0;
}

/* TPM2B_PUBLIC = size(u16 BE) | TPMT_PUBLIC (TPM 2.0 Part 2, 12.2.5) */
static int tpm2b_contents(const uint8_t *buf, size_t size, const uint8_t **ret, size_t *ret_size,
                          bg_err *err)
{
    cursor c = cursor_init(buf, size);
    uint16_t n;
    int r = cursor_u16be(&c, &n, "TPM2B_PUBLIC.size", err);
    if (r < 0)
        return r;
    if (n == 0 || n != cursor_left(&c))
        return bg_err_set(err, -EBADMSG, "TPM2B_PUBLIC: size %u but %zu bytes follow", n,
                          cursor_left(&c));
    return cursor_bytes(&c, n, ret, "TPMT_PUBLIC", err) < 0 ? -EBADMSG : (*ret_size = n, 0);
}

int evidence_ek_fingerprint(const uint8_t *ek_pub, size_t size, char ret[65], bg_err *err)
{
    const uint8_t *p;
    size_t n;
    uint8_t md[32];
    unsigned mdlen = 0;
    int r = tpm2b_contents(ek_pub, size, &p, &n, err);
    if (r < 0)
        return r;
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
        return bg_err_set(err, -EIO, "SHA-256 failed");
    hex_encode(md, sizeof(md), ret);
    return 0;
}

/* TODO(quote merge): replace with tpmpub_parse + tpmpub_check_ak_attributes +
 * tpmpub_name from src/lib/tpmpub.h. Until then every AK is refused. */
int evidence_ak_check(const uint8_t *ak_pub, size_t size, uint8_t *ret_name, size_t name_max,
                      size_t *ret_name_size, const char **ret_verdict, bg_err *err)
{
    *ret_verdict = "ak_unsupported";
    return bg_err_set(err, -EOPNOTSUPP, "AK parsing is not built in");
}

/* TODO(quote merge): tpmpub_parse */
int evidence_ek_check(const uint8_t *ek_pub, size_t size, bg_err *err)
{
    const uint8_t *p;
    size_t n;
    return tpm2b_contents(ek_pub, size, &p, &n, err);
}

int evidence_ek_cert_check(X509_STORE *cas, const uint8_t *cert, size_t cert_size,
                           const uint8_t *ek_pub, size_t ek_pub_size, char *ret_subject,
                           size_t subject_size, bg_err *err)
{
    const uint8_t *p = cert;
    X509 *x = NULL;
    X509_STORE_CTX *ctx = NULL;
    int r;

    if (!cas)
        return bg_err_set(err, -EPERM, "no EK CA bundle configured");
    if (cert_size > INT32_MAX || !(x = d2i_X509(NULL, &p, (long)cert_size)) ||
        p != cert + cert_size)
        return X509_free(x), bg_err_set(err, -EBADMSG, "EK certificate is not one DER X.509");
    ctx = X509_STORE_CTX_new();
    if (!ctx) {
        X509_free(x);
        return -ENOMEM;
    }
    X509_NAME_oneline(X509_get_subject_name(x), ret_subject, (int)subject_size);
    X509_STORE_CTX_init(ctx, cas, x, NULL);
    /* EK certificates carry TPM-specific critical extensions (TCG EK
     * Credential Profile 3.2: subjectAltName directoryName with TPM
     * manufacturer attributes, which OpenSSL understands; some vendors mark
     * others critical). The chain and signatures are what matters here. */
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_IGNORE_CRITICAL);
    if (X509_verify_cert(ctx) != 1) {
        r = bg_err_set(err, -EPERM, "EK certificate does not chain to the EK CA bundle: %s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    /* TODO(quote merge): compare the certificate's public key with ek_pub
     * (tpmpub_to_evp). Until then a verified chain is not enough. */
    r = bg_err_set(err, -EPERM, "EK certificate key match is not built in");
out:
    X509_STORE_CTX_free(ctx);
    X509_free(x);
    return r;
}

/* TODO(quote merge): quote_verify from src/lib/quote.h. */
int evidence_quote_verify(const uint8_t *ak_pub, size_t ak_pub_size, const proto_unlock_req *req,
                          const char **ret_verdict, bg_err *err)
{
    *ret_verdict = "quote_unsupported";
    return bg_err_set(err, -EOPNOTSUPP, "quote verification is not built in");
}

int evidence_logs_replay(const proto_unlock_req *req, const char **ret_verdict,
                         evidence_explanation *expl, bg_err *err)
{
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    _cleanup_(ima_log_freep) ima_log *ima = NULL;
    pcr_bank bank = {0}, imabank = {0};
    bg_err sub = {0};
    bool ok = true;
    int r;

    *ret_verdict = "eventlog_invalid";
    if (!eventlog_parse || !eventlog_replay || !ima_parse || !ima_replay)
        return bg_err_set(err, -EOPNOTSUPP, "event log replay is not built in");
    r = eventlog_parse(req->event_log.data, req->event_log.size, &log, &sub);
    if (r < 0)
        return bg_err_set(err, -EBADMSG, "event log: %s", bg_err_msg(&sub));
    r = eventlog_replay(log, PROTO_PCR_ALG, &bank, &sub);
    if (r < 0)
        return bg_err_set(err, -EBADMSG, "event log replay: %s", bg_err_msg(&sub));
    imabank.alg = PROTO_PCR_ALG;
    imabank.digest_size = bank.digest_size;
    if (req->ima_log.size > 0) {
        *ret_verdict = "imalog_invalid";
        r = ima_parse(req->ima_log.data, req->ima_log.size, &ima, &sub);
        if (r >= 0)
            r = ima_replay(ima, &imabank, &sub);
        if (r < 0)
            return bg_err_set(err, -EBADMSG, "IMA log: %s", bg_err_msg(&sub));
    }
    *ret_verdict = "eventlog_mismatch";
    for (unsigned i = 0; i < PROTO_PCR_COUNT; i++) {
        const uint8_t *want = i == IMA_PCR ? imabank.pcr[i] : bank.pcr[i];
        if (!(req->pcrs.mask & (1u << i)))
            return bg_err_set(err, -EBADMSG, "PCR %u missing from the evidence", i);
        if (CRYPTO_memcmp(want, req->pcrs.pcr[i], bank.digest_size) != 0) {
            char a[2 * TPMALG_MAX_DIGEST + 1], b[2 * TPMALG_MAX_DIGEST + 1];
            hex_encode(want, bank.digest_size, a);
            hex_encode(req->pcrs.pcr[i], bank.digest_size, b);
            (void)evidence_explain_add(expl, "PCR %u: %s log replays to %s, quoted value is %s", i,
                                       i == IMA_PCR ? "IMA" : "event", a, b);
            ok = false;
        }
    }
    if (!ok)
        return bg_err_set(err, -EBADMSG, "logs do not replay to the quoted PCRs");
    *ret_verdict = "ok";
    return 0;
}

/* TODO(policy merge): policy_parse + policy_evaluate + explain_denial from
 * src/lib/policy.h / explain.h. Fails closed until then. */
int evidence_policy_evaluate(const store_policy *policy, const proto_unlock_req *req,
                             bool *ret_pass, char *ret_mode, size_t mode_size,
                             evidence_explanation *expl, bg_err *err)
{
    *ret_pass = false;
    snprintf(ret_mode, mode_size, "enforce");
    return bg_err_set(err, -EOPNOTSUPP, "policy evaluation is not built in");
}

/* TODO(policy merge): policy_verify_signature against signers_dir. */
int evidence_policy_check_upload(const char *signers_dir, const char *json, const char *sig_b64,
                                 char *ret_name, size_t name_size, int64_t *ret_version,
                                 char *ret_signer, size_t signer_size, bg_err *err)
{
    return bg_err_set(err, -EOPNOTSUPP, "policy signature verification is not built in");
}

/* TODO(quote merge): credential_make from src/lib/credential.h. */
int evidence_make_credential(const uint8_t *ek_pub, size_t ek_pub_size, const uint8_t *ak_name,
                             size_t ak_name_size, const uint8_t *secret, size_t secret_size,
                             proto_bytes *ret_blob, proto_bytes *ret_encrypted_secret, bg_err *err)
{
    return bg_err_set(err, -EOPNOTSUPP, "MakeCredential is not built in");
}
