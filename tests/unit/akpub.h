/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once
/* Unit-test helper: the AK template of DESIGN §1 around an OpenSSL EC key
 * (test_tpmpub, test_evidence_cache). Include after cmocka.h. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#define AK_ATTRS                                                                                   \
    (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM |                    \
     TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH)

/* pub = ECDSA-SHA256 restricted signing key on curve (field = coordinate bytes). */
static inline void ec_public(EVP_PKEY *key, TPMT_PUBLIC *pub, TPMI_ECC_CURVE curve, size_t field)
{
    uint8_t pt[1 + 2 * 48];
    size_t len = 0;
    memset(pub, 0, sizeof(*pub));
    pub->type = TPM2_ALG_ECC;
    pub->nameAlg = TPM2_ALG_SHA256;
    pub->objectAttributes = AK_ATTRS;
    pub->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    pub->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    pub->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    pub->parameters.eccDetail.curveID = curve;
    pub->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    assert_true(
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &len));
    assert_int_equal(len, 1 + 2 * field);
    pub->unique.ecc.x.size = (UINT16)field;
    memcpy(pub->unique.ecc.x.buffer, pt + 1, field);
    pub->unique.ecc.y.size = (UINT16)field;
    memcpy(pub->unique.ecc.y.buffer, pt + 1 + field, field);
}
