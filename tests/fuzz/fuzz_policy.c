/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness for the policy parser. Beyond "does not crash" it checks
 * the canonical form's contract: a parsed policy's canonical bytes parse
 * again and canonicalize to themselves (what is signed is what is read back),
 * and evaluation of any accepted policy against a fixed state terminates with
 * a verdict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "policy.h"
#include "verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    policy *p = NULL, *q = NULL;
    bg_err err = {{0}};
    if (policy_parse((const char *)data, size, &p, &err) < 0)
        return 0;
    if (policy_parse(p->canonical, p->canonical_size, &q, &err) < 0)
        abort(); /* the canonical form must be a valid policy */
    if (q->canonical_size != p->canonical_size ||
        memcmp(q->canonical, p->canonical, p->canonical_size))
        abort(); /* and a fixed point */

    pcr_bank quoted = {.alg = TPMALG_SHA256, .digest_size = 32};
    for (unsigned i = 0; i < PCR_COUNT; i++)
        memset(quoted.pcr[i], (int)i, 32);
    quoted.mask = (1u << PCR_COUNT) - 1;
    evidence ev = {.verdict = VERDICT_OK, .quoted = quoted};
    policy_result res;
    if (policy_evaluate(p, &ev, 1800000000, &res, &err) == 0) {
        if (res.verdict != POLICY_PASS && !res.explanation)
            abort();
        json_object *j = policy_result_to_json(&res);
        char *s = policy_result_summary(&res);
        json_object_put(j);
        free(s);
        policy_result_done(&res);
    }
    policy_free(q);
    policy_free(p);
    return 0;
}
