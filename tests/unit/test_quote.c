/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Quote verification, step by step and in order: attests are built with
 * tss2-mu and signed here with OpenSSL keys whose TPM public areas the test
 * makes, so every verdict can be provoked. Expected PCR digests are computed
 * here directly with EVP, not with the code under test. */
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
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "quote.h"

#define AK_ATTRS                                                                                   \
    (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |                    \
     TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH)

static EVP_PKEY *ec_key, *rsa_key;
static tpmpub *ec_ak, *rsa_ak, *rsa_ak_open; /* rsa_ak_open: scheme NULL */
static pcr_bank bank;
static const uint8_t nonce[32] = {0x11, 0x22, 0x33, 0x44, 5, 6, 7, 8, 9, 10, 11, 12};

static tpmpub *make_ak(EVP_PKEY *key, uint16_t scheme)
{
    TPMT_PUBLIC pub = {0};
    tpmpub *ret = NULL;
    bg_err err = {0};

    pub.nameAlg = TPM2_ALG_SHA256;
    pub.objectAttributes = AK_ATTRS;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        uint8_t pt[65];
        size_t len = 0;
        pub.type = TPM2_ALG_ECC;
        pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub.parameters.eccDetail.scheme.scheme = scheme;
        pub.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
        pub.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        assert_true(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, 65, &len));
        pub.unique.ecc.x.size = 32;
        memcpy(pub.unique.ecc.x.buffer, pt + 1, 32);
        pub.unique.ecc.y.size = 32;
        memcpy(pub.unique.ecc.y.buffer, pt + 33, 32);
    } else {
        BIGNUM *n = NULL;
        pub.type = TPM2_ALG_RSA;
        pub.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        pub.parameters.rsaDetail.scheme.scheme = scheme;
        pub.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
        pub.parameters.rsaDetail.keyBits = 2048;
        assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n));
        pub.unique.rsa.size = 256;
        BN_bn2binpad(n, pub.unique.rsa.buffer, 256);
        BN_free(n);
    }
    assert_int_equal(tpmpub_from_public(&pub, &ret, &err), 0);
    return ret;
}

static int setup(void **state)
{
    ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!ec_key || !rsa_key)
        return -1;
    ec_ak = make_ak(ec_key, TPM2_ALG_ECDSA);
    rsa_ak = make_ak(rsa_key, TPM2_ALG_RSASSA);
    rsa_ak_open = make_ak(rsa_key, TPM2_ALG_NULL);
    bank.alg = TPMALG_SHA256;
    bank.digest_size = 32;
    bank.mask = 0xFFFFFF;
    for (unsigned i = 0; i < PCR_COUNT; i++)
        memset(bank.pcr[i], (int)(0xA0 + i), 32);
    return 0;
}

static int teardown(void **state)
{
    tpmpub_free(ec_ak);
    tpmpub_free(rsa_ak);
    tpmpub_free(rsa_ak_open);
    EVP_PKEY_free(ec_key);
    EVP_PKEY_free(rsa_key);
    return 0;
}

/* What to build and how to sign it. */
typedef struct spec {
    uint32_t magic;
    uint16_t type;
    const uint8_t *extra;
    size_t extra_size;
    uint32_t sel_mask; /* sha256 PCRs quoted */
    uint16_t digest_hash;
    int corrupt_digest;
    int trailing_byte; /* appended to the signed attest */
    uint16_t sig_alg;  /* TPM2_ALG_ECDSA / RSASSA / RSAPSS */
    uint16_t sig_hash;
    int flip_attest_after_signing;
    int flip_pcr_after_signing; /* change PCR 5 in the values given to the verifier */
} spec;

static spec default_spec(uint16_t sig_alg)
{
    return (spec){.magic = TPM2_GENERATED_VALUE,
                  .type = TPM2_ST_ATTEST_QUOTE,
                  .extra = nonce,
                  .extra_size = sizeof(nonce),
                  .sel_mask = 0xFFF,
                  .digest_hash = TPM2_ALG_SHA256,
                  .sig_alg = sig_alg,
                  .sig_hash = TPM2_ALG_SHA256};
}

static size_t build_attest(const spec *s, uint8_t *buf, size_t size)
{
    TPMS_ATTEST a = {0};
    size_t off = 0;
    const EVP_MD *md = s->digest_hash == TPM2_ALG_SHA384 ? EVP_sha384() : EVP_sha256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned len = 0;

    a.magic = s->magic;
    a.type = s->type;
    a.qualifiedSigner.size = 34;
    a.extraData.size = (UINT16)s->extra_size;
    memcpy(a.extraData.buffer, s->extra, s->extra_size);
    a.clockInfo.clock = 123456;
    a.clockInfo.resetCount = 3;
    a.clockInfo.restartCount = 1;
    a.clockInfo.safe = 1;
    a.firmwareVersion = 0x2019102300163636ull;
    a.attested.quote.pcrSelect.count = 1;
    a.attested.quote.pcrSelect.pcrSelections[0].hash = TPM2_ALG_SHA256;
    a.attested.quote.pcrSelect.pcrSelections[0].sizeofSelect = 3;
    for (unsigned j = 0; j < 3; j++)
        a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect[j] = (uint8_t)(s->sel_mask >> 8 * j);
    /* pcrDigest = H(PCR values in ascending order) */
    assert_true(EVP_DigestInit_ex(ctx, md, NULL));
    for (unsigned i = 0; i < PCR_COUNT; i++)
        if (s->sel_mask & (1u << i))
            assert_true(EVP_DigestUpdate(ctx, bank.pcr[i], 32));
    assert_true(EVP_DigestFinal_ex(ctx, a.attested.quote.pcrDigest.buffer, &len));
    a.attested.quote.pcrDigest.size = (UINT16)len;
    if (s->corrupt_digest)
        a.attested.quote.pcrDigest.buffer[0] ^= 1;
    EVP_MD_CTX_free(ctx);
    assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(&a, buf, size, &off), TSS2_RC_SUCCESS);
    if (s->trailing_byte)
        buf[off++] = 0;
    return off;
}

static size_t sign_attest(const spec *s, EVP_PKEY *key, const uint8_t *msg, size_t msg_size,
                          uint8_t *out, size_t out_size)
{
    const EVP_MD *md = s->sig_hash == TPM2_ALG_SHA384 ? EVP_sha384() : EVP_sha256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t sigbuf[512];
    size_t siglen = sizeof(sigbuf), off = 0;
    TPMT_SIGNATURE sig = {0};

    assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, key), 1);
    if (s->sig_alg == TPM2_ALG_RSAPSS) {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0);
    }
    assert_int_equal(EVP_DigestSign(ctx, sigbuf, &siglen, msg, msg_size), 1);
    EVP_MD_CTX_free(ctx);
    sig.sigAlg = s->sig_alg;
    if (s->sig_alg == TPM2_ALG_ECDSA) {
        const unsigned char *p = sigbuf;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
        assert_non_null(es);
        int field = EVP_PKEY_get_bits(key) / 8;
        sig.signature.ecdsa.hash = s->sig_hash;
        sig.signature.ecdsa.signatureR.size = (UINT16)field;
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig.signature.ecdsa.signatureR.buffer, field);
        sig.signature.ecdsa.signatureS.size = (UINT16)field;
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig.signature.ecdsa.signatureS.buffer, field);
        ECDSA_SIG_free(es);
    } else {
        sig.signature.rsassa.hash = s->sig_hash;
        sig.signature.rsassa.sig.size = (UINT16)siglen;
        memcpy(sig.signature.rsassa.sig.buffer, sigbuf, siglen);
    }
    assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out, out_size, &off), TSS2_RC_SUCCESS);
    return off;
}

static bool allow_pem;

static quote_verdict run(const spec *s, const tpmpub *ak, EVP_PKEY *key, const uint8_t *want_nonce,
                         size_t want_nonce_size, const char *required, quote_result *res)
{
    uint8_t attest[1024], sig[1024];
    size_t attest_size, sig_size;
    quote_selection req;
    bg_err err = {0};

    attest_size = build_attest(s, attest, sizeof(attest));
    sig_size = sign_attest(s, key, attest, attest_size, sig, sizeof(sig));
    if (s->flip_attest_after_signing)
        attest[attest_size - 40] ^= 1;
    if (s->flip_pcr_after_signing)
        bank.pcr[5][7] ^= 1;
    assert_int_equal(quote_selection_parse(required, &req, &err), 0);
    quote_evidence ev = {
        .ak = ak,
        .attest = attest,
        .attest_size = attest_size,
        .sig = sig,
        .sig_size = sig_size,
        .nonce = want_nonce,
        .nonce_size = want_nonce_size,
        .banks = &bank,
        .n_banks = 1,
        .required = &req,
        .allow_pem_ak = allow_pem,
    };
    assert_int_equal(quote_verify(&ev, res, &err), 0);
    if (s->flip_pcr_after_signing)
        bank.pcr[5][7] ^= 1;
    return res->verdict;
}

static void expect(const char *what, const spec *s, const tpmpub *ak, EVP_PKEY *key,
                   const uint8_t *want_nonce, size_t want_nonce_size, const char *required,
                   quote_verdict want)
{
    quote_result res;
    quote_verdict got = run(s, ak, key, want_nonce, want_nonce_size, required, &res);
    if (got != want)
        fail_msg("%s: got %s (%s), want %s", what, quote_verdict_name(got), res.reason,
                 quote_verdict_name(want));
    assert_true(strlen(res.reason) > 5);
}

static void test_valid(void **state)
{
    quote_result res;
    spec s = default_spec(TPM2_ALG_ECDSA);

    assert_int_equal(run(&s, ec_ak, ec_key, nonce, sizeof(nonce), "sha256:0-11", &res),
                     QUOTE_VALID);
    assert_true(res.attest_parsed);
    assert_int_equal(res.clock, 123456);
    assert_int_equal(res.reset_count, 3);
    assert_int_equal(res.restart_count, 1);
    assert_true(res.safe);
    assert_true(res.firmware_version == 0x2019102300163636ull);
    assert_int_equal(res.selection.n_banks, 1);
    assert_int_equal(res.selection.banks[0].mask, 0xFFF);
    assert_int_equal(res.sig_alg, TPM2_ALG_ECDSA);

    s = default_spec(TPM2_ALG_RSASSA);
    expect("rsassa", &s, rsa_ak, rsa_key, nonce, sizeof(nonce), "sha256:0-11", QUOTE_VALID);
    /* PSS and sha384 need an AK whose scheme is open */
    s = default_spec(TPM2_ALG_RSAPSS);
    expect("rsapss", &s, rsa_ak_open, rsa_key, nonce, sizeof(nonce), "sha256:0-11", QUOTE_VALID);
    s.sig_hash = s.digest_hash = TPM2_ALG_SHA384;
    expect("rsapss sha384", &s, rsa_ak_open, rsa_key, nonce, sizeof(nonce), "sha256:0-11",
           QUOTE_VALID);
    s = default_spec(TPM2_ALG_RSASSA);
    s.sig_hash = s.digest_hash = TPM2_ALG_SHA384;
    expect("rsassa sha384", &s, rsa_ak_open, rsa_key, nonce, sizeof(nonce), "sha256:0-11",
           QUOTE_VALID);
    /* a short nonce (tpm2_quote -q of 8 bytes) is fine when it matches */
    s = default_spec(TPM2_ALG_ECDSA);
    s.extra_size = 8;
    expect("8-byte nonce", &s, ec_ak, ec_key, nonce, 8, "sha256:0-11", QUOTE_VALID);
}

static void test_each_step(void **state)
{
    spec s;
    uint8_t zero[32] = {0}, other[32];
    tpmpub bad_ak;

    memcpy(other, nonce, 32);
    other[31] ^= 0x80;

    /* 1. AK attributes */
    bad_ak = *ec_ak;
    bad_ak.public.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
    s = default_spec(TPM2_ALG_ECDSA);
    expect("AK without fixedTPM", &s, &bad_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_AK_REFUSED);
    /* 2. signature */
    s.flip_attest_after_signing = 1;
    expect("attest changed after signing", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11",
           QUOTE_BAD_SIGNATURE);
    s = default_spec(TPM2_ALG_RSASSA);
    expect("signed by another key", &s, ec_ak, rsa_key, nonce, 32, "sha256:0-11",
           QUOTE_SIGNATURE_SCHEME);
    s = default_spec(TPM2_ALG_ECDSA);
    s.sig_hash = TPM2_ALG_SHA384;
    expect("hash not the AK's fixed scheme", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11",
           QUOTE_SIGNATURE_SCHEME);
    s = default_spec(TPM2_ALG_RSAPSS);
    expect("PSS but AK fixed to RSASSA", &s, rsa_ak, rsa_key, nonce, 32, "sha256:0-11",
           QUOTE_SIGNATURE_SCHEME);
    /* 3. signed but not a TPMS_ATTEST */
    s = default_spec(TPM2_ALG_ECDSA);
    s.trailing_byte = 1;
    expect("trailing byte", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_ATTEST_MALFORMED);
    /* 4. magic */
    s = default_spec(TPM2_ALG_ECDSA);
    s.magic = 0x12345678;
    expect("magic", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_BAD_MAGIC);
    /* 5. type: a signed TPM_ST_ATTEST_TIME is not a quote */
    s = default_spec(TPM2_ALG_ECDSA);
    s.type = TPM2_ST_ATTEST_TIME;
    expect("attest type", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_BAD_TYPE);
    s = default_spec(TPM2_ALG_ECDSA);
    /* 6. nonce */
    expect("nonce mismatch", &s, ec_ak, ec_key, other, 32, "sha256:0-11", QUOTE_NONCE_MISMATCH);
    expect("nonce length", &s, ec_ak, ec_key, nonce, 31, "sha256:0-11", QUOTE_NONCE_MISMATCH);
    expect("expected nonce all zero", &s, ec_ak, ec_key, zero, 32, "sha256:0-11",
           QUOTE_NONCE_MISSING);
    expect("expected nonce empty", &s, ec_ak, ec_key, nonce, 0, "sha256:0-11", QUOTE_NONCE_MISSING);
    s.extra = zero;
    expect("quote nonce all zero (and caller's too)", &s, ec_ak, ec_key, zero, 32, "sha256:0-11",
           QUOTE_NONCE_MISSING);
    s.extra_size = 0;
    expect("quote without nonce", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_NONCE_MISSING);
    /* 7. selection */
    s = default_spec(TPM2_ALG_ECDSA);
    expect("selection", &s, ec_ak, ec_key, nonce, 32, "sha256:0-7", QUOTE_PCR_SELECTION_MISMATCH);
    expect("selection bank", &s, ec_ak, ec_key, nonce, 32, "sha1:0-11",
           QUOTE_PCR_SELECTION_MISMATCH);
    s.sel_mask = 0x7FF;
    expect("selection without PCR 11", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11",
           QUOTE_PCR_SELECTION_MISMATCH);
    /* 8. digest */
    s = default_spec(TPM2_ALG_ECDSA);
    s.corrupt_digest = 1;
    expect("pcr digest", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_PCR_DIGEST_MISMATCH);
    s = default_spec(TPM2_ALG_RSASSA);
    s.digest_hash = TPM2_ALG_SHA384; /* the TPM uses the signing hash */
    expect("pcr digest hash", &s, rsa_ak, rsa_key, nonce, 32, "sha256:0-11",
           QUOTE_PCR_DIGEST_MISMATCH);
    s = default_spec(TPM2_ALG_ECDSA);
    bank.mask &= ~(1u << 5);
    expect("pcr values missing", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11",
           QUOTE_PCR_VALUES_MISSING);
    bank.mask |= 1u << 5;
    s.flip_pcr_after_signing = 1;
    expect("pcr value changed", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11",
           QUOTE_PCR_DIGEST_MISMATCH);
}

static void test_order(void **state)
{
    spec s = default_spec(TPM2_ALG_ECDSA);
    uint8_t other[32] = {1};
    tpmpub bad_ak = *ec_ak;

    /* bad signature and bad nonce: the signature is reported */
    s.flip_attest_after_signing = 1;
    expect("sig+nonce", &s, ec_ak, ec_key, other, 32, "sha256:0-11", QUOTE_BAD_SIGNATURE);
    /* bad AK and bad signature: the AK */
    bad_ak.public.objectAttributes |= TPMA_OBJECT_ADMINWITHPOLICY;
    expect("ak+sig", &s, &bad_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_AK_REFUSED);
    /* bad magic and bad nonce: the magic */
    s = default_spec(TPM2_ALG_ECDSA);
    s.magic = 0;
    expect("magic+nonce", &s, ec_ak, ec_key, other, 32, "sha256:0-11", QUOTE_BAD_MAGIC);
    /* bad nonce and bad selection and bad digest: the nonce */
    s = default_spec(TPM2_ALG_ECDSA);
    s.corrupt_digest = 1;
    s.sel_mask = 0xFF;
    expect("nonce+sel+digest", &s, ec_ak, ec_key, other, 32, "sha256:0-11", QUOTE_NONCE_MISMATCH);
    /* bad selection and bad digest: the selection */
    expect("sel+digest", &s, ec_ak, ec_key, nonce, 32, "sha256:0-11", QUOTE_PCR_SELECTION_MISMATCH);
}

static void test_malformed(void **state)
{
    uint8_t attest[1024], sig[1024];
    size_t attest_size, sig_size;
    spec s = default_spec(TPM2_ALG_ECDSA);
    quote_selection req;
    quote_result res;
    bg_err err = {0};

    attest_size = build_attest(&s, attest, sizeof(attest));
    sig_size = sign_attest(&s, ec_key, attest, attest_size, sig, sizeof(sig));
    assert_int_equal(quote_selection_parse("sha256:0-11", &req, &err), 0);
    quote_evidence ev = {.ak = ec_ak,
                         .attest = attest,
                         .attest_size = attest_size,
                         .sig = sig,
                         .sig_size = sig_size - 1,
                         .nonce = nonce,
                         .nonce_size = 32,
                         .banks = &bank,
                         .n_banks = 1,
                         .required = &req};
    assert_int_equal(quote_verify(&ev, &res, &err), 0);
    assert_int_equal(res.verdict, QUOTE_SIGNATURE_MALFORMED);
    assert_false(res.attest_parsed);
    ev.sig_size = sig_size;
    sig[0] = 0x00, sig[1] = 0x08; /* sigAlg = KEYEDHASH... not a signature scheme */
    assert_int_equal(quote_verify(&ev, &res, &err), 0);
    assert_true(res.verdict == QUOTE_SIGNATURE_MALFORMED || res.verdict == QUOTE_SIGNATURE_SCHEME);
    /* missing pieces are a caller error, not a verdict */
    ev.required = NULL;
    assert_int_equal(quote_verify(&ev, &res, &err), -EINVAL);
    /* raw parsers refuse trailing bytes */
    attest[attest_size] = 0;
    TPMS_ATTEST a;
    assert_int_equal(quote_parse_attest(attest, attest_size, &a, &err), 0);
    assert_int_equal(quote_parse_attest(attest, attest_size + 1, &a, &err), -EBADMSG);
    assert_int_equal(quote_parse_attest(attest, attest_size - 1, &a, &err), -EBADMSG);
}

static void test_selection(void **state)
{
    quote_selection sel, sel2;
    char buf[128];
    bg_err err = {0};

    assert_int_equal(quote_selection_parse("sha256:0-3,7,9-10+sha1:0", &sel, &err), 0);
    assert_int_equal(sel.n_banks, 2);
    assert_int_equal(sel.banks[0].alg, TPMALG_SHA256);
    assert_int_equal(sel.banks[0].mask, 0x68F);
    assert_int_equal(sel.banks[1].alg, TPMALG_SHA1);
    assert_int_equal(sel.banks[1].mask, 1);
    quote_selection_format(&sel, buf, sizeof(buf));
    assert_string_equal(buf, "sha256:0,1,2,3,7,9,10+sha1:0");
    assert_int_equal(quote_selection_parse(buf, &sel2, &err), 0);
    assert_true(quote_selection_equal(&sel, &sel2));
    static const char *const bad[] = {
        "",           "sha256",    "sha256:",   "md5:1",    "sha256:24",
        "sha256:3-1", "sha256:1,", "sha256:1x", "sha256:1+"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (quote_selection_parse(bad[i], &sel, &err) != -EINVAL)
            fail_msg("'%s' accepted", bad[i]);
    /* tss2 selection with PCR 24+ refused */
    TPML_PCR_SELECTION t = {.count = 1};
    t.pcrSelections[0].hash = TPM2_ALG_SHA256;
    t.pcrSelections[0].sizeofSelect = 4;
    t.pcrSelections[0].pcrSelect[3] = 1;
    assert_int_equal(quote_selection_from_tpml(&t, &sel, &err), -EBADMSG);
    assert_string_equal(quote_verdict_name(QUOTE_NONCE_MISSING), "quote_nonce_missing");
    assert_string_equal(quote_verdict_name(_QUOTE_VERDICT_MAX), "internal");
}

/* tpm2-tools serialized PCR file built field by field as lib/pcr.c writes it. */
static size_t build_t2t_pcrs(uint8_t *buf, uint32_t mask, int u64_count)
{
    size_t off = 0, n_values = 0, di = 0;
    memset(buf, 0, 4096);
    buf[0] = 1; /* count = 1 */
    off = 4;
    buf[off] = 0x0b, buf[off + 1] = 0x00; /* hash sha256 LE */
    buf[off + 2] = 3;
    buf[off + 3] = (uint8_t)mask, buf[off + 4] = (uint8_t)(mask >> 8),
              buf[off + 5] = (uint8_t)(mask >> 16);
    off = 132;
    unsigned npcr = (unsigned)__builtin_popcount(mask);
    n_values = (npcr + 7) / 8;
    buf[off] = (uint8_t)n_values;
    off += u64_count ? 8 : 4;
    size_t base = off;
    unsigned k = 0;
    for (unsigned i = 0; i < PCR_COUNT; i++) {
        if (!(mask & (1u << i)))
            continue;
        size_t v = k / 8;
        di = k % 8;
        size_t at = base + v * 532;
        buf[at] = (uint8_t)((npcr - v * 8) < 8 ? npcr - v * 8 : 8);
        buf[at + 4 + di * 66] = 32;
        memcpy(buf + at + 4 + di * 66 + 2, bank.pcr[i], 32);
        k++;
    }
    return base + n_values * 532;
}

static void test_tpm2_tools_pcrs(void **state)
{
    uint8_t buf[4096];
    pcr_bank banks[QUOTE_MAX_BANKS];
    quote_selection sel;
    size_t n, size;
    bg_err err = {0};

    for (int u64 = 0; u64 <= 1; u64++) {
        size = build_t2t_pcrs(buf, 0xFFF, u64);
        assert_int_equal(size, 136 + u64 * 4 + 2 * 532);
        assert_int_equal(
            quote_parse_tpm2_tools_pcrs(buf, size, banks, QUOTE_MAX_BANKS, &n, &sel, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(banks[0].alg, TPMALG_SHA256);
        assert_int_equal(banks[0].mask, 0xFFF);
        assert_int_equal(sel.banks[0].mask, 0xFFF);
        for (unsigned i = 0; i < 12; i++)
            assert_memory_equal(banks[0].pcr[i], bank.pcr[i], 32);
        /* truncated / extended */
        assert_int_equal(
            quote_parse_tpm2_tools_pcrs(buf, size - 1, banks, QUOTE_MAX_BANKS, &n, &sel, &err),
            -EBADMSG);
        assert_int_equal(
            quote_parse_tpm2_tools_pcrs(buf, size + 1, banks, QUOTE_MAX_BANKS, &n, &sel, &err),
            -EBADMSG);
    }
    /* a value of the wrong size */
    size = build_t2t_pcrs(buf, 0x3, 0);
    buf[136 + 4] = 20;
    assert_int_equal(quote_parse_tpm2_tools_pcrs(buf, size, banks, QUOTE_MAX_BANKS, &n, &sel, &err),
                     -EBADMSG);
    /* too many banks */
    size = build_t2t_pcrs(buf, 0x3, 0);
    buf[0] = 17;
    assert_int_equal(quote_parse_tpm2_tools_pcrs(buf, size, banks, QUOTE_MAX_BANKS, &n, &sel, &err),
                     -EBADMSG);
}

/* A PEM AK has no attributes: refused, unless the caller explicitly allows
 * it (diagnostics), and then the result says so. P-384 + sha384 exercises
 * the signature path that no TPM-attributed AK reaches (step 1 pins P-256). */
static void test_pcr_values_file(void **state)
{
    uint8_t buf[32 * 3 + 20];
    pcr_bank banks[QUOTE_MAX_BANKS];
    quote_selection sel;
    size_t n = 0;
    bg_err err = {0};

    assert_int_equal(quote_selection_parse("sha256:1,4+sha1:2", &sel, &err), 0);
    memcpy(buf, bank.pcr[1], 32);
    memcpy(buf + 32, bank.pcr[4], 32);
    memset(buf + 64, 0x5a, 20);
    assert_int_equal(quote_parse_pcr_values(buf, 84, &sel, banks, QUOTE_MAX_BANKS, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(banks[0].mask, (1u << 1) | (1u << 4));
    assert_memory_equal(banks[0].pcr[4], bank.pcr[4], 32);
    assert_int_equal(banks[1].alg, TPMALG_SHA1);
    assert_int_equal(banks[1].digest_size, 20);
    assert_int_equal(banks[1].mask, 1u << 2);
    assert_int_equal(banks[1].pcr[2][19], 0x5a);
    assert_int_equal(quote_parse_pcr_values(buf, 83, &sel, banks, QUOTE_MAX_BANKS, &n, &err),
                     -EBADMSG);
    assert_int_equal(quote_parse_pcr_values(buf, 85, &sel, banks, QUOTE_MAX_BANKS, &n, &err),
                     -EBADMSG);
}

static void test_pem_ak(void **state)
{
    EVP_PKEY *k384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    BIO *bio = BIO_new(BIO_s_mem());
    tpmpub *pem_ak = NULL;
    quote_result res;
    char *pem;
    long len;
    bg_err err = {0};
    spec s = default_spec(TPM2_ALG_ECDSA);

    assert_non_null(k384);
    assert_true(PEM_write_bio_PUBKEY(bio, k384));
    len = BIO_get_mem_data(bio, &pem);
    assert_int_equal(tpmpub_parse((const uint8_t *)pem, (size_t)len, &pem_ak, &err), 0);
    s.sig_hash = s.digest_hash = TPM2_ALG_SHA384;

    assert_int_equal(run(&s, pem_ak, k384, nonce, 32, "sha256:0-11", &res), QUOTE_AK_REFUSED);
    assert_non_null(strstr(res.reason, "no-tpm-public"));
    allow_pem = true;
    assert_int_equal(run(&s, pem_ak, k384, nonce, 32, "sha256:0-11", &res), QUOTE_VALID);
    assert_true(res.ak_unchecked);
    assert_non_null(strstr(res.reason, "NOT checked"));
    s.flip_attest_after_signing = 1;
    assert_int_equal(run(&s, pem_ak, k384, nonce, 32, "sha256:0-11", &res), QUOTE_BAD_SIGNATURE);
    s.flip_attest_after_signing = 0;
    s.sig_hash = s.digest_hash = TPM2_ALG_SHA256;
    assert_int_equal(run(&s, pem_ak, k384, nonce, 32, "sha256:0-11", &res), QUOTE_VALID);
    /* the allowance does not reach TPM AKs with bad attributes */
    tpmpub bad = *ec_ak;
    bad.public.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
    s = default_spec(TPM2_ALG_ECDSA);
    assert_int_equal(run(&s, &bad, ec_key, nonce, 32, "sha256:0-11", &res), QUOTE_AK_REFUSED);
    allow_pem = false;
    tpmpub_free(pem_ak);
    BIO_free(bio);
    EVP_PKEY_free(k384);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),     cmocka_unit_test(test_each_step),
        cmocka_unit_test(test_order),     cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_selection), cmocka_unit_test(test_tpm2_tools_pcrs),
        cmocka_unit_test(test_pem_ak),    cmocka_unit_test(test_pcr_values_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
