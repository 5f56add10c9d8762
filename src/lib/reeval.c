/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A stored attempt judged again (reeval.h). */
#include "reeval.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "eventlog.h"
#include "ima.h"
#include "proto.h"
#include "tpmalg.h"
#include "verdict.h"
#include "verify.h"

static int evidence_verdict(policy_result *ret, bg_verdict code, const char *what, const char *why)
{
    memset(ret, 0, sizeof(*ret));
    ret->verdict = POLICY_EVIDENCE;
    ret->code = code;
    ret->release = false;
    snprintf(ret->reason, sizeof(ret->reason), "%s: %.200s", what, why);
    return 0;
}

int attempt_evaluate(const policy *p, const char *pcrs_hex, const uint8_t *elog, size_t elog_size,
                     const uint8_t *ima, size_t ima_size, time_t now, policy_result *ret,
                     bg_err *err)
{
    _cleanup_(eventlog_freep) eventlog *log = NULL;
    _cleanup_(ima_log_freep) ima_log *il = NULL;
    _cleanup_(evidence_done) evidence ev = {0};
    pcr_bank quoted;
    bg_err perr = {{0}};
    int r;

    if (!pcrs_hex || pcr_bank_decode_hex(pcrs_hex, &quoted) < 0)
        return bg_err_set(err, -EBADMSG, "the attempt's quoted PCRs do not decode");
    /* only the PCRs a bootgate quote covers count, as at the unlock */
    quoted.mask &= (1u << PROTO_PCR_COUNT) - 1;
    if (eventlog_parse(elog, elog_size, &log, &perr) < 0)
        return evidence_verdict(ret, VERDICT_EVENTLOG_INVALID, "event log", bg_err_msg(&perr));
    if (ima && ima_size && ima_parse(ima, ima_size, &il, &perr) < 0)
        return evidence_verdict(ret, VERDICT_IMALOG_INVALID, "IMA log", bg_err_msg(&perr));
    r = evidence_replay(&quoted, log, il, &ev, err);
    if (r < 0)
        return r;
    if (ev.verdict != VERDICT_OK)
        return evidence_verdict(ret, ev.verdict, "evidence does not verify", ev.reason);
    return policy_evaluate(p, &ev, now, ret, err);
}
