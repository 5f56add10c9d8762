/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Stateless challenge nonces (DESIGN §1 step 1):
 *   nonce = rand8 | expiry8 (u64 BE unix seconds) | HMAC-SHA256(secret, node_id "|" rand8
 * expiry8)[0..16) Any replica holding the shared secret can check one; single use is enforced
 * separately through the store (store_nonce_use). */

#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"
#include "proto.h"
#include "verdict.h"

#define NONCE_SECRET_SIZE 32u

typedef enum nonce_status {
    NONCE_OK = 0,
    NONCE_MISSING,   /* absent or empty */
    NONCE_MALFORMED, /* wrong size or all zero */
    NONCE_FORGED,    /* MAC does not verify (other secret, other node, edited) */
    NONCE_EXPIRED,
} nonce_status;

/* The verdict (verdict.h) of each status, and its wire name. */
bg_verdict nonce_status_verdict(nonce_status s);
const char *nonce_status_name(nonce_status s);

/* secret: NONCE_SECRET_SIZE bytes. now: unix seconds. */
int nonce_make(const uint8_t *secret, const char *node_id, uint64_t now, unsigned ttl,
               uint8_t ret[PROTO_NONCE_SIZE], uint64_t *ret_expiry);
nonce_status nonce_check(const uint8_t *secret, const char *node_id, const uint8_t *nonce,
                         size_t nonce_size, uint64_t now, uint64_t *ret_expiry);
