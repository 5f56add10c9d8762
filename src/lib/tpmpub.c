/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tpmpub.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free)

void tpmpub_free(tpmpub *pub)
{
    if (!pub)
        return;
    EVP_PKEY_free(pub->pkey);
    free(pub);
}

int tpmpub_compute_name(const TPMT_PUBLIC *pub, uint8_t *ret_name, size_t *ret_size, bg_err *err)
{
    uint8_t buf[sizeof(TPMT_PUBLIC)];
    size_t off = 0;
    unsigned md_len = 0;
    const tpmalg *alg = tpmalg_by_id(pub->nameAlg);
    const EVP_MD *md = tpmalg_md(pub->nameAlg);

    if (!alg || !md)
        return bg_err_set(err, -EOPNOTSUPP, "nameAlg 0x%04x is not a supported hash", pub->nameAlg);
    TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(buf), &off);
    if (rc != TSS2_RC_SUCCESS)
        return bg_err_set(err, -EINVAL, "cannot marshal TPMT_PUBLIC (tss2 rc 0x%x)", rc);
    /* TPM 2.0 Part 1 §16: Name = nameAlg || H_nameAlg(publicArea) */
    ret_name[0] = (uint8_t)(pub->nameAlg >> 8);
    ret_name[1] = (uint8_t)pub->nameAlg;
    if (!EVP_Digest(buf, off, ret_name + 2, &md_len, md, NULL) || md_len != alg->size)
        return bg_err_set(err, -EIO, "cannot hash the public area");
    *ret_size = 2 + alg->size;
    return 0;
}

static int evp_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret, bg_err *err)
{
    _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (!params || !ctx)
        return bg_err_set(err, -ENOMEM, "out of memory building the %s key", type);
    if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        return bg_err_set(err, -EBADMSG, "the %s public key is not valid (OpenSSL refused it)",
                          type);
    *ret = pkey;
    return 0;
}

static int rsa_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, bg_err *err)
{
    const TPM2B_PUBLIC_KEY_RSA *n = &pub->unique.rsa;
    uint32_t exponent = pub->parameters.rsaDetail.exponent;
    _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    _cleanup_(BN_freep) BIGNUM *bn_n = NULL;
    _cleanup_(BN_freep) BIGNUM *bn_e = NULL;

    if (n->size == 0 || n->size > sizeof(n->buffer))
        return bg_err_set(err, -EBADMSG, "RSA modulus is empty");
    /* keyBits and the modulus must agree, else the name commits to one key
     * and OpenSSL verifies with another size. */
    if ((uint32_t)n->size * 8 != pub->parameters.rsaDetail.keyBits)
        return bg_err_set(err, -EBADMSG, "RSA modulus has %u bytes but keyBits is %u", n->size,
                          pub->parameters.rsaDetail.keyBits);
    if (n->buffer[0] == 0)
        return bg_err_set(err, -EBADMSG, "RSA modulus has a leading zero byte");
    /* TPM 2.0 Part 2 §12.2.3.5: exponent 0 means the default 2^16 + 1. */
    if (exponent == 0)
        exponent = 65537;
    bn_n = BN_bin2bn(n->buffer, n->size, NULL);
    bn_e = BN_new();
    if (!bld || !bn_n || !bn_e || !BN_set_word(bn_e, exponent) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
        return bg_err_set(err, -ENOMEM, "out of memory building the RSA key");
    return evp_from_params("RSA", bld, ret, err);
}

static int ecc_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, bg_err *err)
{
    const TPMS_ECC_POINT *q = &pub->unique.ecc;
    const char *group;
    size_t field;
    uint8_t point[1 + 2 * 66];
    _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *check = NULL;
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
    int r;

    switch (pub->parameters.eccDetail.curveID) {
    case TPM2_ECC_NIST_P256:
        group = "P-256", field = 32;
        break;
    case TPM2_ECC_NIST_P384:
        group = "P-384", field = 48;
        break;
    default:
        return bg_err_set(err, -EOPNOTSUPP, "ECC curve 0x%04x is not supported",
                          pub->parameters.eccDetail.curveID);
    }
    if (q->x.size > field || q->y.size > field || q->x.size == 0 || q->y.size == 0)
        return bg_err_set(err, -EBADMSG, "ECC point coordinates have %u/%u bytes, curve %s",
                          q->x.size, q->y.size, group);
    /* Uncompressed SEC1 point; TPM2B coordinates may be shorter than the
     * field (leading zeros dropped), so right-align them. */
    memset(point, 0, sizeof(point));
    point[0] = 0x04;
    memcpy(point + 1 + field - q->x.size, q->x.buffer, q->x.size);
    memcpy(point + 1 + 2 * field - q->y.size, q->y.buffer, q->y.size);
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * field))
        return bg_err_set(err, -ENOMEM, "out of memory building the EC key");
    r = evp_from_params("EC", bld, &pkey, err);
    if (r < 0)
        return r;
    /* The point must be on the curve (invalid-curve attacks on ECDH/ECDSA).
     * The quick check tests exactly that (coordinates in range, not the
     * point at infinity, on the curve); the full check adds n*Q == O, which
     * P-256 and P-384 (cofactor 1, SEC 2 2.4.2/2.5.1) imply for any point
     * on the curve, at the cost of a scalar multiplication per key. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!check || EVP_PKEY_public_check_quick(check) <= 0)
        return bg_err_set(err, -EBADMSG, "ECC point is not on curve %s", group);
    *ret = TAKE_PTR(pkey);
    return 0;
}

int tpmpub_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, bg_err *err)
{
    switch (pub->type) {
    case TPM2_ALG_RSA:
        return rsa_to_evp(pub, ret, err);
    case TPM2_ALG_ECC:
        return ecc_to_evp(pub, ret, err);
    default:
        return bg_err_set(err, -EOPNOTSUPP, "key type 0x%04x is neither RSA nor ECC", pub->type);
    }
}

int tpmpub_marshal_tpm2b(const TPMT_PUBLIC *pub, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    TPM2B_PUBLIC b = {.publicArea = *pub};
    _cleanup_(freep) uint8_t *buf = malloc(sizeof(TPM2B_PUBLIC));
    size_t off = 0;

    if (!buf)
        return bg_err_set(err, -ENOMEM, "out of memory");
    TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&b, buf, sizeof(TPM2B_PUBLIC), &off);
    if (rc != TSS2_RC_SUCCESS)
        return bg_err_set(err, -EINVAL, "cannot marshal TPM2B_PUBLIC (tss2 rc 0x%x)", rc);
    *ret = TAKE_PTR(buf);
    *ret_size = off;
    return 0;
}

int tpmpub_from_public(const TPMT_PUBLIC *public, tpmpub **ret, bg_err *err)
{
    _cleanup_(tpmpub_freep) tpmpub *pub = calloc(1, sizeof(*pub));
    int r;

    if (!pub)
        return bg_err_set(err, -ENOMEM, "out of memory");
    pub->format = TPMPUB_FORMAT_TPMT_PUBLIC;
    pub->has_public = true;
    pub->public = *public;
    r = tpmpub_compute_name(public, pub->name, &pub->name_size, err);
    if (r < 0)
        return r;
    r = tpmpub_to_evp(public, &pub->pkey, err);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(pub);
    return 0;
}

static bool looks_like_pem(const uint8_t *buf, size_t size)
{
    static const char tag[] = "-----BEGIN ";
    /* Skip leading whitespace only; anything else is binary. */
    while (size > 0 && (*buf == ' ' || *buf == '\n' || *buf == '\r' || *buf == '\t'))
        buf++, size--;
    return size >= sizeof(tag) - 1 && !memcmp(buf, tag, sizeof(tag) - 1);
}

static int parse_pem(const uint8_t *buf, size_t size, tpmpub **ret, bg_err *err)
{
    _cleanup_(BIO_freep) BIO *bio = BIO_new_mem_buf(buf, (int)size);
    _cleanup_(tpmpub_freep) tpmpub *pub = calloc(1, sizeof(*pub));
    int id;

    if (!bio || !pub)
        return bg_err_set(err, -ENOMEM, "out of memory");
    pub->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (!pub->pkey)
        return bg_err_set(err, -EBADMSG, "PEM input is not a SubjectPublicKeyInfo public key");
    /* One key, nothing after it but whitespace. */
    for (;;) {
        char ch;
        if (BIO_read(bio, &ch, 1) != 1)
            break;
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t')
            return bg_err_set(err, -EBADMSG, "data after the PEM public key");
    }
    id = EVP_PKEY_get_base_id(pub->pkey);
    if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC)
        return bg_err_set(err, -EOPNOTSUPP, "PEM public key is neither RSA nor EC");
    pub->format = TPMPUB_FORMAT_PEM;
    pub->has_public = false;
    *ret = TAKE_PTR(pub);
    return 0;
}

int tpmpub_parse(const uint8_t *buf, size_t size, tpmpub **ret, bg_err *err)
{
    TPM2B_PUBLIC b = {0};
    TPMT_PUBLIC t = {0};
    size_t off = 0;
    tpmpub *pub = NULL;
    int r;

    if (size == 0)
        return bg_err_set(err, -EBADMSG, "public key is empty");
    if (size > TPMPUB_MAX_SIZE)
        return bg_err_set(err, -EBADMSG, "public key is %zu bytes, more than %u", size,
                          TPMPUB_MAX_SIZE);
    if (looks_like_pem(buf, size))
        return parse_pem(buf, size, ret, err);

    /* TPM2B_PUBLIC: u16 size that must cover exactly the rest. */
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, size, &off, &b) == TSS2_RC_SUCCESS && off == size &&
        size >= 2 && (size_t)b.size == size - 2) {
        r = tpmpub_from_public(&b.publicArea, &pub, err);
        if (r < 0)
            return bg_err_prefix(err, r, "TPM2B_PUBLIC");
        pub->format = TPMPUB_FORMAT_TPM2B_PUBLIC;
        *ret = pub;
        return 0;
    }
    off = 0;
    TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(buf, size, &off, &t);
    if (rc == TSS2_RC_SUCCESS && off == size) {
        r = tpmpub_from_public(&t, &pub, err);
        if (r < 0)
            return bg_err_prefix(err, r, "TPMT_PUBLIC");
        *ret = pub;
        return 0;
    }
    if (rc == TSS2_RC_SUCCESS)
        return bg_err_set(err, -EBADMSG, "offset %zu: %zu trailing bytes after TPMT_PUBLIC", off,
                          size - off);
    return bg_err_set(err, -EBADMSG,
                      "input is neither TPM2B_PUBLIC, TPMT_PUBLIC nor PEM (tss2 rc 0x%x)", rc);
}

/* Attributes DESIGN.md §1 requires of the AK, and the one it tolerates. */
#define AK_REQUIRED                                                                                \
    (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |                    \
     TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH)
#define AK_TOLERATED TPMA_OBJECT_NODA

static const char *const ak_check_names[_TPMPUB_AK_CHECK_MAX] = {
    [TPMPUB_AK_OK] = "ok",
    [TPMPUB_AK_NO_TPM_PUBLIC] = "no-tpm-public",
    [TPMPUB_AK_BAD_TYPE] = "bad-type",
    [TPMPUB_AK_BAD_NAME_ALG] = "bad-name-alg",
    [TPMPUB_AK_NOT_RESTRICTED] = "not-restricted",
    [TPMPUB_AK_NOT_SIGN] = "not-sign",
    [TPMPUB_AK_NOT_FIXED_TPM] = "not-fixed-tpm",
    [TPMPUB_AK_NOT_FIXED_PARENT] = "not-fixed-parent",
    [TPMPUB_AK_NOT_SENSITIVE_DATA_ORIGIN] = "not-sensitive-data-origin",
    [TPMPUB_AK_NOT_USER_WITH_AUTH] = "not-user-with-auth",
    [TPMPUB_AK_DECRYPT] = "decrypt",
    [TPMPUB_AK_ADMIN_WITH_POLICY] = "admin-with-policy",
    [TPMPUB_AK_EXTRA_ATTRIBUTES] = "extra-attributes",
    [TPMPUB_AK_BAD_CURVE] = "bad-curve",
    [TPMPUB_AK_BAD_KEY_SIZE] = "bad-key-size",
    [TPMPUB_AK_SYMMETRIC] = "symmetric",
    [TPMPUB_AK_BAD_SCHEME] = "bad-scheme",
};

const char *tpmpub_ak_check_name(tpmpub_ak_check c)
{
    if ((unsigned)c >= _TPMPUB_AK_CHECK_MAX)
        return "unknown";
    return ak_check_names[c];
}

static tpmpub_ak_check ak_refuse(tpmpub_ak_check c, char *reason, size_t reason_size,
                                 const char *fmt, ...) _printf_(4, 5);
static tpmpub_ak_check ak_refuse(tpmpub_ak_check c, char *reason, size_t reason_size,
                                 const char *fmt, ...)
{
    if (reason && reason_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, reason_size, fmt, ap);
        va_end(ap);
    }
    return c;
}

static bool sign_hash_ok(uint16_t hash)
{
    return hash == TPM2_ALG_SHA256 || hash == TPM2_ALG_SHA384;
}

tpmpub_ak_check tpmpub_check_ak(const tpmpub *pub, char *reason, size_t reason_size)
{
    static const struct {
        TPMA_OBJECT bit;
        tpmpub_ak_check verdict;
        const char *name;
    } required[] = {
        {TPMA_OBJECT_RESTRICTED, TPMPUB_AK_NOT_RESTRICTED, "restricted"},
        {TPMA_OBJECT_SIGN_ENCRYPT, TPMPUB_AK_NOT_SIGN, "sign"},
        {TPMA_OBJECT_FIXEDTPM, TPMPUB_AK_NOT_FIXED_TPM, "fixedTPM"},
        {TPMA_OBJECT_FIXEDPARENT, TPMPUB_AK_NOT_FIXED_PARENT, "fixedParent"},
        {TPMA_OBJECT_SENSITIVEDATAORIGIN, TPMPUB_AK_NOT_SENSITIVE_DATA_ORIGIN,
         "sensitiveDataOrigin"},
        {TPMA_OBJECT_USERWITHAUTH, TPMPUB_AK_NOT_USER_WITH_AUTH, "userWithAuth"},
    };
    const TPMT_PUBLIC *p;
    TPMA_OBJECT attrs;

    if (!pub || !pub->has_public)
        return ak_refuse(TPMPUB_AK_NO_TPM_PUBLIC, reason, reason_size,
                         "AK public key has no TPM public area (PEM): its attributes and name "
                         "cannot be checked");
    p = &pub->public;
    attrs = p->objectAttributes;
    if (p->type != TPM2_ALG_ECC && p->type != TPM2_ALG_RSA)
        return ak_refuse(TPMPUB_AK_BAD_TYPE, reason, reason_size,
                         "AK type 0x%04x is neither ECC nor RSA", p->type);
    if (p->nameAlg != TPM2_ALG_SHA256)
        return ak_refuse(TPMPUB_AK_BAD_NAME_ALG, reason, reason_size,
                         "AK nameAlg 0x%04x is not sha256", p->nameAlg);
    for (size_t i = 0; i < ELEMENTSOF(required); i++)
        if (!(attrs & required[i].bit))
            return ak_refuse(required[i].verdict, reason, reason_size,
                             "AK objectAttributes 0x%08x lack %s", attrs, required[i].name);
    if (attrs & TPMA_OBJECT_DECRYPT)
        return ak_refuse(TPMPUB_AK_DECRYPT, reason, reason_size,
                         "AK objectAttributes 0x%08x include decrypt", attrs);
    /* adminWithPolicy clear is what makes ActivateCredential's ADMIN role
     * need the AK's authValue, i.e. the TPM itself (DESIGN.md §1). */
    if (attrs & TPMA_OBJECT_ADMINWITHPOLICY)
        return ak_refuse(TPMPUB_AK_ADMIN_WITH_POLICY, reason, reason_size,
                         "AK objectAttributes 0x%08x include adminWithPolicy", attrs);
    if (attrs & ~(TPMA_OBJECT)(AK_REQUIRED | AK_TOLERATED))
        return ak_refuse(TPMPUB_AK_EXTRA_ATTRIBUTES, reason, reason_size,
                         "AK objectAttributes 0x%08x have bits 0x%08x beyond the AK template",
                         attrs, attrs & ~(TPMA_OBJECT)(AK_REQUIRED | AK_TOLERATED));

    if (p->type == TPM2_ALG_ECC) {
        const TPMS_ECC_PARMS *e = &p->parameters.eccDetail;
        if (e->curveID != TPM2_ECC_NIST_P256)
            return ak_refuse(TPMPUB_AK_BAD_CURVE, reason, reason_size,
                             "AK curve 0x%04x is not NIST P-256", e->curveID);
        if (e->symmetric.algorithm != TPM2_ALG_NULL)
            return ak_refuse(TPMPUB_AK_SYMMETRIC, reason, reason_size,
                             "AK has a symmetric algorithm 0x%04x", e->symmetric.algorithm);
        if (e->kdf.scheme != TPM2_ALG_NULL)
            return ak_refuse(TPMPUB_AK_BAD_SCHEME, reason, reason_size,
                             "AK has a KDF scheme 0x%04x", e->kdf.scheme);
        if (e->scheme.scheme != TPM2_ALG_NULL &&
            (e->scheme.scheme != TPM2_ALG_ECDSA || !sign_hash_ok(e->scheme.details.ecdsa.hashAlg)))
            return ak_refuse(TPMPUB_AK_BAD_SCHEME, reason, reason_size,
                             "AK scheme 0x%04x/hash 0x%04x is not ECDSA with sha256/sha384",
                             e->scheme.scheme, e->scheme.details.ecdsa.hashAlg);
    } else {
        const TPMS_RSA_PARMS *rsa = &p->parameters.rsaDetail;
        if (rsa->keyBits < 2048 || rsa->keyBits > 4096)
            return ak_refuse(TPMPUB_AK_BAD_KEY_SIZE, reason, reason_size,
                             "AK RSA key has %u bits, not 2048..4096", rsa->keyBits);
        if (rsa->symmetric.algorithm != TPM2_ALG_NULL)
            return ak_refuse(TPMPUB_AK_SYMMETRIC, reason, reason_size,
                             "AK has a symmetric algorithm 0x%04x", rsa->symmetric.algorithm);
        if (rsa->scheme.scheme != TPM2_ALG_NULL &&
            ((rsa->scheme.scheme != TPM2_ALG_RSASSA && rsa->scheme.scheme != TPM2_ALG_RSAPSS) ||
             !sign_hash_ok(rsa->scheme.details.anySig.hashAlg)))
            return ak_refuse(TPMPUB_AK_BAD_SCHEME, reason, reason_size,
                             "AK scheme 0x%04x/hash 0x%04x is not RSASSA/RSAPSS with "
                             "sha256/sha384",
                             rsa->scheme.scheme, rsa->scheme.details.anySig.hashAlg);
    }
    if (reason && reason_size > 0)
        reason[0] = 0;
    return TPMPUB_AK_OK;
}
