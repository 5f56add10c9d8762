/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "auditchain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

int auditchain_hash(const uint8_t prev[AUDITCHAIN_HASH_SIZE], const auditchain_record *rec,
                    uint8_t ret[AUDITCHAIN_HASH_SIZE], bg_err *err)
{
    json_object *a = json_object_new_array();
    const char *s;
    size_t len;
    int r = -ENOMEM;

    if (!a)
        return -ENOMEM;
    if (json_object_array_add(a, json_object_new_int64(rec->seq)) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->time ? rec->time : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->actor ? rec->actor : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->action ? rec->action : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->node ? rec->node : "")) < 0 ||
        json_object_array_add(a, json_object_new_string(rec->details ? rec->details : "")) < 0)
        goto out;
    s = json_object_to_json_string_length(
        a, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s)
        goto out;
    {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned n = 0;
        if (!md)
            goto out;
        if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, prev, AUDITCHAIN_HASH_SIZE) != 1 ||
            EVP_DigestUpdate(md, s, len) != 1 || EVP_DigestFinal_ex(md, ret, &n) != 1)
            r = bg_err_set(err, -EIO, "SHA-256 failed");
        else
            r = 0;
        EVP_MD_CTX_free(md);
    }
out:
    json_object_put(a);
    return r;
}

static char *head_message(int64_t seq, const char *hash_hex, size_t *ret_size)
{
    char *m = NULL;
    int n = asprintf(&m, "%s%lld\n%s", AUDITCHAIN_HEAD_CONTEXT, (long long)seq, hash_hex);
    if (n < 0)
        return NULL;
    *ret_size = (size_t)n;
    return m;
}

int auditchain_head_sign(EVP_PKEY *key, int64_t seq, const char *hash_hex,
                         uint8_t ret_sig[AUDITCHAIN_SIG_SIZE], bg_err *err)
{
    size_t n = 0, siglen = AUDITCHAIN_SIG_SIZE;
    char *m = head_message(seq, hash_hex, &n);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = 0;
    if (!m || !md)
        r = -ENOMEM;
    else if (EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
             EVP_DigestSign(md, ret_sig, &siglen, (const uint8_t *)m, n) != 1 ||
             siglen != AUDITCHAIN_SIG_SIZE)
        r = bg_err_set(err, -EIO, "Ed25519 signing of the audit head failed");
    EVP_MD_CTX_free(md);
    free(m);
    return r;
}

int auditchain_head_verify(EVP_PKEY *key, int64_t seq, const char *hash_hex, const uint8_t *sig,
                           size_t sig_size, bg_err *err)
{
    size_t n = 0;
    char *m = head_message(seq, hash_hex, &n);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int r = 0;
    if (!m || !md)
        r = -ENOMEM;
    else if (sig_size != AUDITCHAIN_SIG_SIZE ||
             EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) != 1 ||
             EVP_DigestVerify(md, sig, sig_size, (const uint8_t *)m, n) != 1)
        r = bg_err_set(err, -EBADMSG, "signature over head %lld does not verify", (long long)seq);
    EVP_MD_CTX_free(md);
    free(m);
    return r;
}

int auditchain_load_key(const char *path, bool private_key, EVP_PKEY **ret, bg_err *err)
{
    FILE *f = fopen(path, "re");
    EVP_PKEY *k;
    if (!f)
        return bg_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
                    : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        return bg_err_set(err, -EINVAL, "%s is not a PEM %s key", path,
                          private_key ? "private" : "public");
    if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return bg_err_set(err, -EINVAL, "%s is not an Ed25519 key", path);
    }
    *ret = k;
    return 0;
}
