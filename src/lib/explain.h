/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Why a boot state does not match a policy (DESIGN.md section 3): computed
 * against the closest baseline (fewest differing gated PCRs). For each PCR
 * that differs: expected and actual value, and the events of that PCR that
 * are new (in the log, not in the baseline), missing (in the baseline, not in
 * the log) or changed (same place and type, other digest). Events are aligned
 * by a longest-common-subsequence over (type, digest). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "eventlog.h"
#include "ima.h"
#include "policy.h"

#define EXPLAIN_MAX_ITEMS 256u /* events / IMA entries listed; the rest counted */

typedef enum explain_kind {
    EXPLAIN_NEW,
    EXPLAIN_MISSING,
    EXPLAIN_CHANGED,
    EXPLAIN_NOT_ALLOWED, /* no event rule allows it (rules-only PCRs) */
} explain_kind;

typedef struct explain_pcr {
    uint32_t pcr;
    bool has_expected; /* false: the baseline has no value for this PCR */
    uint8_t expected[POLICY_DIGEST_SIZE];
    uint8_t actual[POLICY_DIGEST_SIZE];
} explain_pcr;

typedef struct explain_event {
    explain_kind kind;
    uint32_t pcr;
    uint32_t type;
    char desc[160];
    int64_t log_index; /* index in the event log, -1 for missing events */
    bool has_expected, has_actual;
    uint8_t expected[POLICY_DIGEST_SIZE];
    uint8_t actual[POLICY_DIGEST_SIZE];
} explain_event;

typedef struct explain_ima {
    char path[256];
    char digest[2 * TPMALG_MAX_DIGEST + 16]; /* "sha256:…" */
} explain_ima;

/* A PCR whose log does not replay to the verified value (evidence, not policy). */
typedef struct explain_replay {
    uint32_t pcr;
    bool ima; /* PCR 10, replayed from the IMA log */
    uint8_t replayed[POLICY_DIGEST_SIZE];
    uint8_t quoted[POLICY_DIGEST_SIZE];
} explain_replay;

/* One denial's story, from evaluation to the wire, the console and the
 * audit record: kept as data until it is encoded (explanation_to_json,
 * explanation_lines, explanation_format). */
typedef struct explanation {
    char reason[256]; /* one line: why, e.g. "PCR 4 differs from ..." */
    size_t n_replay;
    explain_replay replay[PCR_COUNT];   /* logs that do not replay (evidence) */
    char baseline[POLICY_MAX_NAME + 1]; /* closest baseline, "" when the policy has none */
    char note[256];                     /* e.g. "policy expired at …", "" */
    size_t n_pcrs;
    explain_pcr pcrs[PCR_COUNT];
    size_t n_events;
    explain_event *events;
    size_t events_omitted; /* beyond EXPLAIN_MAX_ITEMS */
    size_t n_ima;
    explain_ima *ima; /* IMA entries neither allowed nor ignored */
    size_t ima_omitted;
} explanation;

explanation *explanation_new(void);
void explanation_free(explanation *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(explanation *, explanation_free)

/* Compares the log with baseline b on the PCRs in diff_mask (the gated PCRs
 * whose quoted value differs from b) and appends PCR and event entries. */
int explain_baseline(explanation *e, const policy_baseline *b, uint32_t diff_mask,
                     const pcr_bank *quoted, const eventlog *log);
/* Appends the events of the log on PCRs in mask that no rule of p allows. */
int explain_rules(explanation *e, const policy *p, uint32_t mask, const eventlog *log);
int explain_add_ima(explanation *e, const ima_entry *ent);
/* The reason and, for EVENTLOG_MISMATCH, the PCRs whose logs do not replay. */
void explain_evidence(explanation *e, const evidence *ev);

const char *explain_kind_name(explain_kind k); /* "new", "missing", "changed", "not_allowed" */

/* {"reason":..,"replay":[{"pcr":11,"log":"event"|"ima","replayed":..,"quoted":..}],
 *  "baseline":..,"note":..,"pcrs":[{"pcr":9,"expected":..,"actual":..}],
 *  "events":[{"change":"changed","pcr":9,"type":"EV_EVENT_TAG","desc":..,
 *  "log_index":..,"expected_digest":..,"actual_digest":..}],"events_omitted":0,
 *  "ima_not_allowed":[{"path":..,"digest":..}],"ima_omitted":0} */
struct json_object *explanation_to_json(const explanation *e);
/* The lines of a denial for the wire and the node's console, at most
 * max_lines (the last one then says how many were left out): the PCRs whose
 * logs do not replay, else the reason; then the note, the differing PCRs,
 * events and IMA entries. *ret is a malloc'd array of malloc'd strings
 * (explanation_lines_free). */
int explanation_lines(const explanation *e, size_t max_lines, char ***ret, size_t *ret_n);
void explanation_lines_free(char **lines, size_t n);
/* Appends human lines ("  PCR 9 changed EV_EVENT_TAG 'Linux initrd' 3a4f…→9c21…")
 * to a malloc'd string; max_events limits the event lines. */
int explanation_format(const explanation *e, size_t max_events, char **ret);
