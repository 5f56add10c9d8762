/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgate-unlock-test: the options and configuration of bootgate-unlock,
 * then one test driver (testtool.h). */
#include "testtool.h"

#include <stdio.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: bootgate-unlock-test [OPTIONS] COMMAND ...   (test drivers, not installed)\n"
            "  keys [--ek-public F] [--ak-public F] [--ek-cert F]  EK/AK names and publics\n"
            "  quote --nonce HEX [--attest F] [--signature F]      quote sha256:0-11\n"
            "  activate --credential-file F [--crash abort]\n"
            "                                  ActivateCredential of a tpm2_makecredential file\n"
            "                                  (--crash: SIGABRT with the secret in memory)\n"
            "  luks DEVICE [--write-token ...] [--volume-key-file F] [--key-file F]\n"
            "  http URL [--body JSON]          POST with the configured CA pin and retries\n"
            "OPTIONS are those of bootgate-unlock (--tcti, --config, --set, --timeout, ...).\n");
}

static const client_command commands[] = {
    {"keys", testtool_keys, false},         {"quote", testtool_quote, false},
    {"activate", testtool_activate, false}, {"luks", testtool_luks, false},
    {"http", testtool_http, false},         {},
};

static const client_program program = {
    .name = "bootgate-unlock-test",
    .usage = usage,
    .commands = commands,
};

int main(int argc, char **argv)
{
    return client_program_main(&program, argc, argv);
}
