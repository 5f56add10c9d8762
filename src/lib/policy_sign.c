/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ed25519 signatures over a policy's canonical bytes (see policy.h). */
#include "policy.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "util.h"

#define KEY_FILE_MAX (64u << 10)

static void pkey_freep(EVP_PKEY **k)
{
    EVP_PKEY_free(*k);
}
static void md_ctx_freep(EVP_MD_CTX **c)
{
    EVP_MD_CTX_free(*c);
}
static void bio_freep(BIO **b)
{
    BIO_free(*b);
}

/* POLICY_SIG_CONTEXT || canonical: the message Ed25519 signs. */
static int signed_message(const char *canonical, size_t size, uint8_t **ret, size_t *ret_size)
{
    size_t clen = strlen(POLICY_SIG_CONTEXT), n;
    if (__builtin_add_overflow(clen, size, &n))
        return -EOVERFLOW;
    uint8_t *m = malloc(n ? n : 1);
    if (!m)
        return -ENOMEM;
    memcpy(m, POLICY_SIG_CONTEXT, clen);
    memcpy(m + clen, canonical, size);
    *ret = m;
    *ret_size = n;
    return 0;
}

static int load_key(const char *path, bool private, EVP_PKEY **ret, bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    _cleanup_(bio_freep) BIO *bio = NULL;
    size_t size;
    int r = read_file(path, KEY_FILE_MAX, &buf, &size, err);
    if (r < 0)
        return r;
    if (size > INT32_MAX || !(bio = BIO_new_mem_buf(buf, (int)size)))
        return bg_err_set(err, -ENOMEM, "out of memory");
    EVP_PKEY *k = private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                          : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    OPENSSL_cleanse(buf, size);
    if (!k)
        return bg_err_set(err, -EBADMSG, "%s: not a PEM %s key", path,
                          private ? "private" : "public");
    if (!EVP_PKEY_is_a(k, "ED25519")) {
        EVP_PKEY_free(k);
        return bg_err_set(err, -EBADMSG, "%s: not an Ed25519 key", path);
    }
    *ret = k;
    return 0;
}

int policy_sign(const policy *p, const char *key_path, uint8_t ret_sig[POLICY_SIG_SIZE],
                bg_err *err)
{
    _cleanup_(pkey_freep) EVP_PKEY *key = NULL;
    _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = NULL;
    _cleanup_(freep) uint8_t *msg = NULL;
    size_t msg_size, sig_size = POLICY_SIG_SIZE;
    int r = load_key(key_path, true, &key, err);
    if (r < 0)
        return r;
    if ((r = signed_message(p->canonical, p->canonical_size, &msg, &msg_size)) < 0)
        return bg_err_set(err, r, "out of memory");
    if (!(ctx = EVP_MD_CTX_new()) || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
        EVP_DigestSign(ctx, ret_sig, &sig_size, msg, msg_size) != 1 || sig_size != POLICY_SIG_SIZE)
        return bg_err_set(err, -EIO, "Ed25519 signing failed");
    return 0;
}

int policy_signature_decode(const uint8_t *buf, size_t size, uint8_t ret_sig[POLICY_SIG_SIZE],
                            bg_err *err)
{
    if (size == POLICY_SIG_SIZE) {
        memcpy(ret_sig, buf, POLICY_SIG_SIZE);
        return 0;
    }
    /* base64 text, surrounding whitespace ignored */
    char text[128];
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        if (strchr(" \t\r\n", buf[i]) && buf[i])
            continue;
        if (n + 1 >= sizeof text)
            return bg_err_set(err, -EBADMSG, "signature: not 64 bytes of base64");
        text[n++] = (char)buf[i];
    }
    text[n] = 0;
    _cleanup_(freep) uint8_t *raw = NULL;
    size_t raw_size;
    if (base64_decode_alloc(text, &raw, &raw_size, NULL) < 0 || raw_size != POLICY_SIG_SIZE)
        return bg_err_set(err, -EBADMSG, "signature: not 64 bytes of base64");
    memcpy(ret_sig, raw, POLICY_SIG_SIZE);
    return 0;
}

int policy_signature_read(const char *path, uint8_t ret_sig[POLICY_SIG_SIZE], bg_err *err)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size;
    int r = read_file(path, 4096, &buf, &size, err);
    if (r < 0)
        return r;
    r = policy_signature_decode(buf, size, ret_sig, err);
    return r < 0 ? bg_err_prefix(err, r, "%s", path) : 0;
}

char *policy_signature_encode(const uint8_t sig[POLICY_SIG_SIZE])
{
    _cleanup_(freep) char *b = base64_encode_alloc(sig, POLICY_SIG_SIZE);
    if (!b)
        return NULL;
    size_t n = strlen(b);
    char *s = malloc(n + 2);
    if (!s)
        return NULL;
    memcpy(s, b, n);
    s[n] = '\n';
    s[n + 1] = 0;
    return s;
}

static int pub_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && !strcmp(d->d_name + n - 4, ".pub");
}

static int verify_one(EVP_PKEY *key, const uint8_t *msg, size_t msg_size,
                      const uint8_t sig[POLICY_SIG_SIZE])
{
    _cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1)
        return -EIO;
    return EVP_DigestVerify(ctx, sig, POLICY_SIG_SIZE, msg, msg_size) == 1 ? 0 : -EPERM;
}

int policy_verify_canonical(const char *canonical, size_t size, const uint8_t sig[POLICY_SIG_SIZE],
                            const char *signers_dir, policy_signer *ret_signer, bg_err *err)
{
    _cleanup_(freep) uint8_t *msg = NULL;
    struct dirent **names = NULL;
    size_t msg_size;
    int r = signed_message(canonical, size, &msg, &msg_size);
    if (r < 0)
        return bg_err_set(err, r, "out of memory");
    int n = scandir(signers_dir, &names, pub_filter, alphasort);
    if (n < 0)
        return bg_err_set(err, -errno, "%s: %m", signers_dir);
    int result = bg_err_set(err, -ENOENT, "%s: no *.pub signer keys", signers_dir);
    if (n > (int)POLICY_MAX_SIGNERS)
        result = bg_err_set(err, -E2BIG, "%s: more than %u signer keys", signers_dir,
                            POLICY_MAX_SIGNERS);
    for (int i = 0; i < n && result != -E2BIG; i++) {
        char path[4096];
        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;
        bg_err kerr = {{0}};
        snprintf(path, sizeof path, "%s/%s", signers_dir, names[i]->d_name);
        if (load_key(path, false, &key, &kerr) < 0) {
            /* A broken trust file is an operator error worth reporting, but
             * it must not hide a valid signature by another key. */
            if (result == -ENOENT)
                result = bg_err_set(err, -EPERM, "%s", bg_err_msg(&kerr));
            continue;
        }
        r = verify_one(key, msg, msg_size, sig);
        if (r == 0) {
            if (ret_signer) {
                uint8_t raw[32], fp[32];
                size_t raw_len = sizeof raw;
                memset(ret_signer, 0, sizeof *ret_signer);
                size_t nl = strlen(names[i]->d_name) - 4;
                if (nl >= sizeof ret_signer->name)
                    nl = sizeof ret_signer->name - 1;
                memcpy(ret_signer->name, names[i]->d_name, nl);
                if (EVP_PKEY_get_raw_public_key(key, raw, &raw_len) == 1 &&
                    EVP_Digest(raw, raw_len, fp, NULL, EVP_sha256(), NULL) == 1)
                    hex_encode(fp, sizeof fp, ret_signer->fingerprint);
            }
            result = 0;
            break;
        }
        if (r != -EPERM) {
            result = bg_err_set(err, r, "Ed25519 verification failed to run");
            break;
        }
        if (result == -ENOENT)
            result = -EPERM;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (result == -EPERM)
        return bg_err_set(err, -EPERM,
                          "signature does not verify with any trusted signer key in %s",
                          signers_dir);
    return result;
}

int policy_verify(const policy *p, const uint8_t sig[POLICY_SIG_SIZE], const char *signers_dir,
                  policy_signer *ret_signer, bg_err *err)
{
    return policy_verify_canonical(p->canonical, p->canonical_size, sig, signers_dir, ret_signer,
                                   err);
}

int policy_check_upload(const char *json, size_t size, const char *sig_b64, const char *signers_dir,
                        policy **ret, policy_signer *ret_signer, bg_err *err)
{
    _cleanup_(policy_freep) policy *p = NULL;
    uint8_t sig[POLICY_SIG_SIZE];
    int r = policy_parse(json, size, &p, err);
    if (r < 0)
        return r;
    if (!sig_b64 ||
        (r = policy_signature_decode((const uint8_t *)sig_b64, strlen(sig_b64), sig, err)) < 0)
        return bg_err_set(err, -EBADMSG, "signature: not 64 bytes of base64");
    if ((r = policy_verify(p, sig, signers_dir, ret_signer, err)) < 0)
        return r;
    if (ret)
        *ret = TAKE_PTR(p);
    return 0;
}
