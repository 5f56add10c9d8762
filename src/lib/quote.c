/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "quote.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "cursor.h"
#include "verdict.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MD_CTX *, EVP_MD_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free)

/* One spelling per verdict: the server's table (verdict.h). */
const char *quote_verdict_name(quote_verdict v)
{
    return verdict_name(verdict_from_quote(v));
}

/* ---- PCR selections ---- */

int quote_selection_parse(const char *spec, quote_selection *ret, bg_err *err)
{
    quote_selection sel = {0};
    const char *p = spec;

    if (!spec || !*spec)
        return bg_err_set(err, -EINVAL, "empty PCR selection");
    while (*p) {
        char alg[16];
        size_t n = strcspn(p, ":");
        const tpmalg *a;
        uint32_t mask = 0;

        if (p[n] != ':' || n == 0 || n >= sizeof(alg))
            return bg_err_set(err, -EINVAL, "PCR selection '%s': expected ALG:PCRS", spec);
        memcpy(alg, p, n);
        alg[n] = 0;
        a = tpmalg_by_name(alg);
        if (!a)
            return bg_err_set(err, -EINVAL, "PCR selection '%s': unknown bank '%s'", spec, alg);
        if (sel.n_banks >= QUOTE_MAX_BANKS)
            return bg_err_set(err, -EINVAL, "PCR selection '%s': more than %u banks", spec,
                              QUOTE_MAX_BANKS);
        p += n + 1;
        for (;;) {
            char *end;
            unsigned long lo, hi;
            if (*p < '0' || *p > '9')
                return bg_err_set(err, -EINVAL, "PCR selection '%s': expected a PCR number", spec);
            lo = strtoul(p, &end, 10);
            hi = lo;
            p = end;
            if (*p == '-') {
                p++;
                if (*p < '0' || *p > '9')
                    return bg_err_set(err, -EINVAL, "PCR selection '%s': bad range", spec);
                hi = strtoul(p, &end, 10);
                p = end;
            }
            if (lo > hi || hi >= PCR_COUNT)
                return bg_err_set(err, -EINVAL, "PCR selection '%s': PCR out of range 0..%u", spec,
                                  PCR_COUNT - 1);
            for (unsigned long i = lo; i <= hi; i++)
                mask |= 1u << i;
            if (*p != ',')
                break;
            p++;
        }
        sel.banks[sel.n_banks].alg = a->id;
        sel.banks[sel.n_banks].mask = mask;
        sel.n_banks++;
        if (*p == '+' && p[1])
            p++;
        else if (*p)
            return bg_err_set(err, -EINVAL, "PCR selection '%s': unexpected '%c'", spec, *p);
    }
    *ret = sel;
    return 0;
}

void quote_selection_format(const quote_selection *sel, char *buf, size_t size)
{
    size_t off = 0;

#define APPEND(...)                                                                                \
    do {                                                                                           \
        int _n = snprintf(buf + off, size - off, __VA_ARGS__);                                     \
        if (_n < 0 || (size_t)_n >= size - off)                                                    \
            return;                                                                                \
        off += (size_t)_n;                                                                         \
    } while (0)

    if (size == 0)
        return;
    buf[0] = 0;
    for (unsigned b = 0; b < sel->n_banks; b++) {
        const tpmalg *a = tpmalg_by_id(sel->banks[b].alg);
        bool first = true;
        if (b > 0)
            APPEND("+");
        if (a)
            APPEND("%s:", a->name);
        else
            APPEND("0x%04x:", sel->banks[b].alg);
        for (unsigned i = 0; i < PCR_COUNT; i++)
            if (sel->banks[b].mask & (1u << i)) {
                APPEND("%s%u", first ? "" : ",", i);
                first = false;
            }
    }
#undef APPEND
}

bool quote_selection_equal(const quote_selection *a, const quote_selection *b)
{
    if (a->n_banks != b->n_banks)
        return false;
    for (unsigned i = 0; i < a->n_banks; i++)
        if (a->banks[i].alg != b->banks[i].alg || a->banks[i].mask != b->banks[i].mask)
            return false;
    return true;
}

int quote_selection_from_tpml(const TPML_PCR_SELECTION *tpml, quote_selection *ret, bg_err *err)
{
    quote_selection sel = {0};

    if (tpml->count > QUOTE_MAX_BANKS)
        return bg_err_set(err, -EBADMSG, "PCR selection has %u banks, more than %u", tpml->count,
                          QUOTE_MAX_BANKS);
    for (uint32_t i = 0; i < tpml->count; i++) {
        const TPMS_PCR_SELECTION *s = &tpml->pcrSelections[i];
        uint32_t mask = 0;
        if (!tpmalg_by_id(s->hash))
            return bg_err_set(err, -EBADMSG, "PCR selection bank %u: unknown hash 0x%04x", i,
                              s->hash);
        if (s->sizeofSelect > sizeof(s->pcrSelect))
            return bg_err_set(err, -EBADMSG, "PCR selection bank %u: sizeofSelect %u", i,
                              s->sizeofSelect);
        for (unsigned j = 0; j < s->sizeofSelect; j++)
            for (unsigned bit = 0; bit < 8; bit++)
                if (s->pcrSelect[j] & (1u << bit)) {
                    if (j * 8 + bit >= PCR_COUNT)
                        return bg_err_set(err, -EBADMSG,
                                          "PCR selection bank %u selects PCR %u (only 0..%u)", i,
                                          j * 8 + bit, PCR_COUNT - 1);
                    mask |= 1u << (j * 8 + bit);
                }
        sel.banks[i].alg = s->hash;
        sel.banks[i].mask = mask;
    }
    sel.n_banks = tpml->count;
    *ret = sel;
    return 0;
}

int quote_pcr_digest(const quote_selection *sel, const pcr_bank *banks, size_t n_banks,
                     uint16_t hash_alg, uint8_t *ret, size_t *ret_size, bg_err *err)
{
    const EVP_MD *md = tpmalg_md(hash_alg);
    _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned out = 0;

    if (!md)
        return bg_err_set(err, -EOPNOTSUPP, "hash 0x%04x not supported", hash_alg);
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL))
        return bg_err_set(err, -ENOMEM, "cannot start the PCR digest");
    /* TPM 2.0 Part 3 §18.4 / Part 1 §17.6.7: digest of the concatenated PCR
     * values in selection order. */
    for (unsigned b = 0; b < sel->n_banks; b++) {
        const tpmalg *a = tpmalg_by_id(sel->banks[b].alg);
        const pcr_bank *bank = NULL;
        for (size_t k = 0; k < n_banks; k++)
            if (banks[k].alg == sel->banks[b].alg) {
                bank = &banks[k];
                break;
            }
        if (!a)
            return bg_err_set(err, -ENOENT, "PCR bank 0x%04x unknown", sel->banks[b].alg);
        for (unsigned i = 0; i < PCR_COUNT; i++) {
            if (!(sel->banks[b].mask & (1u << i)))
                continue;
            if (!bank || !(bank->mask & (1u << i)) || bank->digest_size != a->size)
                return bg_err_set(err, -ENOENT, "no value for PCR %s:%u", a->name, i);
            if (!EVP_DigestUpdate(ctx, bank->pcr[i], a->size))
                return bg_err_set(err, -EIO, "PCR digest failed");
        }
    }
    if (!EVP_DigestFinal_ex(ctx, ret, &out))
        return bg_err_set(err, -EIO, "PCR digest failed");
    *ret_size = out;
    return 0;
}

/* ---- raw parsers ---- */

int quote_parse_attest(const uint8_t *buf, size_t size, TPMS_ATTEST *ret, bg_err *err)
{
    size_t off = 0;
    TSS2_RC rc;

    if (size > QUOTE_MAX_ATTEST_SIZE)
        return bg_err_set(err, -EBADMSG, "attest is %zu bytes, more than %u", size,
                          QUOTE_MAX_ATTEST_SIZE);
    memset(ret, 0, sizeof(*ret));
    rc = Tss2_MU_TPMS_ATTEST_Unmarshal(buf, size, &off, ret);
    if (rc != TSS2_RC_SUCCESS)
        return bg_err_set(err, -EBADMSG, "TPMS_ATTEST does not parse (tss2 rc 0x%x)", rc);
    if (off != size)
        return bg_err_set(err, -EBADMSG, "offset %zu: %zu trailing bytes after TPMS_ATTEST", off,
                          size - off);
    return 0;
}

int quote_parse_signature(const uint8_t *buf, size_t size, TPMT_SIGNATURE *ret, bg_err *err)
{
    size_t off = 0;
    TSS2_RC rc;

    if (size > QUOTE_MAX_SIG_SIZE)
        return bg_err_set(err, -EBADMSG, "signature is %zu bytes, more than %u", size,
                          QUOTE_MAX_SIG_SIZE);
    memset(ret, 0, sizeof(*ret));
    rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(buf, size, &off, ret);
    if (rc != TSS2_RC_SUCCESS)
        return bg_err_set(err, -EBADMSG, "TPMT_SIGNATURE does not parse (tss2 rc 0x%x)", rc);
    if (off != size)
        return bg_err_set(err, -EBADMSG, "offset %zu: %zu trailing bytes after TPMT_SIGNATURE", off,
                          size - off);
    return 0;
}

/* ---- verification ---- */

static int verdict(quote_result *ret, quote_verdict v, const char *fmt, ...) _printf_(3, 4);
static int verdict(quote_result *ret, quote_verdict v, const char *fmt, ...)
{
    va_list ap;
    ret->verdict = v;
    va_start(ap, fmt);
    vsnprintf(ret->reason, sizeof(ret->reason), fmt, ap);
    va_end(ap);
    return 0;
}

/* TPM ECDSA r, s (big-endian TPM2B) -> DER ECDSA-Sig-Value for OpenSSL. */
static int ecdsa_to_der(const TPMS_SIGNATURE_ECC *ecc, uint8_t **ret, size_t *ret_size)
{
    _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(ecc->signatureR.buffer, ecc->signatureR.size, NULL);
    BIGNUM *s = BN_bin2bn(ecc->signatureS.buffer, ecc->signatureS.size, NULL);
    unsigned char *der = NULL;
    int len;

    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        return -ENOMEM;
    }
    len = i2d_ECDSA_SIG(sig, &der);
    if (len <= 0)
        return -ENOMEM;
    *ret = der;
    *ret_size = (size_t)len;
    return 0;
}

static bool hash_ok(uint16_t h)
{
    return h == TPM2_ALG_SHA256 || h == TPM2_ALG_SHA384;
}

/* The AK's fixed scheme, or TPM2_ALG_NULL when the key leaves it open. */
static void ak_scheme(const tpmpub *ak, uint16_t *ret_scheme, uint16_t *ret_hash)
{
    *ret_scheme = TPM2_ALG_NULL;
    *ret_hash = TPM2_ALG_NULL;
    if (!ak->has_public)
        return;
    if (ak->public.type == TPM2_ALG_ECC) {
        *ret_scheme = ak->public.parameters.eccDetail.scheme.scheme;
        *ret_hash = ak->public.parameters.eccDetail.scheme.details.anySig.hashAlg;
    } else if (ak->public.type == TPM2_ALG_RSA) {
        *ret_scheme = ak->public.parameters.rsaDetail.scheme.scheme;
        *ret_hash = ak->public.parameters.rsaDetail.scheme.details.anySig.hashAlg;
    }
}

/* Step 2. Returns 0 with a verdict set in ret (VALID = verified), or -errno. */
static int check_signature(const tpmpub *ak, const uint8_t *attest, size_t attest_size,
                           const TPMT_SIGNATURE *sig, quote_result *ret, bg_err *err)
{
    int key_id = EVP_PKEY_get_base_id(ak->pkey);
    uint16_t fixed_scheme, fixed_hash, hash;
    const uint8_t *sigbytes;
    size_t sigsize;
    _cleanup_(freep) uint8_t *der = NULL;
    _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    const EVP_MD *md;
    int r;

    if (!ctx)
        return bg_err_set(err, -ENOMEM, "out of memory");
    switch (sig->sigAlg) {
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS:
        if (key_id != EVP_PKEY_RSA)
            return verdict(ret, QUOTE_SIGNATURE_SCHEME, "RSA signature (0x%04x) but AK is not RSA",
                           sig->sigAlg);
        hash = sig->signature.rsassa.hash;
        sigbytes = sig->signature.rsassa.sig.buffer;
        sigsize = sig->signature.rsassa.sig.size;
        break;
    case TPM2_ALG_ECDSA:
        if (key_id != EVP_PKEY_EC)
            return verdict(ret, QUOTE_SIGNATURE_SCHEME, "ECDSA signature but AK is not ECC");
        hash = sig->signature.ecdsa.hash;
        r = ecdsa_to_der(&sig->signature.ecdsa, &der, &sigsize);
        if (r < 0)
            return bg_err_set(err, r, "cannot encode the ECDSA signature");
        sigbytes = der;
        break;
    default:
        return verdict(ret, QUOTE_SIGNATURE_SCHEME,
                       "signature scheme 0x%04x is not RSASSA, RSAPSS or ECDSA", sig->sigAlg);
    }
    ret->sig_alg = sig->sigAlg;
    ret->sig_hash = hash;
    if (!hash_ok(hash))
        return verdict(ret, QUOTE_SIGNATURE_SCHEME, "signature hash 0x%04x is not sha256/sha384",
                       hash);
    ak_scheme(ak, &fixed_scheme, &fixed_hash);
    if (fixed_scheme != TPM2_ALG_NULL && (fixed_scheme != sig->sigAlg || fixed_hash != hash))
        return verdict(ret, QUOTE_SIGNATURE_SCHEME,
                       "signature scheme 0x%04x/hash 0x%04x is not the AK's fixed scheme "
                       "0x%04x/0x%04x",
                       sig->sigAlg, hash, fixed_scheme, fixed_hash);
    md = tpmalg_md(hash);
    if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, ak->pkey) <= 0)
        return bg_err_set(err, -EIO, "cannot start signature verification");
    if (sig->sigAlg == TPM2_ALG_RSAPSS) {
        /* TPMs use either the maximum salt or a digest-sized salt
         * (TPM 2.0 Part 1 Annex B.7); the salt length is recovered. */
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) <= 0)
            return bg_err_set(err, -EIO, "cannot set up RSA-PSS");
    } else if (sig->sigAlg == TPM2_ALG_RSASSA) {
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
            return bg_err_set(err, -EIO, "cannot set up RSASSA");
    }
    r = EVP_DigestVerify(ctx, sigbytes, sigsize, attest, attest_size);
    if (r != 1)
        return verdict(ret, QUOTE_BAD_SIGNATURE,
                       "signature over the attest does not verify "
                       "with the AK");
    ret->verdict = QUOTE_VALID;
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int quote_verify_ak(const quote_evidence *ev, quote_result *ret, bg_err *err)
{
    tpmpub_ak_check ak;
    char a[128];

    if (!ev || !ret || !ev->ak || !ev->attest || !ev->sig || !ev->required ||
        (!ev->banks && ev->n_banks > 0))
        return bg_err_set(err, -EINVAL, "quote evidence incomplete");
    memset(ret, 0, sizeof(*ret));

    /* 1. AK attributes */
    ak = tpmpub_check_ak(ev->ak, a, sizeof(a));
    if (ak == TPMPUB_AK_NO_TPM_PUBLIC && ev->allow_pem_ak)
        ret->ak_unchecked = true;
    else if (ak != TPMPUB_AK_OK)
        return verdict(ret, QUOTE_AK_REFUSED, "AK refused (%s): %s", tpmpub_ak_check_name(ak), a);
    if (ev->pinned_ak_name &&
        (ev->ak->name_size != ev->pinned_ak_name_size ||
         CRYPTO_memcmp(ev->ak->name, ev->pinned_ak_name, ev->pinned_ak_name_size) != 0))
        return verdict(ret, QUOTE_AK_NAME_MISMATCH,
                       "AK name differs from the one pinned at enrollment");
    ret->verdict = QUOTE_VALID;
    return 0;
}

int quote_verify(const quote_evidence *ev, quote_result *ret, bg_err *err)
{
    int r = quote_verify_ak(ev, ret, err);
    if (r < 0 || ret->verdict != QUOTE_VALID)
        return r;
    return quote_verify_signed(ev, ret, err);
}

int quote_verify_signed(const quote_evidence *ev, quote_result *ret, bg_err *err)
{
    TPMT_SIGNATURE sig;
    const TPMS_QUOTE_INFO *qi;
    uint8_t digest[TPMALG_MAX_DIGEST];
    size_t digest_size = 0;
    char a[128], b[128];
    bg_err perr = {0};
    int r;

    /* 2. signature over the exact attest bytes */
    if (quote_parse_signature(ev->sig, ev->sig_size, &sig, &perr) < 0)
        return verdict(ret, QUOTE_SIGNATURE_MALFORMED, "signature: %s", perr.msg);
    r = check_signature(ev->ak, ev->attest, ev->attest_size, &sig, ret, err);
    if (r < 0 || ret->verdict != QUOTE_VALID)
        return r;

    /* 3. the signed bytes must be a TPMS_ATTEST */
    if (quote_parse_attest(ev->attest, ev->attest_size, &ret->attest, &perr) < 0)
        return verdict(ret, QUOTE_ATTEST_MALFORMED, "attest: %s", perr.msg);
    ret->attest_parsed = true;
    ret->clock = ret->attest.clockInfo.clock;
    ret->reset_count = ret->attest.clockInfo.resetCount;
    ret->restart_count = ret->attest.clockInfo.restartCount;
    ret->safe = ret->attest.clockInfo.safe;
    ret->firmware_version = ret->attest.firmwareVersion;

    /* 4. magic: the TPM produced this structure itself (Part 2 §6.2) */
    if (ret->attest.magic != TPM2_GENERATED_VALUE)
        return verdict(ret, QUOTE_BAD_MAGIC, "attest magic 0x%08x is not TPM_GENERATED_VALUE",
                       ret->attest.magic);
    /* 5. type */
    if (ret->attest.type != TPM2_ST_ATTEST_QUOTE)
        return verdict(ret, QUOTE_BAD_TYPE, "attest type 0x%04x is not TPM_ST_ATTEST_QUOTE",
                       ret->attest.type);
    qi = &ret->attest.attested.quote;
    if (quote_selection_from_tpml(&qi->pcrSelect, &ret->selection, &perr) < 0)
        return verdict(ret, QUOTE_ATTEST_MALFORMED, "attest: %s", perr.msg);

    /* 6. nonce: never accept a quote without the verifier's fresh nonce */
    if (!ev->nonce || ev->nonce_size == 0 || all_zero(ev->nonce, ev->nonce_size))
        return verdict(ret, QUOTE_NONCE_MISSING, "the expected nonce is empty or all zero");
    if (ret->attest.extraData.size == 0 ||
        all_zero(ret->attest.extraData.buffer, ret->attest.extraData.size))
        return verdict(ret, QUOTE_NONCE_MISSING, "the quote carries an empty or all-zero nonce");
    if (ret->attest.extraData.size != ev->nonce_size ||
        CRYPTO_memcmp(ret->attest.extraData.buffer, ev->nonce, ev->nonce_size) != 0)
        return verdict(ret, QUOTE_NONCE_MISMATCH,
                       "the quote's nonce (extraData, %u bytes) is "
                       "not the expected nonce (%zu bytes)",
                       ret->attest.extraData.size, ev->nonce_size);

    /* 7. selection */
    if (!quote_selection_equal(&ret->selection, ev->required)) {
        quote_selection_format(&ret->selection, a, sizeof(a));
        quote_selection_format(ev->required, b, sizeof(b));
        return verdict(ret, QUOTE_PCR_SELECTION_MISMATCH,
                       "quoted PCR selection %s is not the required %s", a, b);
    }

    /* 8. PCR digest, hashed with the signing hash (Part 3 §18.4) */
    r = quote_pcr_digest(&ret->selection, ev->banks, ev->n_banks, ret->sig_hash, digest,
                         &digest_size, &perr);
    if (r == -ENOENT)
        return verdict(ret, QUOTE_PCR_VALUES_MISSING, "%s", perr.msg);
    if (r < 0)
        return bg_err_set(err, r, "%s", perr.msg);
    if (qi->pcrDigest.size != digest_size ||
        CRYPTO_memcmp(qi->pcrDigest.buffer, digest, digest_size) != 0)
        return verdict(ret, QUOTE_PCR_DIGEST_MISMATCH,
                       "the quoted pcrDigest does not match the given PCR values");

    quote_selection_format(&ret->selection, a, sizeof(a));
    return verdict(ret, QUOTE_VALID,
                   "quote verifies: %s, signature, nonce, selection %s, PCR digest",
                   ret->ak_unchecked ? "AK attributes NOT checked (PEM)" : "AK attributes", a);
}

/* ---- tpm2-tools PCR files ---- */

/* tpm2-tools (lib/pcr.c pcr_fwrite_serialized) fwrite()s its in-memory
 * structs with the integers made little-endian: TPML_PCR_SELECTION (u32
 * count, 16 x TPMS_PCR_SELECTION {u16 hash, u8 sizeofSelect, u8
 * pcrSelect[4], 1 pad}), then a u32 count (older releases: size_t, u64), then
 * count x TPML_DIGEST (u32 count, 8 x TPM2B_DIGEST {u16 size, u8 buffer[64]}).
 * The layout is read at fixed offsets through the cursor, never overlaid. */
#define T2T_NUM_BANKS      16u
#define T2T_SEL_ENTRY      8u
#define T2T_SEL_SIZE       (4u + T2T_NUM_BANKS * T2T_SEL_ENTRY)
#define T2T_DIGESTS        8u
#define T2T_DIGEST_ENTRY   66u
#define T2T_TPML_DIGEST    (4u + T2T_DIGESTS * T2T_DIGEST_ENTRY)
#define T2T_MAX_PCR_VALUES 64u /* tpm2-tools' TPM2_MAX_PCRS */
_Static_assert(sizeof(TPML_PCR_SELECTION) == T2T_SEL_SIZE, "tss2 TPML_PCR_SELECTION layout");
_Static_assert(sizeof(TPML_DIGEST) == T2T_TPML_DIGEST, "tss2 TPML_DIGEST layout");

int quote_parse_tpm2_tools_pcrs(const uint8_t *buf, size_t size, pcr_bank *ret_banks,
                                size_t max_banks, size_t *ret_n_banks, quote_selection *ret_sel,
                                bg_err *err)
{
    cursor c = cursor_init(buf, size);
    TPML_PCR_SELECTION tpml = {0};
    quote_selection sel;
    uint32_t count, n_values;
    uint64_t n_values64;
    size_t rest, vi = 0, di = 0, values_off;
    int r;

    r = cursor_u32le(&c, &count, "TPML_PCR_SELECTION.count", err);
    if (r < 0)
        return r;
    if (count > QUOTE_MAX_BANKS || count > max_banks)
        return bg_err_set(err, -EBADMSG, "offset 0: %u PCR banks, at most %zu", count,
                          max_banks < QUOTE_MAX_BANKS ? max_banks : QUOTE_MAX_BANKS);
    tpml.count = count;
    for (uint32_t i = 0; i < T2T_NUM_BANKS; i++) {
        uint16_t hash;
        uint8_t sz;
        const uint8_t *bits;
        if ((r = cursor_u16le(&c, &hash, "TPMS_PCR_SELECTION.hash", err)) < 0 ||
            (r = cursor_u8(&c, &sz, "TPMS_PCR_SELECTION.sizeofSelect", err)) < 0 ||
            (r = cursor_bytes(&c, 5, &bits, "TPMS_PCR_SELECTION.pcrSelect", err)) < 0)
            return r;
        if (i < count) {
            tpml.pcrSelections[i].hash = hash;
            tpml.pcrSelections[i].sizeofSelect = sz;
            memcpy(tpml.pcrSelections[i].pcrSelect, bits, 4);
        }
    }
    r = quote_selection_from_tpml(&tpml, &sel, err);
    if (r < 0)
        return bg_err_prefix(err, r, "offset 0: PCR selection");

    /* u32 count (tpm2-tools >= 5) or u64 (size_t, 4.x): the file length decides. */
    r = cursor_u32le(&c, &n_values, "PCR value count", err);
    if (r < 0)
        return r;
    rest = cursor_left(&c);
    if (n_values <= T2T_MAX_PCR_VALUES && rest == (size_t)n_values * T2T_TPML_DIGEST) {
        n_values64 = n_values;
    } else {
        c.off -= 4;
        r = cursor_u64le(&c, &n_values64, "PCR value count", err);
        if (r < 0)
            return r;
        rest = cursor_left(&c);
        if (n_values64 > T2T_MAX_PCR_VALUES || rest != n_values64 * T2T_TPML_DIGEST)
            return bg_err_set(err, -EBADMSG,
                              "offset %u: PCR value count does not match the %zu bytes that "
                              "follow",
                              T2T_SEL_SIZE, rest);
    }
    values_off = c.off;

    memset(ret_banks, 0, sizeof(*ret_banks) * sel.n_banks);
    for (unsigned b = 0; b < sel.n_banks; b++) {
        const tpmalg *a = tpmalg_by_id(sel.banks[b].alg);
        ret_banks[b].alg = a->id;
        ret_banks[b].digest_size = a->size;
        for (unsigned i = 0; i < PCR_COUNT; i++) {
            size_t at;
            uint16_t dsize;
            uint32_t dcount;
            if (!(sel.banks[b].mask & (1u << i)))
                continue;
            if (vi >= n_values64)
                return bg_err_set(err, -EBADMSG, "PCR file has no value for %s:%u", a->name, i);
            at = values_off + vi * T2T_TPML_DIGEST;
            c.off = at;
            if ((r = cursor_u32le(&c, &dcount, "TPML_DIGEST.count", err)) < 0)
                return r;
            if (dcount > T2T_DIGESTS || di >= dcount)
                return bg_err_set(err, -EBADMSG, "offset %zu: TPML_DIGEST count %u invalid", at,
                                  dcount);
            c.off = at + 4 + di * T2T_DIGEST_ENTRY;
            if ((r = cursor_u16le(&c, &dsize, "TPM2B_DIGEST.size", err)) < 0)
                return r;
            if (dsize != a->size)
                return bg_err_set(err, -EBADMSG, "offset %zu: %s:%u value has %u bytes, not %zu",
                                  c.off - 2, a->name, i, dsize, a->size);
            if ((r = cursor_copy(&c, ret_banks[b].pcr[i], dsize, "PCR value", err)) < 0)
                return r;
            ret_banks[b].mask |= 1u << i;
            if (++di >= dcount) {
                di = 0;
                vi++;
            }
        }
    }
    *ret_n_banks = sel.n_banks;
    if (ret_sel)
        *ret_sel = sel;
    return 0;
}

int quote_parse_pcr_values(const uint8_t *buf, size_t size, const quote_selection *sel,
                           pcr_bank *ret_banks, size_t max_banks, size_t *ret_n_banks, bg_err *err)
{
    cursor c = cursor_init(buf, size);
    size_t need = 0;
    int r;

    if (sel->n_banks > max_banks)
        return bg_err_set(err, -EINVAL, "%u banks, room for %zu", sel->n_banks, max_banks);
    for (unsigned b = 0; b < sel->n_banks; b++) {
        const tpmalg *a = tpmalg_by_id(sel->banks[b].alg);
        if (!a)
            return bg_err_set(err, -EINVAL, "bank 0x%04x unknown", sel->banks[b].alg);
        need += (size_t)__builtin_popcount(sel->banks[b].mask) * a->size;
    }
    if (size != need)
        return bg_err_set(err, -EBADMSG, "PCR values file has %zu bytes, the selection needs %zu",
                          size, need);
    memset(ret_banks, 0, sizeof(*ret_banks) * sel->n_banks);
    for (unsigned b = 0; b < sel->n_banks; b++) {
        const tpmalg *a = tpmalg_by_id(sel->banks[b].alg);
        ret_banks[b].alg = a->id;
        ret_banks[b].digest_size = a->size;
        for (unsigned i = 0; i < PCR_COUNT; i++) {
            if (!(sel->banks[b].mask & (1u << i)))
                continue;
            r = cursor_copy(&c, ret_banks[b].pcr[i], a->size, "PCR value", err);
            if (r < 0)
                return r;
            ret_banks[b].mask |= 1u << i;
        }
    }
    *ret_n_banks = sel->n_banks;
    return 0;
}
