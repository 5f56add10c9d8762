/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgatectl policy: subcommands split by file (offline document tools in
 * ctl_policy.c, log-based tools in ctl_policy_logs.c). Each takes argv with
 * argv[0] = the subcommand name and returns a CTL_EXIT_* code. */

#include <stdint.h>

#include "eventlog.h"
#include "ima.h"

int ctl_policy_capture(int argc, char **argv);
int ctl_policy_explain(int argc, char **argv);
int ctl_policy_predict(int argc, char **argv);

/* Shared helpers */
int ctl_policy_load_eventlog(const char *path, eventlog **ret);  /* CTL_EXIT_* */
int ctl_policy_load_ima(const char *path, ima_log **ret);        /* CTL_EXIT_* */
int ctl_policy_write_output(const char *path, const char *text); /* NULL/"-" = stdout */
