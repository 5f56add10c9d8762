/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgate-unlock: shared declarations of the subcommands (one file each). */

#include <stdbool.h>
#include <stdio.h>
#include <syslog.h>

#include "bgerr.h"
#include "config.h"

/* DESIGN §7 */
enum {
    CLIENT_EXIT_OK = 0,
    CLIENT_EXIT_DENIED = 1,
    CLIENT_EXIT_USAGE = 2,
    CLIENT_EXIT_TPM = 3,
    CLIENT_EXIT_UNREACHABLE = 4,
};

typedef struct client_opts {
    client_config cfg;
    bool verbose;
    bool verify_only;
    bool console; /* also write messages to /dev/console + plymouth (initrd) */
} client_opts;

/* One subcommand: argv[0] is its name. */
typedef struct client_command {
    const char *name;
    int (*main)(client_opts *o, int argc, char **argv);
    bool secrets; /* handles volume keys or seeds: keep memory out of swap */
} client_command;

/* A program built on the client's code: bootgate-unlock (installed, in the
 * initramfs) and bootgate-unlock-test (test drivers, never installed). */
typedef struct client_program {
    const char *name; /* for --version */
    void (*usage)(FILE *f);
    const client_command *commands; /* ends with a NULL name */
    /* run when the first word is no command but an existing path (a DEVICE),
     * or absent; NULL: a command is required */
    const client_command *fallback;
} client_program;

/* The global options (--tcti, --config, --set, --timeout, --verbose, ...) and
 * the configuration every command shares, then the command. */
int client_program_main(const client_program *p, int argc, char **argv);

/* Prints "bootgate-unlock: <msg>" on stderr (and the console in the initrd). */
/* A message for the operator at LOG_ERR (client_msg) or at a syslog
 * priority (client_log: LOG_WARNING for denials, LOG_INFO for progress);
 * the priority reaches the journal when stderr is the unit's journal stream. */
void client_msg(const client_opts *o, const char *fmt, ...) _printf_(2, 3);
void client_log(const client_opts *o, int priority, const char *fmt, ...) _printf_(3, 4);
void client_debug(const client_opts *o, const char *fmt, ...) _printf_(2, 3);
/* Opens the TPM of o->cfg.tcti and loads EK + AK; prints the error
 * (no TPM / lockout / other) and returns the exit code on failure. */
struct tpm_ctx;
int client_tpm_setup(const client_opts *o, struct tpm_ctx **ret);
/* One line for a TPM errno: "no TPM", "TPM in dictionary-attack lockout", ... */
const char *client_tpm_strerror(int r);

int client_unlock_main(client_opts *o, int argc, char **argv);
int client_enroll_main(client_opts *o, int argc, char **argv);
int client_status_main(client_opts *o, int argc, char **argv);
