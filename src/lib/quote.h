/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* TPM2_Quote verification (DESIGN.md §1 steps c–e), in a fixed order that
 * fails closed at the first failed step (STYLE.md 5):
 *
 *   1. AK attributes        (tpmpub_check_ak), then the AK name when pinned
 *   2. signature            TPMT_SIGNATURE over the raw attest bytes with the
 *                           AK: RSASSA / RSAPSS / ECDSA with sha256 / sha384;
 *                           when the AK's scheme is fixed, the signature's
 *                           scheme and hash must be that one
 *   3. attest parse         TPMS_ATTEST, whole buffer consumed
 *   4. magic                TPM_GENERATED_VALUE
 *   5. type                 TPM_ST_ATTEST_QUOTE
 *   6. nonce                extraData == nonce; an empty or all-zero nonce on
 *                           either side is always refused
 *   7. PCR selection        == the required selection
 *   8. PCR digest           pcrDigest == H_sig(PCR values of the selection, in
 *                           selection order: banks as listed, PCRs ascending),
 *                           TPM 2.0 Part 3 §18.4 (TPM2_Quote)
 *
 * Event log replay and the AK name pin are the callers' steps. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "bgerr.h"
#include "tpmalg.h"
#include "tpmpub.h"

#define QUOTE_MAX_ATTEST_SIZE 4096u /* sizeof(TPMS_ATTEST) marshalled is < 2 KB */
#define QUOTE_MAX_SIG_SIZE    4096u
#define QUOTE_MAX_NONCE       64u /* TPM2B_DATA; DESIGN nonce is 32 bytes */
#define QUOTE_MAX_BANKS       5u

/* A PCR selection as a list of (bank, bitmask of PCRs 0..23). */
typedef struct quote_selection {
    unsigned n_banks;
    struct {
        uint16_t alg;
        uint32_t mask;
    } banks[QUOTE_MAX_BANKS];
} quote_selection;

/* "sha256:0,1,2-11" or "sha256:0-7+sha1:0,1" (tpm2-tools syntax, ranges
 * allowed). -EINVAL with a message when malformed. */
int quote_selection_parse(const char *spec, quote_selection *ret, bg_err *err);
/* Formats as above ("sha256:0,1,2,3"); always NUL-terminates. */
void quote_selection_format(const quote_selection *sel, char *buf, size_t size);
bool quote_selection_equal(const quote_selection *a, const quote_selection *b);
/* Converts a tss2 TPML_PCR_SELECTION (sizeofSelect <= 3, hash known). */
int quote_selection_from_tpml(const TPML_PCR_SELECTION *tpml, quote_selection *ret, bg_err *err);

/* pcrDigest over the values of sel taken from banks (each selected PCR must
 * be present: bank with the same alg, bit set in mask), hashed with hash_alg.
 * ret has TPMALG_MAX_DIGEST bytes. -ENOENT with a message naming the first
 * missing PCR. */
int quote_pcr_digest(const quote_selection *sel, const pcr_bank *banks, size_t n_banks,
                     uint16_t hash_alg, uint8_t *ret, size_t *ret_size, bg_err *err);

typedef enum quote_verdict {
    QUOTE_VALID = 0,
    QUOTE_AK_REFUSED,          /* reason names the tpmpub_ak_check */
    QUOTE_SIGNATURE_MALFORMED, /* TPMT_SIGNATURE does not parse */
    QUOTE_SIGNATURE_SCHEME,    /* unsupported scheme/hash or not the AK's fixed scheme */
    QUOTE_BAD_SIGNATURE,       /* does not verify with the AK */
    QUOTE_ATTEST_MALFORMED,    /* signed, but TPMS_ATTEST does not parse */
    QUOTE_BAD_MAGIC,
    QUOTE_BAD_TYPE,
    QUOTE_NONCE_MISSING, /* empty/all-zero nonce in the quote or from the caller */
    QUOTE_NONCE_MISMATCH,
    QUOTE_PCR_SELECTION_MISMATCH,
    QUOTE_PCR_VALUES_MISSING, /* the caller's PCR values lack a selected PCR */
    QUOTE_PCR_DIGEST_MISMATCH,
    QUOTE_AK_NAME_MISMATCH, /* the AK is not the one pinned (pinned_ak_name) */
    _QUOTE_VERDICT_MAX,
} quote_verdict;

/* The wire name of the verdict (verdict.h), e.g. ak_refused. */
const char *quote_verdict_name(quote_verdict v);

typedef struct quote_evidence {
    const tpmpub *ak;
    const uint8_t *attest; /* marshalled TPMS_ATTEST (tpm2_quote -m) */
    size_t attest_size;
    const uint8_t *sig; /* marshalled TPMT_SIGNATURE (tpm2_quote -s, default tss format) */
    size_t sig_size;
    const uint8_t *nonce; /* the verifier's nonce */
    size_t nonce_size;
    const pcr_bank *banks; /* the PCR values the quote claims to cover */
    size_t n_banks;
    const quote_selection *required; /* e.g. sha256:0-11 */
    /* When set, step 1 also requires the AK's TPM name to be this one (the
     * name pinned at enrollment), before the signature is looked at. */
    const uint8_t *pinned_ak_name;
    size_t pinned_ak_name_size;
    /* Diagnostics only (bootgatectl --allow-pem-ak), never the server: a PEM
     * AK has no attributes to check, so step 1 is skipped and the result
     * says so (ak_unchecked). Every other step still runs. */
    bool allow_pem_ak;
} quote_evidence;

typedef struct quote_result {
    quote_verdict verdict;
    char reason[256];   /* one sentence, set for every verdict */
    bool attest_parsed; /* the fields below are valid */
    TPMS_ATTEST attest; /* the whole parsed structure */
    uint64_t clock;     /* attest.clockInfo */
    uint32_t reset_count;
    uint32_t restart_count;
    bool safe;
    uint64_t firmware_version;
    quote_selection selection; /* as quoted */
    uint16_t sig_alg;          /* TPM_ALG_ECDSA / RSASSA / RSAPSS, 0 if unparsed */
    uint16_t sig_hash;
    bool ak_unchecked; /* step 1 skipped (PEM AK with allow_pem_ak) */
} quote_result;

/* Runs the checks above. Returns 0 when the verification ran to a verdict
 * (valid or not: look at ret->verdict), -errno when it could not run
 * (-EINVAL missing arguments, -ENOMEM, -EIO OpenSSL failure) with err set. */
int quote_verify(const quote_evidence *ev, quote_result *ret, bg_err *err);
/* The same in two parts, for a caller that times them: step 1 (AK
 * attributes and pinned name; fills ret from scratch), then, when ret says
 * VALID, steps 2-8 on the same ret. */
int quote_verify_ak(const quote_evidence *ev, quote_result *ret, bg_err *err);
int quote_verify_signed(const quote_evidence *ev, quote_result *ret, bg_err *err);

/* Raw parsers, also used by the fuzz harness. Whole buffer must be consumed. */
int quote_parse_attest(const uint8_t *buf, size_t size, TPMS_ATTEST *ret, bg_err *err);
int quote_parse_signature(const uint8_t *buf, size_t size, TPMT_SIGNATURE *ret, bg_err *err);

/* tpm2_quote -o / tpm2_pcrread -o output (tpm2-tools lib/pcr.c,
 * pcr_fwrite_serialized and the older raw struct dump): TPML_PCR_SELECTION,
 * a count, then count TPML_DIGEST. Fills up to max_banks banks (only PCRs of
 * the selection get their mask bit) and the selection. */
int quote_parse_tpm2_tools_pcrs(const uint8_t *buf, size_t size, pcr_bank *ret_banks,
                                size_t max_banks, size_t *ret_n_banks, quote_selection *ret_sel,
                                bg_err *err);

/* The "values" format (tpm2_pcrread -o default, tpm2_quote -F values): the
 * bare digests of sel, banks in order, PCRs ascending, nothing else; the
 * size must match exactly. */
int quote_parse_pcr_values(const uint8_t *buf, size_t size, const quote_selection *sel,
                           pcr_bank *ret_banks, size_t max_banks, size_t *ret_n_banks, bg_err *err);
