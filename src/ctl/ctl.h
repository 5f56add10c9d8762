/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgatectl: one file per command group (ctl_<group>.c), each exporting
 * int ctl_<group>_main(int argc, char **argv) where argv[0] is the group name.
 *
 * Exit codes shared by every command (scripts depend on them):
 *   0 success / valid, 1 check failed or operation refused, 2 usage error,
 *   3 runtime error (I/O, server unreachable). */

#include <stdbool.h>

#include "bgerr.h"

enum {
    CTL_EXIT_OK = 0,
    CTL_EXIT_FAIL = 1,
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_RUNTIME = 3,
};

/* Prints "bootgatectl: <message>" and a hint to use --help; returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) _printf_(2, 3);
/* Prints "bootgatectl: <message>" to stderr; returns code. */
int ctl_error(int code, const char *fmt, ...) _printf_(2, 3);

/* Command groups. Each is defined (weakly referenced here) in its own file so
 * that a group that is not built simply does not appear. */
int ctl_eventlog_main(int argc, char **argv);
int ctl_quote_main(int argc, char **argv);
int ctl_credential_main(int argc, char **argv);
int ctl_policy_main(int argc, char **argv);
int ctl_node_main(int argc, char **argv);
int ctl_audit_main(int argc, char **argv);
int ctl_breakglass_main(int argc, char **argv);
int ctl_init_server_main(int argc, char **argv);
int ctl_db_main(int argc, char **argv);
int ctl_report_main(int argc, char **argv);
