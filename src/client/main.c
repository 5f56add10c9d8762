/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bootgate-unlock: the program the dracut module installs. Unlock (default),
 * enroll and status; the test drivers are in bootgate-unlock-test. */
#include "client.h"

#include <stdio.h>

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: bootgate-unlock [OPTIONS] [DEVICE...]      unlock (default)\n"
           "       bootgate-unlock [OPTIONS] enroll --server URL --ca FILE [--group G]\n"
           "                                  [--key-file F] DEVICE...\n"
           "       bootgate-unlock [OPTIONS] status [DEVICE...]\n"
           "\nOptions:\n"
           "  --verify-only     check the released key against the LUKS header, do not activate\n"
           "  --tcti CONF       TPM TCTI (default " CONFIG_DEFAULT_TCTI ")\n"
           "  --timeout SEC     total deadline (also rd.bootgate.timeout=)\n"
           "  --config FILE     configuration (default " CONFIG_DEFAULT_PATH ")\n"
           "  --set KEY=VALUE   override one configuration key\n"
           "  --initrd          in the initramfs: messages also on the console and plymouth\n"
           "                    (implied by /etc/initrd-release)\n"
           "  --verbose         debug messages (never secrets)\n"
           "  --timing          one JSON line of per-phase durations on stderr (bench/client)\n"
           "  --help, --version\n"
           "\nWith no DEVICE, unlocks every block device whose LUKS2 header has a bootgate token.\n"
           "Exit codes: 0 unlocked, 1 denied, 2 usage/config, 3 TPM, 4 server unreachable.\n");
}

static const client_command commands[] = {
    {"unlock", client_unlock_main, true},
    {"enroll", client_enroll_main, true},
    {"status", client_status_main, false},
    {},
};

static const client_program program = {
    .name = "bootgate-unlock",
    .usage = usage,
    .commands = commands,
    .fallback = &commands[0], /* [unlock] [DEVICE...] */
};

int main(int argc, char **argv)
{
    return client_program_main(&program, argc, argv);
}
