/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Software MakeCredential. KDFa/KDFe are checked against OpenSSL's own
 * SP 800-108 (KBKDF) and SP 800-56A (SSKDF) implementations, and every
 * credential is opened again here with the EK private key the way
 * TPM2_ActivateCredential does (Part 1 §24), independent of the code under
 * test. The real-TPM check is tests/integration/credential_roundtrip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "credential.h"

static EVP_PKEY *rsa_ek_key, *ecc_ek_key;
static tpmpub *rsa_ek, *ecc_ek;

/* ---- reference KDFs from OpenSSL ---- */

static void ref_kdfa(const char *md, const uint8_t *key, size_t key_size, const char *label,
                     const uint8_t *ctx, size_t ctx_size, uint8_t *out, size_t out_size)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[7], *q = p;
    /* KBKDF counter mode: [i]32 || label || 00 || context || [L]32, which is
     * KDFa with the label's NUL as the separator. */
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, "HMAC", 0);
    *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_size);
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, strlen(label));
    if (ctx_size)
        *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ctx, ctx_size);
    *q = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(kctx, out, out_size, p), 1);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
}

static void ref_kdfe(const char *md, const uint8_t *z, size_t z_size, const uint8_t *info,
                     size_t info_size, uint8_t *out, size_t out_size)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSKDF", NULL);
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM p[4];
    /* SP 800-56A one-step KDF: H([i]32 || Z || FixedInfo) */
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_size);
    p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_size);
    p[3] = OSSL_PARAM_construct_end();
    assert_int_equal(EVP_KDF_derive(kctx, out, out_size, p), 1);
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
}

static void test_kdfa(void **state)
{
    static const struct {
        uint16_t alg;
        const char *md;
        const char *label;
        size_t ctx_u, ctx_v;
        uint32_t bits;
    } v[] = {
        {TPMALG_SHA256, "SHA256", "STORAGE", 34, 0, 128},
        {TPMALG_SHA256, "SHA256", "INTEGRITY", 0, 0, 256},
        {TPMALG_SHA256, "SHA256", "DUPLICATE", 16, 16, 520}, /* 3 blocks, partial last */
        {TPMALG_SHA1, "SHA1", "STORAGE", 22, 0, 128},
        {TPMALG_SHA384, "SHA384", "ATH", 48, 48, 384},
        {TPMALG_SHA512, "SHA512", "CFB", 8, 0, 1024},
    };
    uint8_t key[48], ctx[128], got[128], want[128];
    bg_err err = {0};

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < sizeof(ctx); i++)
        ctx[i] = (uint8_t)(0xF0 ^ i);
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = v[i].bits / 8;
        memset(got, 0, sizeof(got));
        assert_int_equal(credential_kdfa(v[i].alg, key, 32, v[i].label, v[i].ctx_u ? ctx : NULL,
                                         v[i].ctx_u, v[i].ctx_v ? ctx + v[i].ctx_u : NULL,
                                         v[i].ctx_v, v[i].bits, got, &err),
                         0);
        /* the label's NUL is the KBKDF separator; contexts are concatenated */
        ref_kdfa(v[i].md, key, 32, v[i].label, ctx, v[i].ctx_u + v[i].ctx_v, want, n);
        assert_memory_equal(got, want, n);
    }
    assert_int_equal(credential_kdfa(TPMALG_SHA256, key, 32, "X", NULL, 0, NULL, 0, 7, got, &err),
                     -EINVAL);
    assert_int_equal(credential_kdfa(0x0099, key, 32, "X", NULL, 0, NULL, 0, 8, got, &err),
                     -EOPNOTSUPP);
}

static void test_kdfe(void **state)
{
    uint8_t z[32], u[32], v[32], info[9 + 64], got[64], want[64];
    bg_err err = {0};

    for (int i = 0; i < 32; i++)
        z[i] = (uint8_t)i, u[i] = (uint8_t)(0x40 + i), v[i] = (uint8_t)(0x80 + i);
    memcpy(info, "IDENTITY", 9); /* with its NUL */
    memcpy(info + 9, u, 32);
    memcpy(info + 41, v, 32);
    assert_int_equal(
        credential_kdfe(TPMALG_SHA256, z, 32, "IDENTITY", u, 32, v, 32, 256, got, &err), 0);
    ref_kdfe("SHA256", z, 32, info, 73, want, 32);
    assert_memory_equal(got, want, 32);
    /* two blocks */
    assert_int_equal(
        credential_kdfe(TPMALG_SHA256, z, 32, "IDENTITY", u, 32, v, 32, 512, got, &err), 0);
    ref_kdfe("SHA256", z, 32, info, 73, want, 64);
    assert_memory_equal(got, want, 64);
}

/* ---- EKs ---- */

static void ek_template(TPMT_PUBLIC *pub, uint16_t type)
{
    memset(pub, 0, sizeof(*pub));
    /* TCG EK Credential Profile, template L-1 / L-2 */
    pub->type = type;
    pub->nameAlg = TPM2_ALG_SHA256;
    pub->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                            TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                            TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    pub->parameters.asymDetail.symmetric.algorithm = TPM2_ALG_AES;
    pub->parameters.asymDetail.symmetric.keyBits.aes = 128;
    pub->parameters.asymDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    pub->parameters.asymDetail.scheme.scheme = TPM2_ALG_NULL;
}

static int setup(void **state)
{
    TPMT_PUBLIC pub;
    BIGNUM *n = NULL;
    uint8_t pt[65];
    size_t len = 0;
    bg_err err = {0};

    rsa_ek_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    ecc_ek_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!rsa_ek_key || !ecc_ek_key)
        return -1;
    ek_template(&pub, TPM2_ALG_RSA);
    pub.parameters.rsaDetail.keyBits = 2048;
    if (!EVP_PKEY_get_bn_param(rsa_ek_key, OSSL_PKEY_PARAM_RSA_N, &n))
        return -1;
    pub.unique.rsa.size = 256;
    BN_bn2binpad(n, pub.unique.rsa.buffer, 256);
    BN_free(n);
    if (tpmpub_from_public(&pub, &rsa_ek, &err) < 0)
        return -1;
    ek_template(&pub, TPM2_ALG_ECC);
    pub.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    if (!EVP_PKEY_get_octet_string_param(ecc_ek_key, OSSL_PKEY_PARAM_PUB_KEY, pt, 65, &len))
        return -1;
    pub.unique.ecc.x.size = 32;
    memcpy(pub.unique.ecc.x.buffer, pt + 1, 32);
    pub.unique.ecc.y.size = 32;
    memcpy(pub.unique.ecc.y.buffer, pt + 33, 32);
    if (tpmpub_from_public(&pub, &ecc_ek, &err) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    tpmpub_free(rsa_ek);
    tpmpub_free(ecc_ek);
    EVP_PKEY_free(rsa_ek_key);
    EVP_PKEY_free(ecc_ek_key);
    return 0;
}

/* ---- ActivateCredential, re-implemented here ---- */

static int recover_seed(const tpmpub *ek, EVP_PKEY *priv, const TPM2B_ENCRYPTED_SECRET *enc,
                        uint8_t seed[32])
{
    if (ek->public.type == TPM2_ALG_RSA) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
        unsigned char *label = OPENSSL_memdup("IDENTITY", 9), plain[256];
        size_t len = sizeof(plain); /* OpenSSL wants room for a whole RSA block */
        int ok = ctx && EVP_PKEY_decrypt_init(ctx) > 0 &&
                 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
                 EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0 &&
                 EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 9) > 0 &&
                 EVP_PKEY_decrypt(ctx, plain, &len, enc->secret, enc->size) > 0 && len == 32;
        EVP_PKEY_CTX_free(ctx);
        if (ok)
            memcpy(seed, plain, 32);
        return ok ? 0 : -1;
    } else {
        TPMS_ECC_POINT q = {0};
        size_t off = 0, zlen = 32;
        uint8_t pt[65], z[32], info[9 + 64];
        OSSL_PARAM p[3];
        EVP_PKEY *eph = NULL;
        EVP_PKEY_CTX *fctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL), *dctx;
        if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(enc->secret, enc->size, &off, &q) != 0 ||
            off != enc->size || q.x.size != 32 || q.y.size != 32)
            return -1;
        pt[0] = 4;
        memcpy(pt + 1, q.x.buffer, 32);
        memcpy(pt + 33, q.y.buffer, 32);
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
        p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 65);
        p[2] = OSSL_PARAM_construct_end();
        assert_true(EVP_PKEY_fromdata_init(fctx) > 0);
        assert_true(EVP_PKEY_fromdata(fctx, &eph, EVP_PKEY_PUBLIC_KEY, p) > 0);
        dctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
        assert_true(EVP_PKEY_derive_init(dctx) > 0 && EVP_PKEY_derive_set_peer(dctx, eph) > 0 &&
                    EVP_PKEY_derive(dctx, z, &zlen) > 0);
        memcpy(info, "IDENTITY", 9);
        memcpy(info + 9, q.x.buffer, 32);
        memcpy(info + 41, ek->public.unique.ecc.x.buffer, 32);
        ref_kdfe("SHA256", z, 32, info, 73, seed, 32);
        EVP_PKEY_CTX_free(dctx);
        EVP_PKEY_CTX_free(fctx);
        EVP_PKEY_free(eph);
        return 0;
    }
}

/* Returns the credential size, or -1 when the integrity check fails. */
static int activate(const tpmpub *ek, EVP_PKEY *priv, const credential_blob *blob,
                    const uint8_t *name, size_t name_size, uint8_t *out)
{
    uint8_t seed[32], hkey[32], skey[16], mac[32], plain[128];
    const uint8_t *id = blob->id_object.credential;
    size_t idlen = blob->id_object.size, enclen;
    size_t maclen = 0;
    int outl = 0;

    if (recover_seed(ek, priv, &blob->encrypted_secret, seed) < 0)
        return -1;
    assert_true(idlen > 2 + 32);
    assert_int_equal(id[0] << 8 | id[1], 32);
    enclen = idlen - 34;
    ref_kdfa("SHA256", seed, 32, "INTEGRITY", NULL, 0, hkey, 32);
    {
        uint8_t buf[256];
        memcpy(buf, id + 34, enclen);
        memcpy(buf + enclen, name, name_size);
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hkey, 32, buf,
                                  enclen + name_size, mac, sizeof(mac), &maclen));
        assert_int_equal(maclen, 32);
    }
    if (CRYPTO_memcmp(mac, id + 2, 32) != 0)
        return -1;
    {
        uint8_t ctx_buf[66];
        memcpy(ctx_buf, name, name_size);
        ref_kdfa("SHA256", seed, 32, "STORAGE", ctx_buf, name_size, skey, 16);
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t iv[16] = {0};
    assert_true(EVP_DecryptInit_ex(c, EVP_aes_128_cfb128(), NULL, skey, iv));
    assert_true(EVP_DecryptUpdate(c, plain, &outl, id + 34, (int)enclen));
    EVP_CIPHER_CTX_free(c);
    assert_int_equal((size_t)outl, enclen);
    assert_int_equal((size_t)(plain[0] << 8 | plain[1]), enclen - 2);
    memcpy(out, plain + 2, enclen - 2);
    return (int)(enclen - 2);
}

static void roundtrip(const tpmpub *ek, EVP_PKEY *priv)
{
    uint8_t name[34], secret[32], got[64], other[34];
    credential_blob blob, back;
    uint8_t *file = NULL, *id = NULL, *sec = NULL;
    size_t file_size = 0, id_size = 0, sec_size = 0;
    bg_err err = {0};

    name[0] = 0x00, name[1] = 0x0b;
    for (int i = 2; i < 34; i++)
        name[i] = (uint8_t)(i * 3);
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(0x55 ^ i);
    for (size_t len = 1; len <= 32; len += 31) {
        assert_int_equal(credential_make(ek, name, 34, secret, len, &blob, &err), 0);
        assert_int_equal(activate(ek, priv, &blob, name, 34, got), (int)len);
        assert_memory_equal(got, secret, len);
        /* bound to the name: another name fails the outer HMAC */
        memcpy(other, name, 34);
        other[33] ^= 1;
        assert_int_equal(activate(ek, priv, &blob, other, 34, got), -1);
    }
    /* two credentials for the same input differ (fresh seed) */
    assert_int_equal(credential_make(ek, name, 34, secret, 32, &back, &err), 0);
    assert_memory_not_equal(back.encrypted_secret.secret, blob.encrypted_secret.secret,
                            blob.encrypted_secret.size < back.encrypted_secret.size
                                ? blob.encrypted_secret.size
                                : back.encrypted_secret.size);

    /* tpm2-tools file: BE 0xBADCC0DE, BE 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET */
    assert_int_equal(credential_to_tpm2_tools(&blob, &file, &file_size, &err), 0);
    assert_memory_equal(file, "\xba\xdc\xc0\xde\x00\x00\x00\x01", 8);
    assert_int_equal(file[8] << 8 | file[9], blob.id_object.size);
    assert_int_equal(file_size, 8 + 2 + blob.id_object.size + 2 + blob.encrypted_secret.size);
    assert_int_equal(credential_from_tpm2_tools(file, file_size, &back, &err), 0);
    assert_int_equal(back.id_object.size, blob.id_object.size);
    assert_memory_equal(back.id_object.credential, blob.id_object.credential, blob.id_object.size);
    assert_int_equal(back.encrypted_secret.size, blob.encrypted_secret.size);
    assert_int_equal(credential_from_tpm2_tools(file, file_size - 1, &back, &err), -EBADMSG);
    file[3] ^= 1;
    assert_int_equal(credential_from_tpm2_tools(file, file_size, &back, &err), -EBADMSG);
    free(file);

    assert_int_equal(credential_marshal(&blob, &id, &id_size, &sec, &sec_size, &err), 0);
    assert_int_equal(id_size, 2 + blob.id_object.size);
    assert_int_equal(sec_size, 2 + blob.encrypted_secret.size);
    free(id);
    free(sec);
}

static void test_rsa_roundtrip(void **state)
{
    roundtrip(rsa_ek, rsa_ek_key);
}

static void test_ecc_roundtrip(void **state)
{
    roundtrip(ecc_ek, ecc_ek_key);
}

static void test_refusals(void **state)
{
    uint8_t name[34] = {0x00, 0x0b}, secret[64] = {1};
    credential_blob blob;
    tpmpub pem = {.format = TPMPUB_FORMAT_PEM, .has_public = false};
    tpmpub ek = *rsa_ek;
    bg_err err = {0};

    assert_int_equal(credential_make(rsa_ek, name, 34, secret, 0, &blob, &err), -EINVAL);
    assert_int_equal(credential_make(rsa_ek, name, 34, secret, 33, &blob, &err), -EINVAL);
    assert_int_equal(credential_make(rsa_ek, name, 1, secret, 32, &blob, &err), -EINVAL);
    assert_int_equal(credential_make(&pem, name, 34, secret, 32, &blob, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "PEM"));
    ek.public.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CBC;
    assert_int_equal(credential_make(&ek, name, 34, secret, 32, &blob, &err), -EOPNOTSUPP);
    ek = *ecc_ek;
    ek.public.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
    assert_int_equal(credential_make(&ek, name, 34, secret, 32, &blob, &err), -EOPNOTSUPP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kdfa),          cmocka_unit_test(test_kdfe),
        cmocka_unit_test(test_rsa_roundtrip), cmocka_unit_test(test_ecc_roundtrip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
