/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The evidence bootgated keeps of each unlock attempt (store.h attempts),
 * read through the admin API: `node attempts`, `node explain`, and for the
 * policy commands that judge stored boots again (what-if, propose). */

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "adminapi.h"

/* An attempt as GET /v1/admin/attempts/ID gives it: json (the attempt's
 * fields: node_id, verdict, policy, policy_version, pcrs, evaluation, ...)
 * and its logs decoded (ima NULL when the node sent none). */
typedef struct ctl_attempt {
    json_object *json;
    uint8_t *eventlog;
    size_t eventlog_size;
    uint8_t *ima;
    size_t ima_size;
} ctl_attempt;

/* CTL_EXIT_OK with *ret filled (ctl_attempt_done), else the exit code after
 * the message. */
int ctl_attempt_fetch(adminapi_opts *o, int64_t id, ctl_attempt *ret);
void ctl_attempt_done(ctl_attempt *a);

/* bootgatectl node attempts|explain (argv[0] is the verb). */
int ctl_node_attempts(int argc, char **argv);
int ctl_node_explain(int argc, char **argv);
