/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Every outcome of an unlock attempt, in one table (DESIGN §6): its wire
 * name (the "verdict" of a 403 answer, the audit record and the metrics),
 * its class, its HTTP status, whether the denial gets a break-glass code and
 * whether break-glass may waive it. The server and bootgatectl speak of
 * verdicts only through this enum; the names are written here and nowhere
 * else (tests/unit/test_verdict.c checks the sources for stray spellings). */

#include <stdbool.h>

#include "quote.h"

typedef enum bg_verdict {
    VERDICT_OK = 0,
    /* nonce (step a) */
    VERDICT_NONCE_MISSING,
    VERDICT_NONCE_MALFORMED,
    VERDICT_NONCE_FORGED,
    VERDICT_NONCE_EXPIRED,
    VERDICT_NONCE_REUSED,
    /* node (step b) */
    VERDICT_NODE_UNKNOWN,
    VERDICT_NODE_NOT_ACTIVATED,
    VERDICT_NODE_PENDING,
    VERDICT_NODE_REVOKED,
    /* AK (step c) */
    VERDICT_AK_MALFORMED,
    VERDICT_AK_REFUSED,
    VERDICT_AK_NAME_MISMATCH,
    /* signature (step d) */
    VERDICT_SIGNATURE_MALFORMED,
    VERDICT_SIGNATURE_SCHEME,
    VERDICT_BAD_SIGNATURE,
    /* attest fields (step e), after the signature verified */
    VERDICT_ATTEST_MALFORMED,
    VERDICT_ATTEST_BAD_MAGIC,
    VERDICT_ATTEST_BAD_TYPE,
    VERDICT_QUOTE_NONCE_MISSING,
    VERDICT_QUOTE_NONCE_MISMATCH,
    VERDICT_PCR_SELECTION_MISMATCH,
    VERDICT_PCR_VALUES_MISSING,
    VERDICT_PCR_DIGEST_MISMATCH,
    VERDICT_PCR_NOT_QUOTED, /* PCR values sent that the quote does not cover */
    /* log replay (step f) */
    VERDICT_EVENTLOG_INVALID,
    VERDICT_IMALOG_INVALID,
    VERDICT_EVENTLOG_MISMATCH,
    VERDICT_IMALOG_MISSING, /* the policy gates IMA and no IMA log was sent */
    /* policy (step g) */
    VERDICT_POLICY_INVALID, /* stored policy unsigned, unparsable or gating unquoted PCRs */
    VERDICT_POLICY_MISSING,
    VERDICT_POLICY_DENIED,
    VERDICT_POLICY_EXPIRED,
    /* release */
    VERDICT_VOLUME_UNKNOWN,
    VERDICT_INTERNAL, /* a check could not run; fails closed */
    _VERDICT_MAX,
} bg_verdict;

typedef enum verdict_class {
    VERDICT_CLASS_OK = 0,
    VERDICT_CLASS_UNPROVEN, /* before the quote signature verified: the caller proved nothing */
    VERDICT_CLASS_EVIDENCE, /* signed evidence that does not hold */
    VERDICT_CLASS_POLICY,   /* the boot state is not allowed */
} verdict_class;

typedef struct verdict_info {
    const char *name; /* wire name, [a-z_]+ */
    verdict_class cls;
    int http_status;
    bool breakglass_code; /* the denial names the attempt with a BG- code */
    bool waivable;        /* an active break-glass grant may waive it */
} verdict_info;

/* Never NULL: an out-of-range value reads as VERDICT_INTERNAL. */
const verdict_info *verdict_get(bg_verdict v);
static inline const char *verdict_name(bg_verdict v)
{
    return verdict_get(v)->name;
}
/* -EINVAL when name is not a verdict. */
int verdict_from_name(const char *name, bg_verdict *ret);
const char *verdict_class_name(verdict_class c); /* "ok", "unproven", "evidence", "policy" */

/* The verdict of each quote_verify outcome. */
bg_verdict verdict_from_quote(quote_verdict q);
