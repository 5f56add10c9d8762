/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Evidence of one boot, verified once (DESIGN §1 steps c-f): the AK's
 * attributes and pinned name, the quote signature and fields, the PCR values
 * the quote covers, and the replay of the UEFI event log (PCRs 0-9, 11, ...)
 * and the IMA log (PCR 10) to those values. The result carries the parsed
 * logs and the verified PCRs; policy evaluation, explanation and break-glass
 * take it and never parse or replay again. A log that does not replay is a
 * failure of evidence, never of policy. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bgerr.h"
#include "eventlog.h"
#include "ima.h"
#include "quote.h"
#include "tpmalg.h"
#include "verdict.h"

typedef struct evidence_input {
    const tpmpub *ak;              /* parsed TPM2B_PUBLIC of the AK */
    const uint8_t *pinned_ak_name; /* the AK name enrolled for the node */
    size_t pinned_ak_name_size;
    const uint8_t *attest; /* marshalled TPMS_ATTEST */
    size_t attest_size;
    const uint8_t *sig; /* marshalled TPMT_SIGNATURE */
    size_t sig_size;
    const uint8_t *nonce;
    size_t nonce_size;
    const pcr_bank *pcrs;            /* the PCR values the node claims */
    const quote_selection *required; /* the selection the quote must have */
    const uint8_t *event_log;
    size_t event_log_size;
    const uint8_t *ima_log; /* size 0: the node sent none */
    size_t ima_log_size;
    /* called after each stage ("ak", "quote", "replay") when not NULL */
    void (*mark)(void *arg, const char *stage);
    void *mark_arg;
} evidence_input;

/* A PCR whose log replay differs from the verified value. */
typedef struct evidence_replay_diff {
    uint32_t pcr;
    bool ima; /* PCR 10, from the IMA log */
    uint8_t replayed[TPMALG_MAX_DIGEST];
    uint8_t quoted[TPMALG_MAX_DIGEST];
} evidence_replay_diff;

typedef struct evidence {
    bg_verdict verdict; /* VERDICT_OK, or the first check that failed */
    char reason[256];   /* one sentence for every verdict */
    pcr_bank quoted;    /* verified values: exactly the quoted selection */
    pcr_bank replayed;  /* what the logs replay to (PCR 10 from the IMA log) */
    const eventlog *log;
    const ima_log *ima; /* NULL when no IMA log was sent */
    size_t n_diffs;     /* PCRs named in diffs (EVENTLOG_MISMATCH) */
    evidence_replay_diff diffs[PCR_COUNT];
    eventlog *owned_log; /* parsed by evidence_verify; freed by evidence_done */
    ima_log *owned_ima;
} evidence;

/* Runs the checks in the fixed order. Returns 0 with ret->verdict set (look
 * at it), or -errno when a check could not run (ret->verdict is then
 * VERDICT_INTERNAL). Free with evidence_done in both cases. */
int evidence_verify(const evidence_input *in, evidence *ret, bg_err *err);

/* The replay step alone, for PCR values taken as given (bootgatectl policy
 * explain, where the values read on the machine or the log itself stand in
 * for a quote): every PCR in pcrs->mask must equal the replay of log (PCR
 * 10: of ima, and only when ima is given). log and ima stay the caller's and must
 * outlive ret. Returns 0 with ret->verdict OK or EVENTLOG_MISMATCH /
 * EVENTLOG_INVALID / IMALOG_INVALID. */
int evidence_replay(const pcr_bank *pcrs, const eventlog *log, const ima_log *ima, evidence *ret,
                    bg_err *err);

/* Evidence from the logs alone (bootgatectl policy explain without PCR
 * values): their replay stands in for the quoted values of the PCRs in
 * mask; verdict OK unless a log does not replay (EVENTLOG_INVALID,
 * IMALOG_INVALID). log and ima stay the caller's. */
int evidence_from_logs(const eventlog *log, const ima_log *ima, uint32_t mask, evidence *ret,
                       bg_err *err);

void evidence_done(evidence *e);
