/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TPM side of a synthetic node, in software, for the load generator only. */
#include "loadgen.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <tss2/tss2_mu.h>

#include "cleanup.h"
#include "credential.h"
#include "quote.h"

static int ec_point_xy(EVP_PKEY *k, TPMS_ECC_POINT *ret)
{
    uint8_t pt[65];
    size_t len = 0;
    if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len) ||
        len != 65 || pt[0] != 4)
        return -EIO;
    ret->x.size = 32;
    memcpy(ret->x.buffer, pt + 1, 32);
    ret->y.size = 32;
    memcpy(ret->y.buffer, pt + 33, 32);
    return 0;
}

int softtpm_new(softtpm *ret, bg_err *err)
{
    TPMT_PUBLIC ek = {0}, ak = {0};
    int r;

    *ret = (softtpm){0};
    ret->ek_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ret->ak_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!ret->ek_key || !ret->ak_key) {
        softtpm_done(ret);
        return bg_err_set(err, -EIO, "EC P-256 key generation failed");
    }
    /* TCG EK Credential Profile 2.0, template L-2 (ECC NIST P-256) */
    ek.type = TPM2_ALG_ECC;
    ek.nameAlg = TPM2_ALG_SHA256;
    ek.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    ek.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
    ek.parameters.eccDetail.symmetric.keyBits.aes = 128;
    ek.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    ek.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    ek.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    ek.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    /* DESIGN §1 AK template: ECC P-256, restricted signing, ECDSA-SHA256 */
    ak.type = TPM2_ALG_ECC;
    ak.nameAlg = TPM2_ALG_SHA256;
    ak.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |
                          TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                          TPMA_OBJECT_USERWITHAUTH;
    ak.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    ak.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    ak.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    ak.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    ak.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    if (ec_point_xy(ret->ek_key, &ek.unique.ecc) < 0 ||
        ec_point_xy(ret->ak_key, &ak.unique.ecc) < 0) {
        softtpm_done(ret);
        return bg_err_set(err, -EIO, "cannot export an EC public key");
    }
    r = tpmpub_from_public(&ek, &ret->ek, err);
    if (r >= 0)
        r = tpmpub_from_public(&ak, &ret->ak, err);
    if (r < 0) {
        softtpm_done(ret);
        return r;
    }
    if (tpmpub_check_ak(ret->ak, err ? err->msg : NULL, err ? sizeof(err->msg) : 0) !=
        TPMPUB_AK_OK) {
        softtpm_done(ret);
        return -EINVAL;
    }
    return 0;
}

void softtpm_done(softtpm *t)
{
    EVP_PKEY_free(t->ek_key);
    EVP_PKEY_free(t->ak_key);
    tpmpub_free(t->ek);
    tpmpub_free(t->ak);
    *t = (softtpm){0};
}

static int ecdsa_sign(EVP_PKEY *key, const uint8_t *msg, size_t msg_size, TPMT_SIGNATURE *ret)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80];
    const uint8_t *p = der;
    size_t der_size = sizeof(der);
    ECDSA_SIG *sig = NULL;
    const BIGNUM *r, *s;
    int ok = md && EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) > 0 &&
             EVP_DigestSign(md, der, &der_size, msg, msg_size) > 0 &&
             (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_size)) != NULL;
    EVP_MD_CTX_free(md);
    if (!ok)
        return -EIO;
    ECDSA_SIG_get0(sig, &r, &s);
    *ret = (TPMT_SIGNATURE){.sigAlg = TPM2_ALG_ECDSA};
    ret->signature.ecdsa.hash = TPM2_ALG_SHA256;
    ret->signature.ecdsa.signatureR.size = 32;
    ret->signature.ecdsa.signatureS.size = 32;
    ok = BN_bn2binpad(r, ret->signature.ecdsa.signatureR.buffer, 32) == 32 &&
         BN_bn2binpad(s, ret->signature.ecdsa.signatureS.buffer, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -EIO;
}

int softtpm_quote(const softtpm *t, const pcr_bank *pcrs, const uint8_t *nonce, size_t nonce_size,
                  uint8_t **ret_attest, size_t *ret_attest_size, uint8_t **ret_sig,
                  size_t *ret_sig_size, bg_err *err)
{
    TPMS_ATTEST a = {0};
    TPMT_SIGNATURE sig;
    quote_selection sel = {.n_banks = 1, .banks = {{.alg = TPM2_ALG_SHA256, .mask = 0xfff}}};
    size_t digest_size = 0, off = 0, soff = 0;
    uint8_t abuf[sizeof(TPMS_ATTEST)], sbuf[sizeof(TPMT_SIGNATURE)];
    int r;

    if (nonce_size > sizeof(a.extraData.buffer))
        return bg_err_set(err, -EINVAL, "nonce of %zu bytes", nonce_size);
    /* TPM 2.0 Part 2 §10.12.8 TPMS_ATTEST, Part 3 §18.4 TPM2_Quote */
    a.magic = TPM2_GENERATED_VALUE;
    a.type = TPM2_ST_ATTEST_QUOTE;
    a.qualifiedSigner.size = (UINT16)t->ak->name_size;
    memcpy(a.qualifiedSigner.name, t->ak->name, t->ak->name_size);
    a.extraData.size = (UINT16)nonce_size;
    memcpy(a.extraData.buffer, nonce, nonce_size);
    a.clockInfo.clock = lg_now_ns() / 1000000u;
    a.clockInfo.safe = 1;
    a.firmwareVersion = 0x20190823;
    a.attested.quote.pcrSelect.count = 1;
    a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
    a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
    a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[0] = 0xff;
    a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[1] = 0x0f;
    r = quote_pcr_digest(&sel, pcrs, 1, TPM2_ALG_SHA256, a.attested.quote.pcrDigest.buffer,
                         &digest_size, err);
    if (r < 0)
        return r;
    a.attested.quote.pcrDigest.size = (UINT16)digest_size;
    if (Tss2_MU_TPMS_ATTEST_Marshal(&a, abuf, sizeof(abuf), &off) != TSS2_RC_SUCCESS)
        return bg_err_set(err, -EIO, "Tss2_MU_TPMS_ATTEST_Marshal failed");
    if (ecdsa_sign(t->ak_key, abuf, off, &sig) < 0)
        return bg_err_set(err, -EIO, "ECDSA signature failed");
    if (Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sbuf, sizeof(sbuf), &soff) != TSS2_RC_SUCCESS)
        return bg_err_set(err, -EIO, "Tss2_MU_TPMT_SIGNATURE_Marshal failed");
    *ret_attest = OPENSSL_memdup(abuf, off);
    *ret_sig = OPENSSL_memdup(sbuf, soff);
    if (!*ret_attest || !*ret_sig) {
        OPENSSL_free(*ret_attest);
        OPENSSL_free(*ret_sig);
        return bg_err_set(err, -ENOMEM, "out of memory");
    }
    *ret_attest_size = off;
    *ret_sig_size = soff;
    return 0;
}

/* TPM 2.0 Part 1 §C.6.1 (ECDH with KDFe, label "IDENTITY"): Z = d_EK * Q_eph;
 * seed = KDFe(nameAlg, Z.x, "IDENTITY", Q_eph.x, Q_EK.x). */
static int ecc_seed(const softtpm *t, const TPM2B_ENCRYPTED_SECRET *enc, uint8_t seed[32])
{
    TPMS_ECC_POINT q = {0};
    size_t off = 0, zlen = 32;
    uint8_t pt[65], z[32];
    OSSL_PARAM p[3];
    EVP_PKEY *eph = NULL;
    EVP_PKEY_CTX *fctx = NULL, *dctx = NULL;
    int r = -EBADMSG;

    if (Tss2_MU_TPMS_ECC_POINT_Unmarshal(enc->secret, enc->size, &off, &q) != TSS2_RC_SUCCESS ||
        off != enc->size || q.x.size != 32 || q.y.size != 32)
        return -EBADMSG;
    pt[0] = 4;
    memcpy(pt + 1, q.x.buffer, 32);
    memcpy(pt + 33, q.y.buffer, 32);
    p[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
    p[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt));
    p[2] = OSSL_PARAM_construct_end();
    fctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!fctx || EVP_PKEY_fromdata_init(fctx) <= 0 ||
        EVP_PKEY_fromdata(fctx, &eph, EVP_PKEY_PUBLIC_KEY, p) <= 0)
        goto out;
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, t->ek_key, NULL);
    if (!dctx || EVP_PKEY_derive_init(dctx) <= 0 || EVP_PKEY_derive_set_peer(dctx, eph) <= 0 ||
        EVP_PKEY_derive(dctx, z, &zlen) <= 0 || zlen != 32)
        goto out;
    r = credential_kdfe(TPM2_ALG_SHA256, z, 32, "IDENTITY", q.x.buffer, 32,
                        t->ek->public.unique.ecc.x.buffer, 32, 256, seed, NULL);
out:
    OPENSSL_cleanse(z, sizeof(z));
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_CTX_free(fctx);
    EVP_PKEY_free(eph);
    return r < 0 ? -EBADMSG : 0;
}

int softtpm_activate(const softtpm *t, const uint8_t *id_object, size_t id_object_size,
                     const uint8_t *enc_secret, size_t enc_secret_size,
                     uint8_t ret_secret[CREDENTIAL_MAX_SECRET], size_t *ret_size, bg_err *err)
{
    TPM2B_ID_OBJECT id = {0};
    TPM2B_ENCRYPTED_SECRET enc = {0};
    uint8_t seed[32], hkey[32], skey[16], mac[32], iv[16] = {0};
    uint8_t plain[sizeof(id.credential)], macin[sizeof(id.credential) + TPMPUB_MAX_NAME];
    size_t off = 0, maclen = 0, enclen;
    EVP_CIPHER_CTX *c = NULL;
    int outl = 0, r = -EBADMSG;

    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(id_object, id_object_size, &off, &id) !=
            TSS2_RC_SUCCESS ||
        off != id_object_size)
        return bg_err_set(err, -EBADMSG, "credential_blob is not a TPM2B_ID_OBJECT");
    off = 0;
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(enc_secret, enc_secret_size, &off, &enc) !=
            TSS2_RC_SUCCESS ||
        off != enc_secret_size)
        return bg_err_set(err, -EBADMSG, "encrypted_secret is not a TPM2B_ENCRYPTED_SECRET");
    if (ecc_seed(t, &enc, seed) < 0)
        return bg_err_set(err, -EBADMSG, "encrypted_secret is not a point for this EK");
    /* Part 1 §24.5: TPM2B_DIGEST(outer HMAC) || encIdentity */
    if (id.size < 2 + 32 + 2 || (id.credential[0] << 8 | id.credential[1]) != 32) {
        r = bg_err_set(err, -EBADMSG, "credential_blob has no SHA-256 integrity");
        goto out;
    }
    enclen = id.size - 34u;
    if (credential_kdfa(TPM2_ALG_SHA256, seed, 32, "INTEGRITY", NULL, 0, NULL, 0, 256, hkey, err) <
        0)
        goto out;
    memcpy(macin, id.credential + 34, enclen);
    memcpy(macin + enclen, t->ak->name, t->ak->name_size);
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hkey, 32, macin, enclen + t->ak->name_size,
                   mac, sizeof(mac), &maclen) ||
        maclen != 32 || CRYPTO_memcmp(mac, id.credential + 2, 32) != 0) {
        r = bg_err_set(err, -EBADMSG, "credential integrity check failed (another EK or AK)");
        goto out;
    }
    if (credential_kdfa(TPM2_ALG_SHA256, seed, 32, "STORAGE", t->ak->name, t->ak->name_size, NULL,
                        0, 128, skey, err) < 0)
        goto out;
    c = EVP_CIPHER_CTX_new();
    if (!c || !EVP_DecryptInit_ex(c, EVP_aes_128_cfb128(), NULL, skey, iv) ||
        !EVP_DecryptUpdate(c, plain, &outl, id.credential + 34, (int)enclen) ||
        (size_t)outl != enclen) {
        r = bg_err_set(err, -EIO, "AES-128-CFB failed");
        goto out;
    }
    /* encIdentity holds a TPM2B_DIGEST */
    if ((size_t)(plain[0] << 8 | plain[1]) != enclen - 2 || enclen - 2 > CREDENTIAL_MAX_SECRET) {
        r = bg_err_set(err, -EBADMSG, "credential has a bad size");
        goto out;
    }
    memcpy(ret_secret, plain + 2, enclen - 2);
    *ret_size = enclen - 2;
    r = 0;
out:
    EVP_CIPHER_CTX_free(c);
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(hkey, sizeof(hkey));
    OPENSSL_cleanse(skey, sizeof(skey));
    OPENSSL_cleanse(plain, sizeof(plain));
    return r;
}
