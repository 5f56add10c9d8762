/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The client's TPM operations (tss2-esys over a tctildr TCTI): EK, AK, quote,
 * PCR read and ActivateCredential. Errors are distinct errnos so that the
 * program can say what happened:
 *   -ENODEV       no TPM (TCTI cannot be opened / TPM does not answer)
 *   -ENOLCK       TPM in dictionary-attack lockout
 *   -EKEYREJECTED ActivateCredential refused the credential (other TPM / cleared)
 *   -EAGAIN       PCRs kept changing while quoting
 *   -EIO          any other TPM failure (raw response code in the message) */

#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"
#include "cleanup.h"

#define TPM_EK_RSA_HANDLE  0x81010001u
#define TPM_EK_CERT_RSA_NV 0x01c00002u
#define TPM_EK_CERT_ECC_NV 0x01c0000au
#define TPM_QUOTE_PCR_MASK 0x0fffu /* sha256:0..11 */
#define TPM_QUOTE_TRIES    3
#define TPM_NAME_MAX       68 /* TPM2B_NAME: alg(2) + digest */
#define TPM_BLOB_MAX       4096

typedef enum tpm_ek_type {
    TPM_EK_AUTO = 0, /* persistent EK if present, else RSA, else ECC */
    TPM_EK_RSA,
    TPM_EK_ECC,
} tpm_ek_type;

typedef struct tpm_ctx tpm_ctx;

/* Opens the TPM through the TCTI configuration string, e.g.
 * "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321". */
int tpm_open(const char *tcti, tpm_ctx **ret, bg_err *err);
void tpm_close(tpm_ctx *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(tpm_ctx *, tpm_close)

/* Loads the EK: the persistent RSA EK at 0x81010001 when present (and type is
 * AUTO or RSA), otherwise CreatePrimary with the TCG default template
 * (EK Credential Profile 2.x B.3.3 template L-1 RSA 2048 / L-2 ECC P-256). */
int tpm_load_ek(tpm_ctx *t, tpm_ek_type type, bg_err *err);
/* Creates the deterministic attestation key (see tpm.c). */
int tpm_load_ak(tpm_ctx *t, bg_err *err);

/* Marshalled TPM2B_PUBLIC contents (TPMT_PUBLIC) and TPM2B_NAME contents
 * (nameAlg || digest) of the loaded keys. */
int tpm_ek_public(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err);
int tpm_ek_name(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err);
tpm_ek_type tpm_ek_loaded_type(tpm_ctx *t);
int tpm_ak_public(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err);
int tpm_ak_name(tpm_ctx *t, uint8_t *buf, size_t size, size_t *ret_size, bg_err *err);

/* The EK certificate (DER) from NV, or -ENOENT when the index is absent.
 * *ret is malloc'd. */
int tpm_ek_cert(tpm_ctx *t, uint8_t **ret, size_t *ret_size, bg_err *err);

typedef struct tpm_quote {
    uint8_t attest[TPM_BLOB_MAX]; /* TPMS_ATTEST (TPM2B_ATTEST contents) */
    size_t attest_size;
    uint8_t signature[TPM_BLOB_MAX]; /* marshalled TPMT_SIGNATURE */
    size_t signature_size;
    uint8_t pcrs[12][32]; /* sha256 PCR 0..11 as read after the quote */
    unsigned tries;
} tpm_quote;

/* Quotes sha256:0..11 with the AK and qualifyingData = nonce, reads the same
 * PCRs and repeats (at most TPM_QUOTE_TRIES times) if they moved in between. */
int tpm_quote_pcrs(tpm_ctx *t, const uint8_t *nonce, size_t nonce_size, tpm_quote *ret,
                   bg_err *err);

/* ActivateCredential(AK, EK): blob is a marshalled TPM2B_ID_OBJECT, secret a
 * marshalled TPM2B_ENCRYPTED_SECRET (with their u16 size prefixes, as on the
 * wire and in tpm2_makecredential's file). The recovered seed goes into
 * ret_seed (caller's secmem buffer of seed_cap bytes). */
int tpm_activate_credential(tpm_ctx *t, const uint8_t *blob, size_t blob_size,
                            const uint8_t *secret, size_t secret_size, uint8_t *ret_seed,
                            size_t seed_cap, size_t *ret_seed_size, bg_err *err);
