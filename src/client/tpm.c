/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "tpm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "secmem.h"
#include "timing.h"

struct tpm_ctx {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    ESYS_TR ek;
    bool ek_persistent;
    tpm_ek_type ek_type;
    ESYS_TR ak;
};

/* TCG EK Credential Profile 2.x, B.3.2 / B.6: policy A = PolicySecret(TPM_RH_ENDORSEMENT)
 * as the EK's authPolicy (sha256), shared by the low-range templates L-1 and L-2. */
static const uint8_t ek_policy_a_sha256[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa,
};

/* Converts a TSS2 response code once, at the boundary, into a distinct errno
 * (systemd's tpm2-util does the same) and leaves the raw code in the message. */
static int tpm_rc_to_errno(TSS2_RC rc, bg_err *err, const char *what)
{
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, code = rc & 0xffff;
    int r = -EIO;

    if (layer == TSS2_TCTI_RC_LAYER)
        r = -ENODEV;
    else if ((layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER) &&
             !(code & TPM2_RC_FMT1) && code == TPM2_RC_LOCKOUT)
        r = -ENOLCK;
    else if ((layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER) &&
             !(code & TPM2_RC_FMT1) && code == TPM2_RC_PCR_CHANGED)
        r = -EAGAIN;
    return bg_err_set(err, r, "%s: %s (0x%08x)", what, Tss2_RC_Decode(rc), rc);
}

int tpm_open(const char *tcti, tpm_ctx **ret, bg_err *err)
{
    _cleanup_(freep) tpm_ctx *t = calloc(1, sizeof(*t));
    TSS2_RC rc;

    if (!t)
        return bg_err_set(err, -ENOMEM, "out of memory");
    t->ek = t->ak = ESYS_TR_NONE;
    rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
    if (rc != TSS2_RC_SUCCESS)
        return bg_err_set(err, -ENODEV, "cannot open TPM through TCTI '%s': %s (0x%08x)",
                          tcti ? tcti : "(default)", Tss2_RC_Decode(rc), rc);
    rc = Esys_Initialize(&t->esys, t->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Tss2_TctiLdr_Finalize(&t->tcti);
        return tpm_rc_to_errno(rc, err, "Esys_Initialize");
    }
    /* A TPM that does not answer a trivial command counts as absent. */
    TPMS_CAPABILITY_DATA *cap = NULL;
    rc = Esys_GetCapability(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                            TPM2_CAP_TPM_PROPERTIES, TPM2_PT_MANUFACTURER, 1, NULL, &cap);
    Esys_Free(cap);
    if (rc != TSS2_RC_SUCCESS) {
        int r = tpm_rc_to_errno(rc, err, "TPM does not answer GetCapability");
        Esys_Finalize(&t->esys);
        Tss2_TctiLdr_Finalize(&t->tcti);
        return r == -EIO ? bg_err_set(err, -ENODEV, "%s", bg_err_msg(err)) : r;
    }
    *ret = TAKE_PTR(t);
    return 0;
}

void tpm_close(tpm_ctx *t)
{
    uint64_t t_us = timing_now_us();

    if (!t)
        return;
    if (t->esys) {
        if (t->ak != ESYS_TR_NONE)
            (void)Esys_FlushContext(t->esys, t->ak);
        if (t->ek != ESYS_TR_NONE) {
            if (t->ek_persistent)
                (void)Esys_TR_Close(t->esys, &t->ek);
            else
                (void)Esys_FlushContext(t->esys, t->ek);
        }
        Esys_Finalize(&t->esys);
    }
    if (t->tcti)
        Tss2_TctiLdr_Finalize(&t->tcti);
    free(t);
    timing_add(TIMING_TPM_CLOSE, t_us);
}

/* TCG EK Credential Profile 2.x B.3.3 template L-1 (RSA 2048) and B.3.4
 * template L-2 (ECC NIST P-256): restricted decryption keys with AES-128-CFB,
 * policy A and the zero-filled unique field of the low range templates. */
static void ek_template(tpm_ek_type type, TPM2B_PUBLIC *pub)
{
    memset(pub, 0, sizeof(*pub));
    pub->publicArea.nameAlg = TPM2_ALG_SHA256;
    pub->publicArea.objectAttributes =
        TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
        TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    pub->publicArea.authPolicy.size = sizeof(ek_policy_a_sha256);
    memcpy(pub->publicArea.authPolicy.buffer, ek_policy_a_sha256, sizeof(ek_policy_a_sha256));
    if (type == TPM_EK_ECC) {
        TPMS_ECC_PARMS *p = &pub->publicArea.parameters.eccDetail;
        pub->publicArea.type = TPM2_ALG_ECC;
        p->symmetric.algorithm = TPM2_ALG_AES;
        p->symmetric.keyBits.aes = 128;
        p->symmetric.mode.aes = TPM2_ALG_CFB;
        p->scheme.scheme = TPM2_ALG_NULL;
        p->curveID = TPM2_ECC_NIST_P256;
        p->kdf.scheme = TPM2_ALG_NULL;
        pub->publicArea.unique.ecc.x.size = 32;
        pub->publicArea.unique.ecc.y.size = 32;
    } else {
        TPMS_RSA_PARMS *p = &pub->publicArea.parameters.rsaDetail;
        pub->publicArea.type = TPM2_ALG_RSA;
        p->symmetric.algorithm = TPM2_ALG_AES;
        p->symmetric.keyBits.aes = 128;
        p->symmetric.mode.aes = TPM2_ALG_CFB;
        p->scheme.scheme = TPM2_ALG_NULL;
        p->keyBits = 2048;
        p->exponent = 0;
        pub->publicArea.unique.rsa.size = 256;
    }
}

/* The AK: a primary key in the endorsement hierarchy, so the same EPS always
 * derives the same key and name (TPM 2.0 Part 1, 27.5 primary key derivation),
 * and nothing has to be stored on the node. Restricted signing keys only sign
 * digests the TPM computed itself (Part 1, 25.2.3), which is what makes a quote
 * evidence; adminWithPolicy clear so ActivateCredential's ADMIN role is
 * satisfied by the key's own (empty) auth. */
static void ak_template(TPM2B_PUBLIC *pub)
{
    memset(pub, 0, sizeof(*pub));
    pub->publicArea.type = TPM2_ALG_ECC;
    pub->publicArea.nameAlg = TPM2_ALG_SHA256;
    pub->publicArea.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                                       TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
    TPMS_ECC_PARMS *p = &pub->publicArea.parameters.eccDetail;
    p->symmetric.algorithm = TPM2_ALG_NULL;
    p->scheme.scheme = TPM2_ALG_ECDSA;
    p->scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p->curveID = TPM2_ECC_NIST_P256;
    p->kdf.scheme = TPM2_ALG_NULL;
}

static int create_primary(tpm_ctx *t, ESYS_TR hierarchy, const TPM2B_PUBLIC *tmpl, ESYS_TR *ret,
                          bg_err *err, const char *what)
{
    TPM2B_SENSITIVE_CREATE sens = {0};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION creation_pcr = {0};
    TSS2_RC rc;

    rc = Esys_CreatePrimary(t->esys, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                            tmpl, &outside, &creation_pcr, ret, NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS)
        return tpm_rc_to_errno(rc, err, what);
    return 0;
}

int tpm_load_ek(tpm_ctx *t, tpm_ek_type type, bg_err *err)
{
    TSS2_RC rc;

    if (t->ek != ESYS_TR_NONE)
        return 0;
    if (type != TPM_EK_ECC) {
        ESYS_TR h = ESYS_TR_NONE;
        /* Suppress the ESYS error log for the expected "handle absent" case. */
        rc = Esys_TR_FromTPMPublic(t->esys, TPM_EK_RSA_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &h);
        if (rc == TSS2_RC_SUCCESS) {
            TPM2B_PUBLIC *pub = NULL;
            rc = Esys_ReadPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL,
                                 NULL);
            if (rc != TSS2_RC_SUCCESS) {
                (void)Esys_TR_Close(t->esys, &h);
                return tpm_rc_to_errno(rc, err, "reading persistent EK 0x81010001");
            }
            tpm_ek_type found = pub->publicArea.type == TPM2_ALG_ECC ? TPM_EK_ECC : TPM_EK_RSA;
            Esys_Free(pub);
            if (type == TPM_EK_AUTO || type == found) {
                t->ek = h;
                t->ek_persistent = true;
                t->ek_type = found;
                return 0;
            }
            (void)Esys_TR_Close(t->esys, &h);
        } else if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
            return tpm_rc_to_errno(rc, err, "looking for persistent EK");
    }
    tpm_ek_type want = type == TPM_EK_ECC ? TPM_EK_ECC : TPM_EK_RSA;
    TPM2B_PUBLIC tmpl;
    ek_template(want, &tmpl);
    int r = create_primary(t, ESYS_TR_RH_ENDORSEMENT, &tmpl, &t->ek, err,
                           want == TPM_EK_ECC ? "creating ECC EK" : "creating RSA EK");
    if (r < 0 && type == TPM_EK_AUTO) {
        /* Some TPMs implement only ECC. */
        ek_template(TPM_EK_ECC, &tmpl);
        want = TPM_EK_ECC;
        r = create_primary(t, ESYS_TR_RH_ENDORSEMENT, &tmpl, &t->ek, err, "creating ECC EK");
    }
    if (r < 0)
        return r;
    t->ek_type = want;
    return 0;
}

tpm_ek_type tpm_ek_loaded_type(tpm_ctx *t)
{
    return t->ek_type;
}

int tpm_load_ak(tpm_ctx *t, bg_err *err)
{
    TPM2B_PUBLIC tmpl;

    if (t->ak != ESYS_TR_NONE)
        return 0;
    ak_template(&tmpl);
    return create_primary(t, ESYS_TR_RH_ENDORSEMENT, &tmpl, &t->ak, err, "creating AK");
}

static int key_public(tpm_ctx *t, ESYS_TR h, uint8_t *buf, size_t size, size_t *ret_size,
                      bg_err *err)
{
    TPM2B_PUBLIC *pub = NULL;
    size_t off = 0;
    TSS2_RC rc;

    if (h == ESYS_TR_NONE)
        return bg_err_set(err, -EINVAL, "key not loaded");
    rc = Esys_ReadPublic(t->esys, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS)
        return tpm_rc_to_errno(rc, err, "ReadPublic");
    rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, size, &off);
    Esys_Free(pub);
    if (rc != TSS2_RC_SUCCESS)
        return bg_err_set(err, -ENOBUFS, "public area does not fit (0x%08x)", rc);
    *ret_size = off;
    return 0;
}

static int key_name(tpm_ctx *t, ESYS_TR h, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err)
{
    TPM2B_NAME *name = NULL;
    TSS2_RC rc;

    if (h == ESYS_TR_NONE)
        return bg_err_set(err, -EINVAL, "key not loaded");
    rc = Esys_TR_GetName(t->esys, h, &name);
    if (rc != TSS2_RC_SUCCESS)
        return tpm_rc_to_errno(rc, err, "TR_GetName");
    if (name->size > size) {
        Esys_Free(name);
        return bg_err_set(err, -ENOBUFS, "name too long");
    }
    memcpy(buf, name->name, name->size);
    *ret_size = name->size;
    Esys_Free(name);
    return 0;
}

int tpm_ek_public(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err)
{
    return key_public(t, t->ek, buf, size, ret_size, err);
}

int tpm_ek_name(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err)
{
    return key_name(t, t->ek, buf, size, ret_size, err);
}

int tpm_ak_public(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err)
{
    return key_public(t, t->ak, buf, size, ret_size, err);
}

int tpm_ak_name(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err)
{
    return key_name(t, t->ak, buf, size, ret_size, err);
}

int tpm_ek_cert(tpm_ctx *t, uint8_t **ret, size_t *ret_size, bg_err *err)
{
    TPM2_HANDLE index = t->ek_type == TPM_EK_ECC ? TPM_EK_CERT_ECC_NV : TPM_EK_CERT_RSA_NV;
    TPM2B_NV_PUBLIC *nvpub = NULL;
    ESYS_TR nv = ESYS_TR_NONE;
    _cleanup_(freep) uint8_t *cert = NULL;
    size_t size;
    TSS2_RC rc;
    int r = 0;

    rc = Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv);
    if (rc != TSS2_RC_SUCCESS) {
        if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
            return tpm_rc_to_errno(rc, err, "reading EK certificate index");
        return bg_err_set(err, -ENOENT, "no EK certificate at NV 0x%08x", index);
    }
    rc = Esys_NV_ReadPublic(t->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nvpub, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = tpm_rc_to_errno(rc, err, "NV_ReadPublic of the EK certificate");
        goto out;
    }
    size = nvpub->nvPublic.dataSize;
    Esys_Free(nvpub);
    if (size == 0) {
        r = bg_err_set(err, -ENOENT, "EK certificate index 0x%08x is empty", index);
        goto out;
    }
    cert = malloc(size);
    if (!cert) {
        r = bg_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    /* Read in chunks no larger than the smallest TPM2_PT_NV_BUFFER_MAX seen in
     * practice; EK certificates are usually 1-2 KB. The index has
     * TPMA_NV_AUTHREAD with an empty auth (EK Credential Profile 2.x, 2.2.1.5). */
    for (size_t off = 0; off < size;) {
        TPM2B_MAX_NV_BUFFER *chunk = NULL;
        uint16_t n = (uint16_t)(size - off > 512 ? 512 : size - off);
        rc = Esys_NV_Read(t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                          (uint16_t)off, &chunk);
        if (rc != TSS2_RC_SUCCESS) {
            r = tpm_rc_to_errno(rc, err, "NV_Read of the EK certificate");
            goto out;
        }
        if (chunk->size != n) {
            Esys_Free(chunk);
            r = bg_err_set(err, -EIO, "NV_Read returned %u bytes, asked %u", chunk->size, n);
            goto out;
        }
        memcpy(cert + off, chunk->buffer, n);
        Esys_Free(chunk);
        off += n;
    }
    *ret = TAKE_PTR(cert);
    *ret_size = size;
out:
    (void)Esys_TR_Close(t->esys, &nv);
    return r;
}

static void quote_selection(TPML_PCR_SELECTION *sel, uint32_t mask)
{
    memset(sel, 0, sizeof(*sel));
    sel->count = 1;
    sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel->pcrSelections[0].sizeofSelect = 3;
    sel->pcrSelections[0].pcrSelect[0] = mask & 0xff;
    sel->pcrSelections[0].pcrSelect[1] = (mask >> 8) & 0xff;
    sel->pcrSelections[0].pcrSelect[2] = (mask >> 16) & 0xff;
}

/* PCR_Read returns at most 8 digests per call (TPML_DIGEST); ask again for
 * what is still missing, in ascending PCR order as the TPM reports them. */
static int read_pcrs(tpm_ctx *t, uint8_t pcrs[12][32], bg_err *err)
{
    uint32_t missing = TPM_QUOTE_PCR_MASK;

    for (int round = 0; missing && round < 12; round++) {
        TPML_PCR_SELECTION sel, *out_sel = NULL;
        TPML_DIGEST *vals = NULL;
        uint32_t got = 0;
        unsigned k = 0;
        TSS2_RC rc;

        quote_selection(&sel, missing);
        rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL, &out_sel,
                           &vals);
        if (rc != TSS2_RC_SUCCESS)
            return tpm_rc_to_errno(rc, err, "PCR_Read");
        if (out_sel->count == 1 && out_sel->pcrSelections[0].hash == TPM2_ALG_SHA256)
            for (unsigned i = 0; i < 3 && i < out_sel->pcrSelections[0].sizeofSelect; i++)
                got |= (uint32_t)out_sel->pcrSelections[0].pcrSelect[i] << (8 * i);
        got &= missing;
        for (unsigned pcr = 0; pcr < 12; pcr++) {
            if (!(got & (1u << pcr)))
                continue;
            if (k >= vals->count || vals->digests[k].size != 32) {
                Esys_Free(out_sel);
                Esys_Free(vals);
                return bg_err_set(err, -EIO, "PCR_Read returned an inconsistent answer");
            }
            memcpy(pcrs[pcr], vals->digests[k].buffer, 32);
            k++;
        }
        Esys_Free(out_sel);
        Esys_Free(vals);
        if (!got)
            return bg_err_set(err, -EIO, "TPM has no sha256 PCR bank");
        missing &= ~got;
    }
    return missing ? bg_err_set(err, -EIO, "PCR_Read did not return all PCRs") : 0;
}

int tpm_quote_pcrs(tpm_ctx *t, const uint8_t *nonce, size_t nonce_size, tpm_quote *ret, bg_err *err)
{
    TPM2B_DATA qualifying = {0};
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
    TPML_PCR_SELECTION sel;
    int r = -EAGAIN;

    if (t->ak == ESYS_TR_NONE)
        return bg_err_set(err, -EINVAL, "AK not loaded");
    if (nonce_size == 0 || nonce_size > sizeof(qualifying.buffer))
        return bg_err_set(err, -EINVAL, "nonce of %zu bytes", nonce_size);
    qualifying.size = (uint16_t)nonce_size;
    memcpy(qualifying.buffer, nonce, nonce_size);
    quote_selection(&sel, TPM_QUOTE_PCR_MASK);

    for (unsigned attempt = 1; attempt <= TPM_QUOTE_TRIES; attempt++) {
        TPM2B_ATTEST *attest = NULL;
        TPMT_SIGNATURE *sig = NULL;
        TPMS_ATTEST parsed;
        uint8_t digest[32];
        size_t off = 0;
        TSS2_RC rc;
        uint64_t t_us = timing_now_us();

        rc = Esys_Quote(t->esys, t->ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
                        &scheme, &sel, &attest, &sig);
        timing_add(TIMING_TPM_QUOTE, t_us);
        if (rc != TSS2_RC_SUCCESS) {
            r = tpm_rc_to_errno(rc, err, "Quote");
            if (r == -EAGAIN)
                continue; /* TPM2_RC_PCR_CHANGED */
            return r;
        }
        r = 0;
        if (attest->size > sizeof(ret->attest))
            r = bg_err_set(err, -ENOBUFS, "attest too large");
        else {
            memcpy(ret->attest, attest->attestationData, attest->size);
            ret->attest_size = attest->size;
            if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, ret->signature, sizeof(ret->signature), &off) !=
                TSS2_RC_SUCCESS)
                r = bg_err_set(err, -ENOBUFS, "signature too large");
            ret->signature_size = off;
        }
        Esys_Free(attest);
        Esys_Free(sig);
        if (r < 0)
            return r;

        t_us = timing_now_us();
        r = read_pcrs(t, ret->pcrs, err);
        timing_add(TIMING_TPM_PCR_READ, t_us);
        if (r < 0)
            return r;
        off = 0;
        if (Tss2_MU_TPMS_ATTEST_Unmarshal(ret->attest, ret->attest_size, &off, &parsed) !=
                TSS2_RC_SUCCESS ||
            parsed.type != TPM2_ST_ATTEST_QUOTE ||
            parsed.attested.quote.pcrDigest.size != sizeof(digest))
            return bg_err_set(err, -EIO, "TPM returned a malformed quote");
        /* TPM 2.0 Part 3, 18.4: pcrDigest = H(PCR values in selection order). */
        unsigned int dlen = 0;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        for (unsigned pcr = 0; ok && pcr < 12; pcr++)
            ok = EVP_DigestUpdate(md, ret->pcrs[pcr], 32);
        ok = ok && EVP_DigestFinal_ex(md, digest, &dlen);
        EVP_MD_CTX_free(md);
        if (!ok)
            return bg_err_set(err, -EIO, "sha256 failed");
        ret->tries = attempt;
        if (memcmp(digest, parsed.attested.quote.pcrDigest.buffer, sizeof(digest)) == 0)
            return 0;
        r = bg_err_set(err, -EAGAIN, "PCRs changed between Quote and PCR_Read");
    }
    return bg_err_prefix(err, r, "after %d attempts", TPM_QUOTE_TRIES);
}

/* An unbound HMAC session salted with the EK, used only for response
 * parameter encryption of ActivateCredential: without it the recovered seed
 * (certInfo) crosses the TPM bus in clear (TPM 2.0 Part 1, "Session-based
 * Encryption"). ESYS sends the salt to the EK with RSA-OAEP (RSA EK) or as
 * ECDH with an ephemeral key (ECC EK) (Part 1, "Salted Session" and "Secret
 * Sharing" annexes), so the session key is unknown to a passive bus observer.
 * AES-128-CFB is the EK template's own symmetric algorithm. */
static int tpm_start_salted_session(tpm_ctx *t, ESYS_TR *ret, bg_err *err)
{
    TPMT_SYM_DEF sym = {
        .algorithm = TPM2_ALG_AES,
        .keyBits = {.aes = 128},
        .mode = {.aes = TPM2_ALG_CFB},
    };
    ESYS_TR s = ESYS_TR_NONE;
    TSS2_RC rc;

    rc = Esys_StartAuthSession(t->esys, t->ek, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &sym, TPM2_ALG_SHA256, &s);
    if (rc != TSS2_RC_SUCCESS)
        return tpm_rc_to_errno(rc, err, "StartAuthSession(salted with EK)");
    /* ENCRYPT: the TPM encrypts the first response parameter (certInfo).
     * CONTINUESESSION only keeps ESYS from dropping its handle early; the
     * session is flushed right after the command. */
    rc = Esys_TRSess_SetAttributes(t->esys, s, TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION,
                                   0xff);
    if (rc != TSS2_RC_SUCCESS) {
        (void)Esys_FlushContext(t->esys, s);
        return tpm_rc_to_errno(rc, err, "TRSess_SetAttributes");
    }
    *ret = s;
    return 0;
}

int tpm_activate_credential(tpm_ctx *t, const uint8_t *blob, size_t blob_size,
                            const uint8_t *secret, size_t secret_size, uint8_t *ret_seed,
                            size_t seed_cap, size_t *ret_seed_size, bg_err *err)
{
    TPM2B_ID_OBJECT cred = {0};
    TPM2B_ENCRYPTED_SECRET enc = {0};
    TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_NULL};
    TPM2B_NONCE empty_nonce = {0};
    TPM2B_DIGEST empty_digest = {0};
    TPM2B_DIGEST *seed = NULL;
    ESYS_TR session = ESYS_TR_NONE, enc_session = ESYS_TR_NONE;
    TSS2_RC rc;
    int r = 0;

    if (t->ak == ESYS_TR_NONE || t->ek == ESYS_TR_NONE)
        return bg_err_set(err, -EINVAL, "EK and AK must be loaded");
    /* Both arrive from the network: the unmarshallers check every size, and
     * nothing may follow the structure. */
    size_t off = 0;
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, blob_size, &off, &cred) != TSS2_RC_SUCCESS ||
        off != blob_size)
        return bg_err_set(err, -EBADMSG, "credential blob is not one TPM2B_ID_OBJECT (%zu bytes)",
                          blob_size);
    off = 0;
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secret_size, &off, &enc) !=
            TSS2_RC_SUCCESS ||
        off != secret_size)
        return bg_err_set(err, -EBADMSG,
                          "encrypted secret is not one TPM2B_ENCRYPTED_SECRET (%zu bytes)",
                          secret_size);

    /* The EK's authPolicy is policy A: PolicySecret(TPM_RH_ENDORSEMENT) (EK
     * Credential Profile 2.x B.6), so its USER/ADMIN role needs a policy session. */
    rc = Esys_StartAuthSession(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session);
    if (rc != TSS2_RC_SUCCESS)
        return tpm_rc_to_errno(rc, err, "StartAuthSession");
    rc = Esys_PolicySecret(t->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, &empty_nonce, &empty_digest, &empty_nonce, 0, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = tpm_rc_to_errno(rc, err, "PolicySecret(endorsement)");
        goto out;
    }
    r = tpm_start_salted_session(t, &enc_session, err);
    if (r < 0)
        goto out;
    rc = Esys_ActivateCredential(t->esys, t->ak, t->ek, ESYS_TR_PASSWORD, session, enc_session,
                                 &cred, &enc, &seed);
    if (rc != TSS2_RC_SUCCESS) {
        r = tpm_rc_to_errno(rc, err, "ActivateCredential");
        /* Format-1 errors here (integrity, value, size, ...) mean the
         * credential was not made for this EK/AK pair. */
        if (r == -EIO && (rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && (rc & TPM2_RC_FMT1))
            r = -EKEYREJECTED;
        goto out;
    }
    if (seed->size > seed_cap)
        r = bg_err_set(err, -ENOBUFS, "credential of %u bytes", seed->size);
    else {
        memcpy(ret_seed, seed->buffer, seed->size);
        *ret_seed_size = seed->size;
    }
    secmem_wipe(seed, sizeof(*seed));
    Esys_Free(seed);
out:
    secmem_wipe(&cred, sizeof(cred));
    if (enc_session != ESYS_TR_NONE)
        (void)Esys_FlushContext(t->esys, enc_session);
    if (session != ESYS_TR_NONE)
        (void)Esys_FlushContext(t->esys, session);
    return r;
}
