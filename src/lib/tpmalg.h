/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TPM hash algorithms (TCG Algorithm Registry) and a PCR bank value type
 * shared by event-log replay, quote verification and policy evaluation. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define TPMALG_SHA1    0x0004
#define TPMALG_SHA256  0x000B
#define TPMALG_SHA384  0x000C
#define TPMALG_SHA512  0x000D
#define TPMALG_SM3_256 0x0012

#define TPMALG_MAX_DIGEST 64
#define PCR_COUNT         24

typedef struct tpmalg {
    uint16_t id;
    const char *name; /* "sha256", as tpm2-tools spells it */
    size_t size;
} tpmalg;

/* NULL when the algorithm is not a hash this project knows. */
const tpmalg *tpmalg_by_id(uint16_t id);
const tpmalg *tpmalg_by_name(const char *name);
/* NULL when OpenSSL cannot compute it (SM3 on some builds). */
const EVP_MD *tpmalg_md(uint16_t id);

/* The values of one bank; bit i of mask says PCR i holds a value. */
typedef struct pcr_bank {
    uint16_t alg;
    size_t digest_size;
    uint32_t mask;
    uint8_t pcr[PCR_COUNT][TPMALG_MAX_DIGEST];
} pcr_bank;

/* PCR := H(PCR || digest). digest has bank->digest_size bytes. Returns -EIO
 * if the hash cannot be computed. */
int pcr_bank_extend(pcr_bank *bank, unsigned pcr, const uint8_t *digest);

/* Observed PCRs as data (break-glass scope "observed", DESIGN §4): one
 * canonical encoding of a bank's selected values,
 *   alg (u16 BE) | mask (u32 BE) | digest of each PCR in mask, ascending,
 * which the audit record keeps (as hex), the store keeps (raw) and grant
 * signatures cover (its SHA-256). */
#define PCR_BANK_ENCODED_MAX (2u + 4u + PCR_COUNT * TPMALG_MAX_DIGEST)

/* Returns the encoded size; 0 when the bank's algorithm is unknown or its
 * digest size is not the algorithm's. */
size_t pcr_bank_encode(const pcr_bank *bank, uint8_t out[PCR_BANK_ENCODED_MAX]);
/* -EBADMSG when buf is not exactly one encoding of a known algorithm. */
int pcr_bank_decode(const uint8_t *buf, size_t size, pcr_bank *ret);
/* Same algorithm, same PCRs, same values (constant time over the values). */
bool pcr_bank_equal(const pcr_bank *a, const pcr_bank *b);
/* The encoding as lowercase hex (malloc'd), and back. */
char *pcr_bank_encode_hex(const pcr_bank *bank);
int pcr_bank_decode_hex(const char *hex, pcr_bank *ret);
