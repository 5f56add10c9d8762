/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "evidence.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "credential.h"
#include "policy.h"
#include "quote.h"
#include "secmem.h"
#include "tpmpub.h"
#include "util.h"

/* Parsed TPM public areas by their exact bytes. Building the EVP_PKEY (and
 * checking an EC point) was a large part of an unlock, and a node sends the
 * same AK on every attempt (retries, polling while denied) and its stored EK
 * is the same on every release. The parse is a pure function of the bytes,
 * so an entry is used only when size and every byte match; failures are not
 * cached. Direct-mapped: a colliding key just replaces the slot. Callers get
 * their own copy (the EVP_PKEY is shared by reference and only read). */
#define TPMPUB_CACHE_SLOTS 64u

static struct {
    pthread_mutex_t lock;
    struct {
        uint8_t *bytes;
        size_t size;
        tpmpub *pub;
    } slot[TPMPUB_CACHE_SLOTS];
    uint64_t hits;
} tpmpub_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t tpmpub_cache_slot(const uint8_t *buf, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ buf[i]) * 0x100000001b3ull;
    return (size_t)(h % TPMPUB_CACHE_SLOTS);
}

static tpmpub *tpmpub_dup(const tpmpub *src)
{
    tpmpub *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    *c = *src;
    if (EVP_PKEY_up_ref(c->pkey) != 1) {
        free(c);
        return NULL;
    }
    return c;
}

static tpmpub *tpmpub_cache_get(const uint8_t *buf, size_t size)
{
    size_t i = tpmpub_cache_slot(buf, size);
    tpmpub *ret = NULL;
    pthread_mutex_lock(&tpmpub_cache.lock);
    if (tpmpub_cache.slot[i].pub && tpmpub_cache.slot[i].size == size &&
        memcmp(tpmpub_cache.slot[i].bytes, buf, size) == 0) {
        ret = tpmpub_dup(tpmpub_cache.slot[i].pub);
        if (ret)
            tpmpub_cache.hits++;
    }
    pthread_mutex_unlock(&tpmpub_cache.lock);
    return ret;
}

static void tpmpub_cache_put(const uint8_t *buf, size_t size, const tpmpub *pub)
{
    size_t i = tpmpub_cache_slot(buf, size);
    uint8_t *bytes = malloc(size);
    tpmpub *copy = tpmpub_dup(pub);
    if (!bytes || !copy) {
        free(bytes);
        tpmpub_free(copy);
        return;
    }
    memcpy(bytes, buf, size);
    pthread_mutex_lock(&tpmpub_cache.lock);
    free(tpmpub_cache.slot[i].bytes);
    tpmpub_free(tpmpub_cache.slot[i].pub);
    tpmpub_cache.slot[i].bytes = bytes;
    tpmpub_cache.slot[i].size = size;
    tpmpub_cache.slot[i].pub = copy;
    pthread_mutex_unlock(&tpmpub_cache.lock);
}

uint64_t evidence_tpmpub_cache_hits(void)
{
    uint64_t n;
    pthread_mutex_lock(&tpmpub_cache.lock);
    n = tpmpub_cache.hits;
    pthread_mutex_unlock(&tpmpub_cache.lock);
    return n;
}

void evidence_tpmpub_cache_clear(void)
{
    pthread_mutex_lock(&tpmpub_cache.lock);
    for (size_t i = 0; i < TPMPUB_CACHE_SLOTS; i++) {
        free(tpmpub_cache.slot[i].bytes);
        tpmpub_free(tpmpub_cache.slot[i].pub);
        tpmpub_cache.slot[i].bytes = NULL;
        tpmpub_cache.slot[i].pub = NULL;
        tpmpub_cache.slot[i].size = 0;
    }
    tpmpub_cache.hits = 0;
    pthread_mutex_unlock(&tpmpub_cache.lock);
}

/* The server takes TPM public areas only as TPM2B_PUBLIC (the wire format):
 * PEM has no attributes, and one accepted form keeps fingerprints stable. */
static int parse_tpm_public(const uint8_t *buf, size_t size, const char *what, tpmpub **ret,
                            bg_err *err)
{
    _cleanup_(tpmpub_freep) tpmpub *pub = NULL;
    bg_err sub = {0};
    int r;

    pub = tpmpub_cache_get(buf, size);
    if (pub) {
        *ret = TAKE_PTR(pub);
        return 0;
    }
    r = tpmpub_parse(buf, size, &pub, &sub);
    if (r < 0)
        return bg_err_set(err, r, "%s: %s", what, bg_err_msg(&sub));
    if (pub->format != TPMPUB_FORMAT_TPM2B_PUBLIC)
        return bg_err_set(err, -EBADMSG, "%s: must be a TPM2B_PUBLIC", what);
    tpmpub_cache_put(buf, size, pub);
    *ret = TAKE_PTR(pub);
    return 0;
}

int evidence_ek_fingerprint(const uint8_t *ek_pub, size_t size, char ret[65], bg_err *err)
{
    uint8_t md[32];
    unsigned mdlen = 0;
    /* TPM2B_PUBLIC = size(u16) | TPMT_PUBLIC; the fingerprint covers the
     * TPMT_PUBLIC, i.e. `tail -c +3 ek.pub | sha256sum` */
    if (size < 3 || (size_t)(ek_pub[0] << 8 | ek_pub[1]) != size - 2)
        return bg_err_set(err, -EBADMSG, "EK public: not a TPM2B_PUBLIC");
    if (EVP_Digest(ek_pub + 2, size - 2, md, &mdlen, EVP_sha256(), NULL) != 1)
        return bg_err_set(err, -EIO, "SHA-256 failed");
    hex_encode(md, sizeof(md), ret);
    return 0;
}

int evidence_ak_parse(const uint8_t *ak_pub, size_t size, tpmpub **ret_ak, bg_err *err)
{
    return parse_tpm_public(ak_pub, size, "AK public", ret_ak, err);
}

int evidence_ak_check(const uint8_t *ak_pub, size_t size, uint8_t *ret_name, size_t name_max,
                      size_t *ret_name_size, tpmpub **ret_ak, bg_verdict *ret_verdict, bg_err *err)
{
    _cleanup_(tpmpub_freep) tpmpub *ak = NULL;
    char reason[200] = "";
    tpmpub_ak_check c;
    int r;

    *ret_verdict = VERDICT_AK_MALFORMED;
    r = parse_tpm_public(ak_pub, size, "AK public", &ak, err);
    if (r < 0)
        return r;
    /* DESIGN §1 c: exactly the restricted signing attributes */
    c = tpmpub_check_ak(ak, reason, sizeof(reason));
    if (c != TPMPUB_AK_OK) {
        *ret_verdict = VERDICT_AK_REFUSED;
        return bg_err_set(err, -EPERM, "AK refused (%s): %s", tpmpub_ak_check_name(c), reason);
    }
    if (ak->name_size == 0 || ak->name_size > name_max)
        return bg_err_set(err, -EBADMSG, "AK has no usable name");
    memcpy(ret_name, ak->name, ak->name_size);
    *ret_name_size = ak->name_size;
    if (ret_ak)
        *ret_ak = TAKE_PTR(ak);
    *ret_verdict = VERDICT_OK;
    return 0;
}

int evidence_ek_check(const uint8_t *ek_pub, size_t size, bg_err *err)
{
    _cleanup_(tpmpub_freep) tpmpub *ek = NULL;
    int r = parse_tpm_public(ek_pub, size, "EK public", &ek, err);
    if (r < 0)
        return r;
    /* an EK decrypts and is restricted (TCG EK Credential Profile 2.3) */
    if (!(ek->public.objectAttributes & TPMA_OBJECT_DECRYPT) ||
        !(ek->public.objectAttributes & TPMA_OBJECT_RESTRICTED) ||
        !(ek->public.objectAttributes & TPMA_OBJECT_FIXEDTPM))
        return bg_err_set(err, -EBADMSG,
                          "EK public: not a restricted decryption key fixed to its TPM");
    return 0;
}

int evidence_ek_cert_check(X509_STORE *cas, const uint8_t *cert, size_t cert_size,
                           const uint8_t *ek_pub, size_t ek_pub_size, char *ret_subject,
                           size_t subject_size, bg_err *err)
{
    _cleanup_(tpmpub_freep) tpmpub *ek = NULL;
    const uint8_t *p = cert;
    X509 *x = NULL;
    X509_STORE_CTX *ctx = NULL;
    int r;

    if (!cas)
        return bg_err_set(err, -EPERM, "no EK CA bundle configured");
    r = parse_tpm_public(ek_pub, ek_pub_size, "EK public", &ek, err);
    if (r < 0)
        return r;
    if (cert_size > INT32_MAX || !(x = d2i_X509(NULL, &p, (long)cert_size)) ||
        p != cert + cert_size) {
        X509_free(x);
        return bg_err_set(err, -EBADMSG, "EK certificate is not one DER X.509 certificate");
    }
    ctx = X509_STORE_CTX_new();
    if (!ctx) {
        X509_free(x);
        return -ENOMEM;
    }
    X509_NAME_oneline(X509_get_subject_name(x), ret_subject, (int)subject_size);
    X509_STORE_CTX_init(ctx, cas, x, NULL);
    /* EK certificates carry TPM-specific extensions (TCG EK Credential
     * Profile 3.2: subjectAltName with TPM manufacturer attributes,
     * subjectDirectoryAttributes) that some vendors mark critical. The
     * chain, signatures and validity are what is checked here. */
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_IGNORE_CRITICAL);
    if (X509_verify_cert(ctx) != 1) {
        r = bg_err_set(err, -EPERM, "EK certificate does not chain to the EK CA bundle: %s",
                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    /* the certificate must certify this EK, not some other TPM's */
    if (EVP_PKEY_eq(X509_get0_pubkey(x), ek->pkey) != 1) {
        r = bg_err_set(err, -EPERM, "EK certificate is for another key");
        goto out;
    }
    r = 0;
out:
    X509_STORE_CTX_free(ctx);
    X509_free(x);
    return r;
}

/* The last verified stored policy. Parsing a policy and verifying its
 * signature against policy-signers.d (a directory scan and PEM loads) cost
 * more than evaluating it, and every unlock of a group uses the same
 * version. The entry is valid while the stored text, the signature and the
 * trust directory are unchanged: the key is a hash of the first two, and the
 * directory's mtime and ctime change when a key file is added, removed or
 * renamed over. A miss parses and verifies exactly as before. */
static struct {
    pthread_mutex_t lock;
    uint8_t key[32];
    struct timespec dir_mtime, dir_ctime;
    policy *p;
} policy_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void policy_cache_unlockp(pthread_mutex_t **m)
{
    if (*m)
        pthread_mutex_unlock(*m);
}

static int policy_cache_key(const char *signers_dir, const store_policy *stored, uint8_t ret[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned n = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, stored->json, strlen(stored->json) + 1) == 1 &&
             EVP_DigestUpdate(ctx, stored->signature, strlen(stored->signature) + 1) == 1 &&
             EVP_DigestUpdate(ctx, signers_dir, strlen(signers_dir) + 1) == 1 &&
             EVP_DigestFinal_ex(ctx, ret, &n) == 1 && n == 32;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -EIO;
}

static bool timespec_eq(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

void evidence_policy_cache_clear(void)
{
    pthread_mutex_lock(&policy_cache.lock);
    policy_free(policy_cache.p);
    policy_cache.p = NULL;
    pthread_mutex_unlock(&policy_cache.lock);
}

int evidence_policy_load(const char *signers_dir, const store_policy *stored, policy **ret,
                         bg_err *err)
{
    _cleanup_(policy_freep) policy *parsed = NULL;
    uint8_t sig[POLICY_SIG_SIZE];
    bg_err sub = {0};
    int r = policy_parse(stored->json, strlen(stored->json), &parsed, &sub);
    if (r < 0)
        return bg_err_set(err, r, "stored policy %s@%lld: %s", stored->name,
                          (long long)stored->version, bg_err_msg(&sub));
    r = policy_signature_decode((const uint8_t *)stored->signature, strlen(stored->signature), sig,
                                &sub);
    if (r >= 0)
        r = policy_verify_canonical(parsed->canonical, parsed->canonical_size, sig, signers_dir,
                                    NULL, &sub);
    if (r < 0)
        return bg_err_set(err, -EPERM, "stored policy %s@%lld is not signed by a trusted key: %s",
                          stored->name, (long long)stored->version, bg_err_msg(&sub));
    *ret = TAKE_PTR(parsed);
    return 0;
}

int evidence_policy_evaluate(const char *signers_dir, const store_policy *stored,
                             const evidence *ev, policy_result *ret, bg_verdict *ret_verdict,
                             bg_err *err)
{
    _cleanup_(policy_freep) policy *parsed = NULL;
    _cleanup_(policy_cache_unlockp) pthread_mutex_t *held = NULL;
    const policy *p;
    uint8_t key[32];
    struct stat st;
    bool cacheable;
    bg_err sub = {0};
    int r;

    memset(ret, 0, sizeof(*ret));
    *ret_verdict = VERDICT_POLICY_INVALID;
    cacheable = stat(signers_dir, &st) == 0 && policy_cache_key(signers_dir, stored, key) == 0;
    pthread_mutex_lock(&policy_cache.lock);
    held = &policy_cache.lock;
    if (cacheable && policy_cache.p && CRYPTO_memcmp(policy_cache.key, key, sizeof(key)) == 0 &&
        timespec_eq(policy_cache.dir_mtime, st.st_mtim) &&
        timespec_eq(policy_cache.dir_ctime, st.st_ctim))
        p = policy_cache.p;
    else {
        r = evidence_policy_load(signers_dir, stored, &parsed, err);
        if (r < 0)
            return r;
        p = parsed;
        if (cacheable) {
            policy_free(policy_cache.p);
            policy_cache.p = TAKE_PTR(parsed);
            memcpy(policy_cache.key, key, sizeof(key));
            policy_cache.dir_mtime = st.st_mtim;
            policy_cache.dir_ctime = st.st_ctim;
        }
    }
    r = policy_evaluate(p, ev, time(NULL), ret, &sub);
    if (r < 0) {
        *ret_verdict = VERDICT_INTERNAL;
        return bg_err_set(err, r, "policy evaluation: %s", bg_err_msg(&sub));
    }
    *ret_verdict = ret->code;
    return 0;
}

int evidence_policy_check_upload(const char *signers_dir, json_object *policy_json,
                                 const char *sig_b64, char **ret_canonical, char **ret_sig_b64,
                                 char *ret_name, size_t name_size, int64_t *ret_version,
                                 char *ret_signer, size_t signer_size, bg_err *err)
{
    _cleanup_(policy_freep) policy *p = NULL;
    uint8_t sig[POLICY_SIG_SIZE];
    policy_signer signer = {0};
    char *canonical, *enc;
    bg_err sub = {0};
    int r;

    if (json_object_is_type(policy_json, json_type_string))
        r = policy_parse(json_object_get_string(policy_json),
                         (size_t)json_object_get_string_len(policy_json), &p, &sub);
    else
        r = policy_from_json(policy_json, &p, &sub);
    if (r < 0)
        return bg_err_set(err, r, "policy: %s", bg_err_msg(&sub));
    r = policy_signature_decode((const uint8_t *)sig_b64, strlen(sig_b64), sig, &sub);
    if (r < 0)
        return bg_err_set(err, r, "signature: %s", bg_err_msg(&sub));
    r = policy_verify(p, sig, signers_dir, &signer, &sub);
    if (r < 0)
        return bg_err_set(err, -EPERM, "signature does not verify with any key in %s: %s",
                          signers_dir, bg_err_msg(&sub));
    r = policy_check_deployable(p, EVIDENCE_QUOTED_PCRS, time(NULL), &sub);
    if (r < 0)
        return bg_err_set(err, r, "%s", bg_err_msg(&sub));
    if (p->version > INT64_MAX)
        return bg_err_set(err, -EINVAL, "version too large");
    canonical = strdup(p->canonical);
    enc = policy_signature_encode(sig);
    if (!canonical || !enc) {
        free(canonical);
        free(enc);
        return -ENOMEM;
    }
    enc[strcspn(enc, "\n")] = '\0';
    snprintf(ret_name, name_size, "%s", p->name);
    snprintf(ret_signer, signer_size, "%s (%s)", signer.name, signer.fingerprint);
    *ret_version = (int64_t)p->version;
    *ret_canonical = canonical;
    *ret_sig_b64 = enc;
    return 0;
}

int evidence_make_credential(const uint8_t *ek_pub, size_t ek_pub_size, const uint8_t *ak_name,
                             size_t ak_name_size, const uint8_t *secret, size_t secret_size,
                             proto_bytes *ret_blob, proto_bytes *ret_encrypted_secret,
                             proto_bytes *ret_ek_name, bg_err *err)
{
    _cleanup_(tpmpub_freep) tpmpub *ek = NULL;
    credential_blob blob;
    bg_err sub = {0};
    int r = parse_tpm_public(ek_pub, ek_pub_size, "EK public", &ek, err);
    if (r < 0)
        return r;
    if (ret_ek_name) {
        if (!ek->has_public || ek->name_size == 0 || ek->name_size > PROTO_MAX_TPM_NAME)
            return bg_err_set(err, -EINVAL, "EK public: no TPM name");
        ret_ek_name->data = malloc(ek->name_size);
        if (!ret_ek_name->data)
            return bg_err_set(err, -ENOMEM, "out of memory");
        memcpy(ret_ek_name->data, ek->name, ek->name_size);
        ret_ek_name->size = ek->name_size;
    }
    r = credential_make(ek, ak_name, ak_name_size, secret, secret_size, &blob, &sub);
    if (r >= 0)
        r = credential_marshal(&blob, &ret_blob->data, &ret_blob->size, &ret_encrypted_secret->data,
                               &ret_encrypted_secret->size, &sub);
    secmem_wipe(&blob, sizeof(blob));
    if (r < 0)
        return bg_err_set(err, r, "MakeCredential: %s", bg_err_msg(&sub));
    return 0;
}
