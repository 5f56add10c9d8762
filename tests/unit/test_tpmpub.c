/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

#include "akpub.h"
#include "tpmpub.h"

static EVP_PKEY *ec_key;  /* P-256 */
static EVP_PKEY *ec384;   /* P-384 */
static EVP_PKEY *rsa_key; /* RSA-2048, e = 65537 */

static void rsa_public(EVP_PKEY *key, TPMT_PUBLIC *pub)
{
    BIGNUM *n = NULL;
    memset(pub, 0, sizeof(*pub));
    pub->type = TPM2_ALG_RSA;
    pub->nameAlg = TPM2_ALG_SHA256;
    pub->objectAttributes = AK_ATTRS;
    pub->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    pub->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    pub->parameters.rsaDetail.keyBits = 2048;
    pub->parameters.rsaDetail.exponent = 0; /* = 65537 */
    assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n));
    pub->unique.rsa.size = 256;
    assert_int_equal(BN_bn2binpad(n, pub->unique.rsa.buffer, 256), 256);
    BN_free(n);
}

static size_t marshal_tpm2b(const TPMT_PUBLIC *pub, uint8_t *buf, size_t size)
{
    TPM2B_PUBLIC b = {.publicArea = *pub};
    size_t off = 0;
    assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&b, buf, size, &off), TSS2_RC_SUCCESS);
    return off;
}

static int setup(void **state)
{
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    return ec_key && ec384 && rsa_key ? 0 : -1;
}

static int teardown(void **state)
{
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(ec384);
    EVP_PKEY_free(rsa_key);
    return 0;
}

static void test_parse_formats(void **state)
{
    TPMT_PUBLIC pub;
    uint8_t buf[sizeof(TPM2B_PUBLIC) + 8], expect_name[34];
    size_t n, off = 0;
    unsigned md_len = 0;
    tpmpub *p = NULL;
    bg_err err = {0};

    ec_public(ec_key, &pub, TPM2_ECC_NIST_P256, 32);
    n = marshal_tpm2b(&pub, buf, sizeof(buf));

    /* TPM2B_PUBLIC: the name is nameAlg || sha256(TPMT_PUBLIC bytes) */
    assert_int_equal(tpmpub_parse(buf, n, &p, &err), 0);
    assert_int_equal(p->format, TPMPUB_FORMAT_TPM2B_PUBLIC);
    assert_true(p->has_public);
    expect_name[0] = 0x00, expect_name[1] = 0x0b;
    assert_true(EVP_Digest(buf + 2, n - 2, expect_name + 2, &md_len, EVP_sha256(), NULL));
    assert_int_equal(p->name_size, 34);
    assert_memory_equal(p->name, expect_name, 34);
    assert_int_equal(EVP_PKEY_eq(p->pkey, ec_key), 1);
    tpmpub_free(p);

    /* bare TPMT_PUBLIC */
    assert_int_equal(tpmpub_parse(buf + 2, n - 2, &p, &err), 0);
    assert_int_equal(p->format, TPMPUB_FORMAT_TPMT_PUBLIC);
    assert_memory_equal(p->name, expect_name, 34);
    tpmpub_free(p);

    /* trailing byte, truncation, empty: refused */
    buf[n] = 0;
    assert_int_equal(tpmpub_parse(buf, n + 1, &p, &err), -EBADMSG);
    assert_int_equal(tpmpub_parse(buf, n - 1, &p, &err), -EBADMSG);
    assert_int_equal(tpmpub_parse(buf, 0, &p, &err), -EBADMSG);
    /* TPM2B size that disagrees with the buffer */
    buf[1] ^= 1;
    assert_int_equal(tpmpub_parse(buf, n, &p, &err), -EBADMSG);
    buf[1] ^= 1;

    /* PEM: key only, no TPM public area and no name */
    {
        BIO *bio = BIO_new(BIO_s_mem());
        char *pem;
        long len;
        assert_true(PEM_write_bio_PUBKEY(bio, rsa_key));
        len = BIO_get_mem_data(bio, &pem);
        assert_int_equal(tpmpub_parse((const uint8_t *)pem, (size_t)len, &p, &err), 0);
        assert_int_equal(p->format, TPMPUB_FORMAT_PEM);
        assert_false(p->has_public);
        assert_int_equal(p->name_size, 0);
        assert_int_equal(EVP_PKEY_eq(p->pkey, rsa_key), 1);
        assert_int_equal(tpmpub_check_ak(p, NULL, 0), TPMPUB_AK_NO_TPM_PUBLIC);
        tpmpub_free(p);
        /* trailing whitespace is fine, anything else is not */
        BIO_puts(bio, "\n \n");
        len = BIO_get_mem_data(bio, &pem);
        assert_int_equal(tpmpub_parse((const uint8_t *)pem, (size_t)len, &p, &err), 0);
        tpmpub_free(p);
        BIO_puts(bio, "x");
        len = BIO_get_mem_data(bio, &pem);
        assert_int_equal(tpmpub_parse((const uint8_t *)pem, (size_t)len, &p, &err), -EBADMSG);
        assert_int_equal(
            tpmpub_parse((const uint8_t *)"-----BEGIN PUBLIC KEY-----\nAAAA\n", 32, &p, &err),
            -EBADMSG);
        BIO_free(bio);
    }
    (void)off;
}

static void test_to_evp(void **state)
{
    TPMT_PUBLIC pub;
    EVP_PKEY *k = NULL;
    BIGNUM *e = NULL;
    bg_err err = {0};

    /* RSA exponent 0 means 65537 */
    rsa_public(rsa_key, &pub);
    assert_int_equal(tpmpub_to_evp(&pub, &k, &err), 0);
    assert_int_equal(EVP_PKEY_eq(k, rsa_key), 1);
    assert_true(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e));
    assert_true(BN_is_word(e, 65537));
    BN_free(e);
    EVP_PKEY_free(k);
    /* keyBits that disagree with the modulus */
    pub.parameters.rsaDetail.keyBits = 3072;
    assert_int_equal(tpmpub_to_evp(&pub, &k, &err), -EBADMSG);

    /* P-384 */
    ec_public(ec384, &pub, TPM2_ECC_NIST_P384, 48);
    assert_int_equal(tpmpub_to_evp(&pub, &k, &err), 0);
    assert_int_equal(EVP_PKEY_eq(k, ec384), 1);
    EVP_PKEY_free(k);

    /* a point off the curve */
    ec_public(ec_key, &pub, TPM2_ECC_NIST_P256, 32);
    pub.unique.ecc.y.buffer[31] ^= 1;
    assert_true(tpmpub_to_evp(&pub, &k, &err) < 0);
    ec_public(ec384, &pub, TPM2_ECC_NIST_P384, 48);
    pub.unique.ecc.x.buffer[47] ^= 1;
    assert_true(tpmpub_to_evp(&pub, &k, &err) < 0);
    /* (0, 0) is not on P-256 (b != 0) */
    ec_public(ec_key, &pub, TPM2_ECC_NIST_P256, 32);
    memset(pub.unique.ecc.x.buffer, 0, 32);
    memset(pub.unique.ecc.y.buffer, 0, 32);
    assert_true(tpmpub_to_evp(&pub, &k, &err) < 0);
    /* unknown curve, oversize coordinate, unknown type */
    ec_public(ec_key, &pub, TPM2_ECC_NIST_P256, 32);
    pub.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
    assert_int_equal(tpmpub_to_evp(&pub, &k, &err), -EOPNOTSUPP);
    ec_public(ec_key, &pub, TPM2_ECC_NIST_P256, 32);
    pub.unique.ecc.x.size = 33;
    assert_int_equal(tpmpub_to_evp(&pub, &k, &err), -EBADMSG);
    pub.type = TPM2_ALG_KEYEDHASH;
    assert_int_equal(tpmpub_to_evp(&pub, &k, &err), -EOPNOTSUPP);
}

static void test_check_ak(void **state)
{
    static const struct {
        const char *what;
        int rsa;
        TPMA_OBJECT set, clear;
        int field; /* 1 nameAlg, 2 curve, 3 scheme hash, 4 symmetric, 5 keyBits, 6 scheme */
        tpmpub_ak_check want;
    } cases[] = {
        {"ecc template", 0, 0, 0, 0, TPMPUB_AK_OK},
        {"rsa template", 1, 0, 0, 0, TPMPUB_AK_OK},
        {"noDA tolerated", 0, TPMA_OBJECT_NODA, 0, 0, TPMPUB_AK_OK},
        {"no restricted", 0, 0, TPMA_OBJECT_RESTRICTED, 0, TPMPUB_AK_NOT_RESTRICTED},
        {"no sign", 0, 0, TPMA_OBJECT_SIGN_ENCRYPT, 0, TPMPUB_AK_NOT_SIGN},
        {"no fixedTPM", 0, 0, TPMA_OBJECT_FIXEDTPM, 0, TPMPUB_AK_NOT_FIXED_TPM},
        {"no fixedParent", 1, 0, TPMA_OBJECT_FIXEDPARENT, 0, TPMPUB_AK_NOT_FIXED_PARENT},
        {"no sensitiveDataOrigin", 0, 0, TPMA_OBJECT_SENSITIVEDATAORIGIN, 0,
         TPMPUB_AK_NOT_SENSITIVE_DATA_ORIGIN},
        {"no userWithAuth", 0, 0, TPMA_OBJECT_USERWITHAUTH, 0, TPMPUB_AK_NOT_USER_WITH_AUTH},
        {"decrypt", 0, TPMA_OBJECT_DECRYPT, 0, 0, TPMPUB_AK_DECRYPT},
        {"adminWithPolicy", 1, TPMA_OBJECT_ADMINWITHPOLICY, 0, 0, TPMPUB_AK_ADMIN_WITH_POLICY},
        {"stClear", 0, TPMA_OBJECT_STCLEAR, 0, 0, TPMPUB_AK_EXTRA_ATTRIBUTES},
        {"encryptedDuplication", 0, TPMA_OBJECT_ENCRYPTEDDUPLICATION, 0, 0,
         TPMPUB_AK_EXTRA_ATTRIBUTES},
        {"reserved bit", 0, 0x00100000, 0, 0, TPMPUB_AK_EXTRA_ATTRIBUTES},
        {"nameAlg sha1", 0, 0, 0, 1, TPMPUB_AK_BAD_NAME_ALG},
        {"curve P-384", 0, 0, 0, 2, TPMPUB_AK_BAD_CURVE},
        {"scheme hash sha1", 0, 0, 0, 3, TPMPUB_AK_BAD_SCHEME},
        {"rsa scheme hash sha1", 1, 0, 0, 3, TPMPUB_AK_BAD_SCHEME},
        {"symmetric", 0, 0, 0, 4, TPMPUB_AK_SYMMETRIC},
        {"rsa symmetric", 1, 0, 0, 4, TPMPUB_AK_SYMMETRIC},
        {"rsa 1024", 1, 0, 0, 5, TPMPUB_AK_BAD_KEY_SIZE},
        {"rsa oaep scheme", 1, 0, 0, 6, TPMPUB_AK_BAD_SCHEME},
        {"ecc ecdh scheme", 0, 0, 0, 6, TPMPUB_AK_BAD_SCHEME},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tpmpub p = {.has_public = true, .format = TPMPUB_FORMAT_TPMT_PUBLIC};
        char reason[200];
        tpmpub_ak_check got;
        if (cases[i].rsa)
            rsa_public(rsa_key, &p.public);
        else
            ec_public(ec_key, &p.public, TPM2_ECC_NIST_P256, 32);
        p.public.objectAttributes |= cases[i].set;
        p.public.objectAttributes &= ~cases[i].clear;
        switch (cases[i].field) {
        case 1:
            p.public.nameAlg = TPM2_ALG_SHA1;
            break;
        case 2:
            p.public.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
            break;
        case 3:
            p.public.parameters.asymDetail.scheme.details.anySig.hashAlg = TPM2_ALG_SHA1;
            break;
        case 4:
            p.public.parameters.asymDetail.symmetric.algorithm = TPM2_ALG_AES;
            break;
        case 5:
            p.public.parameters.rsaDetail.keyBits = 1024;
            break;
        case 6:
            p.public.parameters.asymDetail.scheme.scheme =
                cases[i].rsa ? TPM2_ALG_OAEP : TPM2_ALG_ECDH;
            break;
        }
        got = tpmpub_check_ak(&p, reason, sizeof(reason));
        if (got != cases[i].want)
            fail_msg("%s: got %s (%s), want %s", cases[i].what, tpmpub_ak_check_name(got), reason,
                     tpmpub_ak_check_name(cases[i].want));
        if (got != TPMPUB_AK_OK)
            assert_true(strlen(reason) > 10);
    }
    assert_string_equal(tpmpub_ak_check_name(TPMPUB_AK_NOT_FIXED_TPM), "not-fixed-tpm");
    assert_string_equal(tpmpub_ak_check_name(_TPMPUB_AK_CHECK_MAX), "unknown");
}

static void test_marshal_roundtrip(void **state)
{
    TPMT_PUBLIC pub;
    uint8_t *buf = NULL;
    size_t n = 0;
    tpmpub *p = NULL, *q = NULL;
    bg_err err = {0};

    rsa_public(rsa_key, &pub);
    assert_int_equal(tpmpub_from_public(&pub, &p, &err), 0);
    assert_int_equal(tpmpub_marshal_tpm2b(&pub, &buf, &n, &err), 0);
    assert_int_equal(tpmpub_parse(buf, n, &q, &err), 0);
    assert_int_equal(p->name_size, q->name_size);
    assert_memory_equal(p->name, q->name, p->name_size);
    /* a different key has a different name */
    pub.unique.rsa.buffer[100] ^= 1;
    tpmpub_free(q);
    q = NULL;
    free(buf);
    assert_int_equal(tpmpub_marshal_tpm2b(&pub, &buf, &n, &err), 0);
    assert_int_equal(tpmpub_parse(buf, n, &q, &err), 0);
    assert_memory_not_equal(p->name, q->name, p->name_size);
    tpmpub_free(p);
    tpmpub_free(q);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_formats),
        cmocka_unit_test(test_to_evp),
        cmocka_unit_test(test_check_ak),
        cmocka_unit_test(test_marshal_roundtrip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
