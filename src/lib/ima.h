/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* IMA binary runtime measurements (securityfs binary_runtime_measurements):
 * records of pcr(u32 LE), template digest (SHA-1, 20 bytes), template name
 * (u32 len + bytes), template data (u32 len + bytes). Templates ima, ima-ng,
 * ima-sig, ima-buf. The log carries only SHA-1 template digests; the other
 * banks' template hashes are recomputed from the template data as the kernel
 * does (ima_calc_field_array_hash). */

#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"
#include "tpmalg.h"

#define IMA_MAX_SIZE     (64u << 20)
#define IMA_MAX_ENTRIES  1000000u
#define IMA_MAX_TEMPLATE (1u << 20)
#define IMA_PCR          10

typedef struct ima_entry {
    size_t offset;
    uint32_t pcr;
    uint8_t template_sha1[20];
    char template_name[32];
    const uint8_t *template_data;
    uint32_t template_data_size;
    /* Decoded fields where the template has them (NUL-terminated, may be ""). */
    uint16_t file_digest_alg; /* "d-ng" algorithm (TPMALG_*, 0 if unknown); ima: TPMALG_SHA1 */
    uint8_t file_digest[TPMALG_MAX_DIGEST];
    uint16_t file_digest_size;
    const char *file_name; /* NUL-terminated copy in the log's strings, "" when absent */
} ima_entry;

typedef struct ima_log {
    size_t n_entries;
    ima_entry *entries;
    uint8_t *buf;
    size_t size;
    char *strings; /* NUL-terminated copies of the file names */
} ima_log;

/* Parses and checks every entry: for each non-violation entry the SHA-1
 * template digest must equal the SHA-1 of its template data as the kernel
 * hashes it. -EBADMSG for malformed input or a wrong template digest, -E2BIG
 * past a cap; the message names the entry and its byte offset. */
int ima_parse(const uint8_t *buf, size_t size, ima_log **ret, bg_err *err);
void ima_log_free(ima_log *log);
DEFINE_TRIVIAL_CLEANUP_FUNC(ima_log *, ima_log_free)

/* Extends every entry into bank->pcr[entry->pcr] (normally PCR 10) for
 * bank->alg, on top of the bank's current values: SHA-1 uses the log's
 * template digest, other banks recompute the template hash (kernel
 * ima_calc_field_array_hash). A violation entry (all-zero template digest)
 * extends all-0xFF of the bank's size, as the kernel does. */
int ima_replay(const ima_log *log, pcr_bank *bank, bg_err *err);
