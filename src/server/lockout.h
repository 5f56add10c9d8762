/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The activation check of issue 11 point 3: before a stored policy version
 * becomes the active one of its name (also a rollback), the nodes of the
 * group it gates whose latest stored boot the CURRENT active version released
 * are judged by it (attempt_evaluate over the stored logs, libbootgate's
 * whatif.h); the nodes it would deny are a lockout, which the admin route
 * refuses unless forced with a reason.
 *
 * The work is capped (config activation_check_max_nodes, _max_states): the
 * newest attempt of at most that many nodes judged, at most that many
 * distinct boot states (event log, IMA log, quoted PCRs) evaluated; a fleet
 * of identical machines is one evaluation. Nodes beyond the caps are counted
 * as unchecked, which refuses like a lockout (fail closed). */

#include <stddef.h>

#include <json-c/json.h>

#include "bgerr.h"
#include "srv.h"
#include "store.h"

#define SRV_LOCKOUT_MAX_LISTED 1000u /* nodes named in a reply or audit record */

typedef struct srv_lockout {
    int64_t active_version; /* 0: the name has no active version (nothing to lock out) */
    size_t checked;         /* nodes whose latest boot the active version released */
    size_t states;          /* distinct boot states evaluated */
    size_t log_loads;       /* stored logs loaded */
    size_t would_deny;      /* of the checked nodes */
    size_t unchecked;       /* beyond the caps */
    json_object *nodes;     /* [{"node_id", "reason"}], at most SRV_LOCKOUT_MAX_LISTED */
} srv_lockout;

/* Judges candidate (a stored version, its signature verified again) on the
 * latest attempts of group candidate->name. 0 with ret filled (free with
 * srv_lockout_done, also on failure); -errno when the check could not run
 * (err says why; -EPERM: the candidate is not signed by a trusted key). */
int srv_lockout_check(srv *s, const store_policy *candidate, srv_lockout *ret, bg_err *err);
void srv_lockout_done(srv_lockout *l);
