/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#pragma weak ctl_eventlog_main
#pragma weak ctl_quote_main
#pragma weak ctl_credential_main
#pragma weak ctl_policy_main
#pragma weak ctl_node_main
#pragma weak ctl_audit_main
#pragma weak ctl_breakglass_main
#pragma weak ctl_init_server_main
#pragma weak ctl_db_main
#pragma weak ctl_report_main

typedef struct ctl_group {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
} ctl_group;

static const ctl_group groups[] = {
    {"eventlog", ctl_eventlog_main, "show and replay UEFI/IMA event logs"},
    {"quote", ctl_quote_main, "verify a TPM quote"},
    {"credential", ctl_credential_main, "MakeCredential in software"},
    {"policy", ctl_policy_main, "capture, sign, publish and activate policies"},
    {"node", ctl_node_main, "list, approve and revoke nodes"},
    {"audit", ctl_audit_main, "show, verify and export the audit log"},
    {"breakglass", ctl_breakglass_main, "request and approve break-glass grants"},
    {"init-server", ctl_init_server_main, "create keys, certificates and config for a server"},
    {"db", ctl_db_main, "schema status and migration of the server's store"},
    {"report", ctl_report_main, "fleet reports from stored attempts (drift)"},
};

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("bootgatectl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'bootgatectl %s --help'.\n", cmd ? cmd : "");
    return CTL_EXIT_USAGE;
}

int ctl_error(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("bootgatectl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: bootgatectl COMMAND [ARGS...]\n\nCommands:\n");
    for (size_t i = 0; i < ELEMENTSOF(groups); i++)
        if (groups[i].main)
            fprintf(f, "  %-12s %s\n", groups[i].name, groups[i].summary);
    fprintf(f, "\nRun 'bootgatectl COMMAND --help' for a command's options.\n"
               "Exit codes: 0 ok, 1 check failed, 2 usage, 3 runtime error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr), CTL_EXIT_USAGE;
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        return usage(stdout), CTL_EXIT_OK;
    if (!strcmp(argv[1], "--version"))
        return puts("bootgatectl " BOOTGATE_VERSION), CTL_EXIT_OK;
    for (size_t i = 0; i < ELEMENTSOF(groups); i++)
        if (groups[i].main && !strcmp(argv[1], groups[i].name))
            return groups[i].main(argc - 1, argv + 1);
    fprintf(stderr, "bootgatectl: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CTL_EXIT_USAGE;
}
