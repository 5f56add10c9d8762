/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TPM2_MakeCredential in software, so that the server needs no TPM
 * (TPM 2.0 Part 1 §24 "Credential Protection", Annex B.10 (RSA) and C.6
 * (ECC) secret sharing; Part 3 §12.6 TPM2_MakeCredential):
 *
 *   seed, encSecret = RSA-OAEP(EK, label "IDENTITY\0", nameAlg)     RSA EK
 *                   | Z = ECDH(ephemeral, EK); seed = KDFe(nameAlg, Z,
 *                     "IDENTITY", ephemeral.x, EK.x); encSecret = ephemeral point
 *   symKey  = KDFa(nameAlg, seed, "STORAGE", objectName, -, 128)
 *   encId   = AES-128-CFB(symKey, IV = 0, TPM2B_DIGEST(credential))
 *   hmacKey = KDFa(nameAlg, seed, "INTEGRITY", -, -, digest bits)
 *   outer   = HMAC_nameAlg(hmacKey, encId || objectName)
 *   blob    = TPM2B_ID_OBJECT(TPM2B_DIGEST(outer) || encId)
 *
 * objectName is the AK name (tpmpub name); the EK's nameAlg and symmetric
 * definition (AES-128-CFB in the default EK templates) select the algorithms.
 * ActivateCredential on the TPM holding the EK and the named key returns the
 * credential. Seeds and credentials live in secmem and are wiped. */

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "bgerr.h"
#include "tpmpub.h"

/* TPM2B_DIGEST of the EK's nameAlg bounds the credential (Part 3 §12.6:
 * TPM_RC_SIZE when larger than the nameAlg digest). */
#define CREDENTIAL_MAX_SECRET 64u

typedef struct credential_blob {
    TPM2B_ID_OBJECT id_object;
    TPM2B_ENCRYPTED_SECRET encrypted_secret;
} credential_blob;

/* ek: RSA-2048 or ECC P-256 EK public (a TPM public area is required; PEM
 * is refused with -EINVAL since the nameAlg/symmetric are unknown).
 * name: the object name the credential is bound to (AK name).
 * secret: 1..digest-size bytes. -EOPNOTSUPP for other EK types. */
int credential_make(const tpmpub *ek, const uint8_t *name, size_t name_size, const uint8_t *secret,
                    size_t secret_size, credential_blob *ret, bg_err *err);

/* Marshalled TPM2B forms (with their u16 size prefix), as the wire protocol
 * and ESAPI's Tss2_MU_*_Unmarshal expect. malloc'd. */
int credential_marshal(const credential_blob *blob, uint8_t **ret_id_object,
                       size_t *ret_id_object_size, uint8_t **ret_secret, size_t *ret_secret_size,
                       bg_err *err);

/* The file `tpm2_makecredential -o` writes and `tpm2_activatecredential -i`
 * reads: BE u32 0xBADCC0DE, BE u32 version 1, TPM2B_ID_OBJECT,
 * TPM2B_ENCRYPTED_SECRET (both marshalled). */
int credential_to_tpm2_tools(const credential_blob *blob, uint8_t **ret, size_t *ret_size,
                             bg_err *err);
int credential_from_tpm2_tools(const uint8_t *buf, size_t size, credential_blob *ret, bg_err *err);

/* KDFa, TPM 2.0 Part 1 §11.4.10.2 (SP 800-108 counter mode HMAC):
 * label is a C string whose terminating NUL is part of the input; context_u
 * and context_v may be NULL. out receives ceil(bits/8) bytes. */
int credential_kdfa(uint16_t hash_alg, const uint8_t *key, size_t key_size, const char *label,
                    const uint8_t *context_u, size_t context_u_size, const uint8_t *context_v,
                    size_t context_v_size, uint32_t bits, uint8_t *out, bg_err *err);
/* KDFe, TPM 2.0 Part 1 §11.4.10.3 (SP 800-56A concatenation KDF). */
int credential_kdfe(uint16_t hash_alg, const uint8_t *z, size_t z_size, const char *label,
                    const uint8_t *party_u, size_t party_u_size, const uint8_t *party_v,
                    size_t party_v_size, uint32_t bits, uint8_t *out, bg_err *err);
