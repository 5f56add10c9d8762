/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The audit hash chain (DESIGN §5), shared by bootgated (which appends) and
 * `bootgatectl audit verify` (which recomputes it, also offline on the DB).
 *
 *   canonical(record) = JSON array, json-c plain form, no spaces:
 *                       [seq, "time", "actor", "action", "node", "details"]
 *                       where details is the record's details JSON as stored
 *                       (itself json-c plain form) carried as a string
 *   hash              = SHA-256(prev_hash(32 bytes) || canonical(record))
 *   prev_hash of seq 1 = 32 zero bytes
 *
 * An array with a fixed order needs no key sorting, and carrying details as
 * a string makes the stored text, byte for byte, what is hashed. */

#include <stdint.h>

#include "bgerr.h"

#define AUDITCHAIN_HASH_SIZE 32

typedef struct auditchain_record {
    int64_t seq;
    const char *time; /* "2026-11-22T21:15:00Z" */
    const char *actor;
    const char *action;
    const char *node; /* "" when none */
    const char *details;
} auditchain_record;

int auditchain_hash(const uint8_t prev[AUDITCHAIN_HASH_SIZE], const auditchain_record *rec,
                    uint8_t ret[AUDITCHAIN_HASH_SIZE], bg_err *err);
