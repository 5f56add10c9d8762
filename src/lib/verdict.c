/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "verdict.h"

#include <errno.h>
#include <string.h>

#include "cleanup.h"

#define V(id, nm, c, st, code, waive)                                                              \
    [VERDICT_##id] = {.name = nm,                                                                  \
                      .cls = VERDICT_CLASS_##c,                                                    \
                      .http_status = st,                                                           \
                      .breakglass_code = code,                                                     \
                      .waivable = waive}

static const verdict_info table[_VERDICT_MAX] = {
    V(OK, "ok", OK, 200, false, false),
    V(NONCE_MISSING, "nonce_missing", UNPROVEN, 403, false, false),
    V(NONCE_MALFORMED, "nonce_malformed", UNPROVEN, 403, false, false),
    V(NONCE_FORGED, "nonce_forged", UNPROVEN, 403, false, false),
    V(NONCE_EXPIRED, "nonce_expired", UNPROVEN, 403, false, false),
    V(NONCE_REUSED, "nonce_reused", UNPROVEN, 403, false, false),
    V(NODE_UNKNOWN, "node_unknown", UNPROVEN, 403, false, false),
    V(NODE_NOT_ACTIVATED, "node_not_activated", UNPROVEN, 403, false, false),
    V(NODE_PENDING, "node_pending", UNPROVEN, 403, false, false),
    V(NODE_REVOKED, "node_revoked", UNPROVEN, 403, false, false),
    V(AK_MALFORMED, "ak_malformed", UNPROVEN, 403, false, false),
    V(AK_REFUSED, "ak_refused", UNPROVEN, 403, false, false),
    V(AK_NAME_MISMATCH, "ak_name_mismatch", UNPROVEN, 403, false, false),
    V(SIGNATURE_MALFORMED, "signature_malformed", UNPROVEN, 403, false, false),
    V(SIGNATURE_SCHEME, "signature_scheme", UNPROVEN, 403, false, false),
    V(BAD_SIGNATURE, "bad_signature", UNPROVEN, 403, false, false),
    V(ATTEST_MALFORMED, "attest_malformed", EVIDENCE, 403, false, false),
    V(ATTEST_BAD_MAGIC, "attest_bad_magic", EVIDENCE, 403, false, false),
    V(ATTEST_BAD_TYPE, "attest_bad_type", EVIDENCE, 403, false, false),
    V(QUOTE_NONCE_MISSING, "quote_nonce_missing", EVIDENCE, 403, false, false),
    V(QUOTE_NONCE_MISMATCH, "quote_nonce_mismatch", EVIDENCE, 403, false, false),
    V(PCR_SELECTION_MISMATCH, "pcr_selection_mismatch", EVIDENCE, 403, false, false),
    V(PCR_VALUES_MISSING, "pcr_values_missing", EVIDENCE, 403, false, false),
    V(PCR_DIGEST_MISMATCH, "pcr_digest_mismatch", EVIDENCE, 403, false, false),
    V(PCR_NOT_QUOTED, "pcr_not_quoted", EVIDENCE, 403, false, false),
    V(EVENTLOG_INVALID, "eventlog_invalid", EVIDENCE, 403, false, false),
    V(IMALOG_INVALID, "imalog_invalid", EVIDENCE, 403, false, false),
    V(EVENTLOG_MISMATCH, "eventlog_mismatch", EVIDENCE, 403, false, false),
    V(IMALOG_MISSING, "imalog_missing", EVIDENCE, 403, false, false),
    V(POLICY_INVALID, "policy_invalid", EVIDENCE, 403, false, false),
    V(POLICY_MISSING, "policy_missing", POLICY, 403, true, true),
    V(POLICY_DENIED, "policy_denied", POLICY, 403, true, true),
    V(POLICY_EXPIRED, "policy_expired", POLICY, 403, true, true),
    V(VOLUME_UNKNOWN, "volume_unknown", EVIDENCE, 403, false, false),
    /* a check that could not run: nothing was proven */
    V(INTERNAL, "internal", UNPROVEN, 403, false, false),
};

const verdict_info *verdict_get(bg_verdict v)
{
    if ((unsigned)v >= _VERDICT_MAX || !table[v].name)
        return &table[VERDICT_INTERNAL];
    return &table[v];
}

int verdict_from_name(const char *name, bg_verdict *ret)
{
    for (unsigned i = 0; name && i < _VERDICT_MAX; i++)
        if (table[i].name && !strcmp(table[i].name, name)) {
            *ret = (bg_verdict)i;
            return 0;
        }
    return -EINVAL;
}

const char *verdict_class_name(verdict_class c)
{
    static const char *const names[] = {"ok", "unproven", "evidence", "policy"};
    return (unsigned)c < ELEMENTSOF(names) ? names[c] : "unknown";
}

bg_verdict verdict_from_quote(quote_verdict q)
{
    static const bg_verdict map[_QUOTE_VERDICT_MAX] = {
        [QUOTE_VALID] = VERDICT_OK,
        [QUOTE_AK_REFUSED] = VERDICT_AK_REFUSED,
        [QUOTE_SIGNATURE_MALFORMED] = VERDICT_SIGNATURE_MALFORMED,
        [QUOTE_SIGNATURE_SCHEME] = VERDICT_SIGNATURE_SCHEME,
        [QUOTE_BAD_SIGNATURE] = VERDICT_BAD_SIGNATURE,
        [QUOTE_ATTEST_MALFORMED] = VERDICT_ATTEST_MALFORMED,
        [QUOTE_BAD_MAGIC] = VERDICT_ATTEST_BAD_MAGIC,
        [QUOTE_BAD_TYPE] = VERDICT_ATTEST_BAD_TYPE,
        [QUOTE_NONCE_MISSING] = VERDICT_QUOTE_NONCE_MISSING,
        [QUOTE_NONCE_MISMATCH] = VERDICT_QUOTE_NONCE_MISMATCH,
        [QUOTE_PCR_SELECTION_MISMATCH] = VERDICT_PCR_SELECTION_MISMATCH,
        [QUOTE_PCR_VALUES_MISSING] = VERDICT_PCR_VALUES_MISSING,
        [QUOTE_PCR_DIGEST_MISMATCH] = VERDICT_PCR_DIGEST_MISMATCH,
        [QUOTE_AK_NAME_MISMATCH] = VERDICT_AK_NAME_MISMATCH,
    };
    if ((unsigned)q >= _QUOTE_VERDICT_MAX || (q != QUOTE_VALID && map[q] == VERDICT_OK))
        return VERDICT_INTERNAL;
    return map[q];
}
