/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* bootgate-unlock: shared declarations of the subcommands (one file each). */

#include <stdbool.h>

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

/* Prints "bootgate-unlock: <msg>" on stderr (and the console in the initrd). */
void client_msg(const client_opts *o, const char *fmt, ...) _printf_(2, 3);
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
int client_debug_main(client_opts *o, int argc, char **argv);
