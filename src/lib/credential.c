/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "credential.h"

#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "cursor.h"
#include "secmem.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MAC *, EVP_MAC_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MAC_CTX *, EVP_MAC_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free)

#define CREDENTIAL_FILE_MAGIC   0xBADCC0DEu
#define CREDENTIAL_FILE_VERSION 1u

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int hmac_md_name(uint16_t hash_alg, const char **ret)
{
    const EVP_MD *md = tpmalg_md(hash_alg);
    if (!md)
        return -EOPNOTSUPP;
    *ret = EVP_MD_get0_name(md);
    return 0;
}

/* HMAC over up to four parts; out has the digest size. */
static int hmac_parts(uint16_t hash_alg, const uint8_t *key, size_t key_size,
                      const uint8_t *const *parts, const size_t *sizes, size_t n, uint8_t *out,
                      size_t out_size)
{
    _cleanup_(EVP_MAC_freep) EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    _cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
    const char *mdname;
    OSSL_PARAM params[2];
    size_t len = 0;

    if (hmac_md_name(hash_alg, &mdname) < 0)
        return -EOPNOTSUPP;
    if (!mac || !(ctx = EVP_MAC_CTX_new(mac)))
        return -ENOMEM;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)mdname, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, key, key_size, params))
        return -EIO;
    for (size_t i = 0; i < n; i++)
        if (sizes[i] > 0 && !EVP_MAC_update(ctx, parts[i], sizes[i]))
            return -EIO;
    if (!EVP_MAC_final(ctx, out, &len, out_size) || len != out_size)
        return -EIO;
    return 0;
}

int credential_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_size, const char *label,
                    const uint8_t *context_u, size_t context_u_size, const uint8_t *context_v,
                    size_t context_v_size, uint32_t bits, uint8_t *out, bg_err *err)
{
    const tpmalg *a = tpmalg_by_id(hash_alg);
    uint8_t block[TPMALG_MAX_DIGEST], counter[4], bits_be[4];
    size_t need = bits / 8, done = 0;
    int r = 0;

    if (!a || !tpmalg_md(hash_alg))
        return bg_err_set(err, -EOPNOTSUPP, "KDFa: hash 0x%04x not supported", hash_alg);
    if (bits == 0 || bits % 8 != 0 || bits > 8u * 1024)
        return bg_err_set(err, -EINVAL, "KDFa: %u bits requested", bits);
    put_be32(bits_be, bits);
    /* TPM 2.0 Part 1 §11.4.10.2: K(i) = HMAC(key, [i]32 || Label || 00 ||
     * Context_U || Context_V || [bits]32); the label's NUL is included. */
    for (uint32_t i = 1; done < need; i++) {
        const uint8_t *parts[5] = {counter, (const uint8_t *)label, context_u, context_v, bits_be};
        size_t sizes[5] = {4, strlen(label) + 1, context_u ? context_u_size : 0,
                           context_v ? context_v_size : 0, 4};
        size_t take = need - done < a->size ? need - done : a->size;
        put_be32(counter, i);
        r = hmac_parts(hash_alg, key, key_size, parts, sizes, 5, block, a->size);
        if (r < 0)
            break;
        memcpy(out + done, block, take);
        done += take;
    }
    secmem_wipe(block, sizeof(block));
    if (r < 0)
        return bg_err_set(err, r, "KDFa: HMAC failed");
    return 0;
}

int credential_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_size, const char *label,
                    const uint8_t *party_u, size_t party_u_size, const uint8_t *party_v,
                    size_t party_v_size, uint32_t bits, uint8_t *out, bg_err *err)
{
    const tpmalg *a = tpmalg_by_id(hash_alg);
    const EVP_MD *md = tpmalg_md(hash_alg);
    _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t block[TPMALG_MAX_DIGEST], counter[4];
    size_t need = bits / 8, done = 0;
    int r = 0;

    if (!a || !md)
        return bg_err_set(err, -EOPNOTSUPP, "KDFe: hash 0x%04x not supported", hash_alg);
    if (bits == 0 || bits % 8 != 0 || bits > 8u * 1024)
        return bg_err_set(err, -EINVAL, "KDFe: %u bits requested", bits);
    if (!ctx)
        return bg_err_set(err, -ENOMEM, "out of memory");
    /* TPM 2.0 Part 1 §11.4.10.3: H([i]32 || Z || Use || 00 || PartyUInfo ||
     * PartyVInfo). */
    for (uint32_t i = 1; done < need; i++) {
        size_t take = need - done < a->size ? need - done : a->size;
        unsigned len = 0;
        put_be32(counter, i);
        if (!EVP_DigestInit_ex(ctx, md, NULL) || !EVP_DigestUpdate(ctx, counter, 4) ||
            !EVP_DigestUpdate(ctx, z, z_size) || !EVP_DigestUpdate(ctx, label, strlen(label) + 1) ||
            (party_u_size && !EVP_DigestUpdate(ctx, party_u, party_u_size)) ||
            (party_v_size && !EVP_DigestUpdate(ctx, party_v, party_v_size)) ||
            !EVP_DigestFinal_ex(ctx, block, &len) || len != a->size) {
            r = -EIO;
            break;
        }
        memcpy(out + done, block, take);
        done += take;
    }
    secmem_wipe(block, sizeof(block));
    if (r < 0)
        return bg_err_set(err, r, "KDFe: hash failed");
    return 0;
}

/* Secret working state of one MakeCredential, kept in mlock'd memory. */
typedef struct cred_secrets {
    uint8_t seed[TPMALG_MAX_DIGEST];
    uint8_t z[66];
    uint8_t sym_key[32];
    uint8_t hmac_key[TPMALG_MAX_DIGEST];
    uint8_t plain[2 + CREDENTIAL_MAX_SECRET]; /* TPM2B_DIGEST(credential) */
} cred_secrets;

/* Annex B.10.4: seed encrypted to the RSA EK with OAEP, label "IDENTITY". */
static int rsa_seed(const tpmpub *ek, const tpmalg *name_alg, cred_secrets *s,
                    TPM2B_ENCRYPTED_SECRET *ret, bg_err *err)
{
    _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx =
        EVP_PKEY_CTX_new_from_pkey(NULL, ek->pkey, NULL);
    const EVP_MD *md = tpmalg_md(name_alg->id);
    static const char label[] = "IDENTITY";
    unsigned char *l;
    size_t outlen = sizeof(ret->secret);

    if (RAND_priv_bytes(s->seed, (int)name_alg->size) != 1)
        return bg_err_set(err, -EIO, "no random bytes for the seed");
    if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) <= 0 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) <= 0)
        return bg_err_set(err, -EIO, "cannot set up RSA-OAEP");
    l = OPENSSL_memdup(label, sizeof(label)); /* with its NUL (Annex B.10.4) */
    if (!l || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, l, sizeof(label)) <= 0) {
        OPENSSL_free(l);
        return bg_err_set(err, -EIO, "cannot set the OAEP label");
    }
    if (EVP_PKEY_encrypt(ctx, ret->secret, &outlen, s->seed, name_alg->size) <= 0)
        return bg_err_set(err, -EIO, "RSA-OAEP encryption of the seed failed");
    ret->size = (UINT16)outlen;
    return 0;
}

/* Annex C.6.4: ephemeral ECDH with the EK; seed = KDFe(Z.x, "IDENTITY",
 * ephemeral.x, EK.x); the encrypted secret is the ephemeral point. */
static int ecc_seed(const tpmpub *ek, const tpmalg *name_alg, cred_secrets *s,
                    TPM2B_ENCRYPTED_SECRET *ret, bg_err *err)
{
    const TPMS_ECC_POINT *ekq = &ek->public.unique.ecc;
    _cleanup_(EVP_PKEY_freep) EVP_PKEY *eph = NULL;
    _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *dctx = NULL;
    uint8_t point[1 + 2 * 66];
    size_t point_len = 0, zlen = sizeof(s->z), field, off = 0;
    TPMS_ECC_POINT ephq = {0};
    int r;

    if (ek->public.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256)
        return bg_err_set(err, -EOPNOTSUPP, "ECC EK curve 0x%04x: only NIST P-256",
                          ek->public.parameters.eccDetail.curveID);
    field = 32;
    eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!eph)
        return bg_err_set(err, -EIO, "cannot generate the ephemeral ECC key");
    if (!EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                         &point_len) ||
        point_len != 1 + 2 * field || point[0] != 0x04)
        return bg_err_set(err, -EIO, "cannot export the ephemeral point");
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL);
    if (!dctx || EVP_PKEY_derive_init(dctx) <= 0 || EVP_PKEY_derive_set_peer(dctx, ek->pkey) <= 0 ||
        EVP_PKEY_derive(dctx, s->z, &zlen) <= 0 || zlen != field)
        return bg_err_set(err, -EIO, "ECDH with the EK failed");
    ephq.x.size = (UINT16)field;
    memcpy(ephq.x.buffer, point + 1, field);
    ephq.y.size = (UINT16)field;
    memcpy(ephq.y.buffer, point + 1 + field, field);
    r = credential_kdfe(name_alg->id, s->z, zlen, "IDENTITY", ephq.x.buffer, ephq.x.size,
                        ekq->x.buffer, ekq->x.size, (uint32_t)name_alg->size * 8, s->seed, err);
    if (r < 0)
        return r;
    if (Tss2_MU_TPMS_ECC_POINT_Marshal(&ephq, ret->secret, sizeof(ret->secret), &off) !=
        TSS2_RC_SUCCESS)
        return bg_err_set(err, -EIO, "cannot marshal the ephemeral point");
    ret->size = (UINT16)off;
    return 0;
}

static void cred_secrets_free(cred_secrets **s)
{
    secmem_free(*s);
}

int credential_make(const tpmpub *ek, const uint8_t *name, size_t name_size, const uint8_t *secret,
                    size_t secret_size, credential_blob *ret, bg_err *err)
{
    _cleanup_(cred_secrets_free) cred_secrets *s = secmem_alloc(sizeof(cred_secrets));
    _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *cctx = EVP_CIPHER_CTX_new();
    const TPMT_SYM_DEF_OBJECT *sym;
    const tpmalg *name_alg;
    const EVP_CIPHER *cipher;
    credential_blob blob = {0};
    uint8_t iv[16] = {0}, *enc, *hmac;
    size_t plain_size = 2 + secret_size;
    int outl = 0, finl = 0, r;

    if (!s || !cctx)
        return bg_err_set(err, -ENOMEM, "out of memory");
    if (!ek || !ek->has_public)
        return bg_err_set(err, -EINVAL,
                          "EK public key without a TPM public area (PEM): its "
                          "nameAlg and symmetric algorithm are unknown");
    if (!name || name_size < 2 || name_size > TPMPUB_MAX_NAME)
        return bg_err_set(err, -EINVAL, "object name has %zu bytes", name_size);
    name_alg = tpmalg_by_id(ek->public.nameAlg);
    if (!name_alg || !tpmalg_md(name_alg->id) || name_alg->id == TPMALG_SM3_256)
        return bg_err_set(err, -EOPNOTSUPP, "EK nameAlg 0x%04x not supported", ek->public.nameAlg);
    /* Part 3 §12.6.1: the credential must fit the EK's nameAlg digest. */
    if (secret_size == 0 || secret_size > name_alg->size)
        return bg_err_set(err, -EINVAL, "credential has %zu bytes, must be 1..%zu", secret_size,
                          name_alg->size);

    switch (ek->public.type) {
    case TPM2_ALG_RSA:
        sym = &ek->public.parameters.rsaDetail.symmetric;
        r = rsa_seed(ek, name_alg, s, &blob.encrypted_secret, err);
        break;
    case TPM2_ALG_ECC:
        sym = &ek->public.parameters.eccDetail.symmetric;
        r = ecc_seed(ek, name_alg, s, &blob.encrypted_secret, err);
        break;
    default:
        return bg_err_set(err, -EOPNOTSUPP, "EK type 0x%04x is neither RSA nor ECC",
                          ek->public.type);
    }
    if (r < 0)
        return r;

    /* The EK's symmetric definition protects the credential (Part 1 §24.4). */
    if (sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB ||
        (sym->keyBits.aes != 128 && sym->keyBits.aes != 256))
        return bg_err_set(err, -EOPNOTSUPP, "EK symmetric 0x%04x/%u/mode 0x%04x is not AES-CFB",
                          sym->algorithm, sym->keyBits.aes, sym->mode.aes);
    cipher = sym->keyBits.aes == 128 ? EVP_aes_128_cfb128() : EVP_aes_256_cfb128();

    /* symKey = KDFa(nameAlg, seed, "STORAGE", name, -, keyBits) */
    r = credential_kdfa(name_alg->id, s->seed, name_alg->size, "STORAGE", name, name_size, NULL, 0,
                        sym->keyBits.aes, s->sym_key, err);
    if (r < 0)
        return r;
    /* encIdentity = CFB(symKey, IV 0, TPM2B_DIGEST(credential)), size field included */
    s->plain[0] = (uint8_t)(secret_size >> 8);
    s->plain[1] = (uint8_t)secret_size;
    memcpy(s->plain + 2, secret, secret_size);
    hmac = blob.id_object.credential + 2;
    enc = hmac + name_alg->size;
    if (!EVP_EncryptInit_ex(cctx, cipher, NULL, s->sym_key, iv) ||
        !EVP_EncryptUpdate(cctx, enc, &outl, s->plain, (int)plain_size) ||
        !EVP_EncryptFinal_ex(cctx, enc + outl, &finl) || (size_t)(outl + finl) != plain_size)
        return bg_err_set(err, -EIO, "AES-CFB encryption failed");

    /* HMACkey = KDFa(nameAlg, seed, "INTEGRITY", -, -, digest bits);
     * outerHMAC = HMAC(HMACkey, encIdentity || name)  (Part 1 §24.5) */
    r = credential_kdfa(name_alg->id, s->seed, name_alg->size, "INTEGRITY", NULL, 0, NULL, 0,
                        (uint32_t)name_alg->size * 8, s->hmac_key, err);
    if (r < 0)
        return r;
    {
        const uint8_t *parts[2] = {enc, name};
        size_t sizes[2] = {plain_size, name_size};
        r = hmac_parts(name_alg->id, s->hmac_key, name_alg->size, parts, sizes, 2, hmac,
                       name_alg->size);
        if (r < 0)
            return bg_err_set(err, r, "outer HMAC failed");
    }
    blob.id_object.credential[0] = (uint8_t)(name_alg->size >> 8);
    blob.id_object.credential[1] = (uint8_t)name_alg->size;
    blob.id_object.size = (UINT16)(2 + name_alg->size + plain_size);
    *ret = blob;
    return 0;
}

static int marshal_id(const TPM2B_ID_OBJECT *id, uint8_t *buf, size_t size, size_t *off)
{
    return Tss2_MU_TPM2B_ID_OBJECT_Marshal(id, buf, size, off) == TSS2_RC_SUCCESS ? 0 : -EINVAL;
}

static int marshal_secret(const TPM2B_ENCRYPTED_SECRET *s, uint8_t *buf, size_t size, size_t *off)
{
    return Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(s, buf, size, off) == TSS2_RC_SUCCESS ? 0
                                                                                        : -EINVAL;
}

int credential_marshal(const credential_blob *blob, uint8_t **ret_id_object,
                       size_t *ret_id_object_size, uint8_t **ret_secret, size_t *ret_secret_size,
                       bg_err *err)
{
    _cleanup_(freep) uint8_t *id = malloc(sizeof(TPM2B_ID_OBJECT));
    _cleanup_(freep) uint8_t *sec = malloc(sizeof(TPM2B_ENCRYPTED_SECRET));
    size_t id_off = 0, sec_off = 0;

    if (!id || !sec)
        return bg_err_set(err, -ENOMEM, "out of memory");
    if (marshal_id(&blob->id_object, id, sizeof(TPM2B_ID_OBJECT), &id_off) < 0 ||
        marshal_secret(&blob->encrypted_secret, sec, sizeof(TPM2B_ENCRYPTED_SECRET), &sec_off) < 0)
        return bg_err_set(err, -EINVAL, "cannot marshal the credential");
    *ret_id_object = TAKE_PTR(id);
    *ret_id_object_size = id_off;
    *ret_secret = TAKE_PTR(sec);
    *ret_secret_size = sec_off;
    return 0;
}

int credential_to_tpm2_tools(const credential_blob *blob, uint8_t **ret, size_t *ret_size,
                             bg_err *err)
{
    size_t cap = 8 + sizeof(TPM2B_ID_OBJECT) + sizeof(TPM2B_ENCRYPTED_SECRET), off = 8;
    _cleanup_(freep) uint8_t *buf = malloc(cap);

    if (!buf)
        return bg_err_set(err, -ENOMEM, "out of memory");
    /* tpm2-tools files_write_header(): BE magic, BE version */
    put_be32(buf, CREDENTIAL_FILE_MAGIC);
    put_be32(buf + 4, CREDENTIAL_FILE_VERSION);
    if (marshal_id(&blob->id_object, buf, cap, &off) < 0 ||
        marshal_secret(&blob->encrypted_secret, buf, cap, &off) < 0)
        return bg_err_set(err, -EINVAL, "cannot marshal the credential");
    *ret = TAKE_PTR(buf);
    *ret_size = off;
    return 0;
}

int credential_from_tpm2_tools(const uint8_t *buf, size_t size, credential_blob *ret, bg_err *err)
{
    cursor c = cursor_init(buf, size);
    credential_blob blob = {0};
    uint32_t magic, version;
    size_t off;
    int r;

    if ((r = cursor_u32be(&c, &magic, "credential file magic", err)) < 0 ||
        (r = cursor_u32be(&c, &version, "credential file version", err)) < 0)
        return r;
    if (magic != CREDENTIAL_FILE_MAGIC || version != CREDENTIAL_FILE_VERSION)
        return bg_err_set(err, -EBADMSG,
                          "offset 0: not a tpm2-tools credential file "
                          "(magic 0x%08x version %u)",
                          magic, version);
    off = c.off;
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(buf, size, &off, &blob.id_object) != TSS2_RC_SUCCESS)
        return bg_err_set(err, -EBADMSG, "offset %zu: TPM2B_ID_OBJECT does not parse", c.off);
    c.off = off;
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(buf, size, &off, &blob.encrypted_secret) !=
        TSS2_RC_SUCCESS)
        return bg_err_set(err, -EBADMSG, "offset %zu: TPM2B_ENCRYPTED_SECRET does not parse",
                          c.off);
    if (off != size)
        return bg_err_set(err, -EBADMSG, "offset %zu: %zu trailing bytes", off, size - off);
    *ret = blob;
    return 0;
}
