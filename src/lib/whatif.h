/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What-if of a policy over the fleet's stored attempts (issue 11, point 3):
 * the pieces that `bootgatectl policy what-if` and bootgated's activation
 * check share. A fleet of identical machines is one boot state: each distinct
 * (event log, IMA log, quoted PCRs) is evaluated once (whatif_cache), and
 * each distinct log is loaded once (while the loaded logs stay under
 * WHATIF_BLOB_CACHE_BYTES). Denials are grouped by whatif_reason, a line that
 * names the PCRs and events and nothing machine-specific. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bgerr.h"
#include "policy.h"

#define WHATIF_REASON_SIZE      512u
#define WHATIF_REASON_EVENTS    3u          /* events named in a reason; the rest counted */
#define WHATIF_BLOB_CACHE_BYTES (64u << 20) /* logs kept for reuse within one what-if */

/* The line a denial is grouped by: the verdict's cause without digests, log
 * indexes or baseline names, so identical changes on different machines give
 * the same line, e.g.
 *   PCR 9 changed EV_IPL "initrd-v2"
 *   PCR 4 new EV_EFI_BOOT_SERVICES_APPLICATION "\EFI\BOOT\BOOTX64.EFI"; +2 more events
 *   PCR 7 differs
 *   IMA not allowed: /usr/bin/evil
 *   evidence: PCR 11: event log does not replay to the quoted value
 *   policy expired
 * "" for a result that releases by its own verdict (PASS). */
void whatif_reason(const policy_result *r, char *buf, size_t size);

/* Whether a stored attempt was released by policy name@version's own verdict:
 * released, by that policy and version, in mode enforce, or in mode audit
 * with a would-be verdict of ok. A break-glass release, or an audit-mode
 * release of a failing boot, does not count (the policy did not approve
 * that boot). */
bool whatif_released_by(bool released, const char *mode, const char *audit_verdict,
                        const char *attempt_policy, int64_t attempt_version, const char *name,
                        int64_t version);

/* Loads a stored log by its SHA-256 (hex): 0 with a malloc'd copy, -ENOENT
 * when it is gone (retention), other -errno on failure (err says why). */
typedef int (*whatif_load_fn)(void *arg, const char *sha256_hex, uint8_t **ret, size_t *ret_size,
                              bg_err *err);

/* The outcome for one distinct boot state. */
typedef struct whatif_state {
    char eventlog_sha256[65], ima_sha256[65];
    char *pcrs;
    int error; /* 0, or -errno: -ENOENT = a log is no longer stored */
    bool release;
    policy_verdict verdict;
    char reason[WHATIF_REASON_SIZE]; /* whatif_reason, or the error's message */
} whatif_state;

typedef struct whatif_blob {
    char sha256[65];
    uint8_t *data;
    size_t size;
} whatif_blob;

typedef struct whatif_cache {
    const policy *policy;
    time_t now;
    whatif_load_fn load;
    void *load_arg;
    size_t max_states; /* 0: no cap */
    whatif_state *states;
    size_t n_states;
    whatif_blob *blobs;
    size_t n_blobs, blob_bytes;
    uint64_t loads; /* logs loaded (for the report: a fleet of twins costs one) */
} whatif_cache;

/* Evaluates c->policy on one attempt's evidence (attempt_evaluate), or
 * returns the earlier evaluation of the same state. ima_sha256 "" means no
 * IMA log; an empty eventlog_sha256 is a state with error -ENOENT. Returns 0
 * with *ret_index the state's index in c->states (which a later call may
 * move; the state may carry an error: a log that is gone, a log that does
 * not parse); -E2BIG when the state is new and c->max_states are held
 * already; -ENOMEM. */
int whatif_evaluate(whatif_cache *c, const char *eventlog_sha256, const char *ima_sha256,
                    const char *pcrs_hex, size_t *ret_index, bg_err *err);
void whatif_cache_done(whatif_cache *c);
