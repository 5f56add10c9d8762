/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TPM public keys: the AK and EK public areas as tpm2-tools and the client
 * hand them over, their TPM object names, their OpenSSL form, and the AK
 * attribute check of DESIGN.md §1 (step c).
 *
 * Accepted encodings (tried in this order):
 *   - TPM2B_PUBLIC (tpm2_createak -u, tpm2_readpublic -o, tpm2_createek -u),
 *   - a bare TPMT_PUBLIC (what some tools and TPM2B contents are),
 *   - PEM SubjectPublicKeyInfo (tpm2_readpublic -f pem). PEM carries no TPM
 *     attributes and no nameAlg, so neither the attribute check nor the
 *     name can be computed: has_public is false and tpmpub_check_ak refuses
 *     with TPMPUB_AK_NO_TPM_PUBLIC. Such a key is good for a signature check
 *     only, never for the release decision.
 * Every encoding must consume the whole buffer (trailing bytes are refused;
 * PEM: one PUBLIC KEY block, then whitespace only). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "bgerr.h"
#include "cleanup.h"
#include "tpmalg.h"

/* Hard cap on an encoded public key (a TPM2B_PUBLIC is at most ~620 bytes;
 * PEM of RSA-4096 about 800). */
#define TPMPUB_MAX_SIZE 8192u

/* TPM object name: nameAlg (BE u16) || H_nameAlg(marshalled TPMT_PUBLIC),
 * TPM 2.0 Part 1 §16 "Names". */
#define TPMPUB_MAX_NAME (2 + TPMALG_MAX_DIGEST)

typedef enum tpmpub_format {
    TPMPUB_FORMAT_TPM2B_PUBLIC,
    TPMPUB_FORMAT_TPMT_PUBLIC,
    TPMPUB_FORMAT_PEM,
} tpmpub_format;

typedef struct tpmpub {
    tpmpub_format format;
    bool has_public;    /* false for PEM: public, name are unset */
    TPMT_PUBLIC public; /* the TPM public area (has_public) */
    uint8_t name[TPMPUB_MAX_NAME];
    size_t name_size; /* 0 when !has_public */
    EVP_PKEY *pkey;   /* always set: RSA or EC public key */
} tpmpub;

/* Parses buf in any accepted encoding, computes the name and the EVP_PKEY.
 * -EBADMSG with offset and reason for malformed input, -EOPNOTSUPP for a
 * key type/curve/nameAlg this code cannot convert. */
int tpmpub_parse(const uint8_t *buf, size_t size, tpmpub **ret, bg_err *err);
/* Same from an already unmarshalled public area (client side, tests). */
int tpmpub_from_public(const TPMT_PUBLIC *pub, tpmpub **ret, bg_err *err);
void tpmpub_free(tpmpub *pub);
DEFINE_TRIVIAL_CLEANUP_FUNC(tpmpub *, tpmpub_free)

/* Name of a public area (see TPMPUB_MAX_NAME). ret_name has TPMPUB_MAX_NAME bytes. */
int tpmpub_compute_name(const TPMT_PUBLIC *pub, uint8_t *ret_name, size_t *ret_size, bg_err *err);
/* RSA (exponent 0 = 65537) or ECC NIST P-256/P-384 public area -> EVP_PKEY. */
int tpmpub_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **ret, bg_err *err);
/* Marshals TPMT_PUBLIC / TPM2B_PUBLIC into a malloc'd buffer. */
int tpmpub_marshal_tpm2b(const TPMT_PUBLIC *pub, uint8_t **ret, size_t *ret_size, bg_err *err);

/* AK attribute check, DESIGN.md §1 (c). The first failing rule wins and each
 * rule has its own value. Rules, in order:
 *   1. a TPM public area is present (not PEM),
 *   2. type is ECC or RSA,
 *   3. nameAlg is sha256,
 *   4. objectAttributes contain restricted, sign, fixedTPM, fixedParent,
 *      sensitiveDataOrigin, userWithAuth (each missing bit is its own reason),
 *   5. none of decrypt, adminWithPolicy; no other bit at all except noDA.
 *      noDA is tolerated: it only exempts the AK's own (empty) authValue from
 *      dictionary-attack lockout and does not weaken the binding to the TPM
 *      (go-attestation and some vendors' AK templates set it);
 *   6. ECC: curve NIST P-256 (the DESIGN template); RSA: 2048 bits (tpm2-tools
 *      compatibility, tpm2_createak -G rsa);
 *   7. symmetric is NULL (a signing key has none), scheme is NULL or a
 *      signing scheme of the key type (ECDSA / RSASSA / RSAPSS) with hash
 *      sha256 or sha384. */
typedef enum tpmpub_ak_check {
    TPMPUB_AK_OK = 0,
    TPMPUB_AK_NO_TPM_PUBLIC,
    TPMPUB_AK_BAD_TYPE,
    TPMPUB_AK_BAD_NAME_ALG,
    TPMPUB_AK_NOT_RESTRICTED,
    TPMPUB_AK_NOT_SIGN,
    TPMPUB_AK_NOT_FIXED_TPM,
    TPMPUB_AK_NOT_FIXED_PARENT,
    TPMPUB_AK_NOT_SENSITIVE_DATA_ORIGIN,
    TPMPUB_AK_NOT_USER_WITH_AUTH,
    TPMPUB_AK_DECRYPT,
    TPMPUB_AK_ADMIN_WITH_POLICY,
    TPMPUB_AK_EXTRA_ATTRIBUTES,
    TPMPUB_AK_BAD_CURVE,
    TPMPUB_AK_BAD_KEY_SIZE,
    TPMPUB_AK_SYMMETRIC,
    TPMPUB_AK_BAD_SCHEME,
    _TPMPUB_AK_CHECK_MAX,
} tpmpub_ak_check;

/* Returns the verdict; when it is not OK and reason is not NULL, a sentence
 * such as "AK objectAttributes 0x00050072 lack fixedTPM" is stored there. */
tpmpub_ak_check tpmpub_check_ak(const tpmpub *pub, char *reason, size_t reason_size);
/* "not-fixed-tpm", "admin-with-policy", ... (stable, for scripts and audit). */
const char *tpmpub_ak_check_name(tpmpub_ak_check c);
