/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A stored attempt judged again (issue 11): its quoted PCRs and its logs,
 * kept by bootgated, evaluated against any policy, the way bootgated judged
 * it (verify.h replay, then policy_evaluate). bootgated uses it before an
 * activation, bootgatectl for `node explain`, `policy what-if` and
 * `policy propose`. The quote itself verified when the attempt was made. */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bgerr.h"
#include "policy.h"

/* pcrs_hex: the quoted PCRs as stored (pcr_bank_encode_hex); eventlog: the
 * raw UEFI log; ima: the raw IMA log or NULL. 0 with *ret filled
 * (policy_result_done), or -errno (err says why). When a log does not parse
 * or replay to the quoted PCRs, ret->verdict is POLICY_EVIDENCE,
 * ret->release false, ret->reason says which. */
int attempt_evaluate(const policy *p, const char *pcrs_hex, const uint8_t *elog, size_t elog_size,
                     const uint8_t *ima, size_t ima_size, time_t now, policy_result *ret,
                     bg_err *err);
