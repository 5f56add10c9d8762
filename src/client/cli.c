/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The global options and configuration of bootgate-unlock (and of its test
 * driver, bootgate-unlock-test), then the dispatch to one command. */
#include "client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "https.h"
#include "secmem.h"
#include "timing.h"

/* The command named by argv[0], the fallback for no word or a DEVICE path,
 * or NULL: an unknown command (e.g. a test driver this program does not
 * have) is a usage error before anything else happens. */
static const client_command *find_command(const client_program *p, int argc, char **argv)
{
    if (argc == 0)
        return p->fallback;
    for (const client_command *c = p->commands; c->name; c++)
        if (!strcmp(argv[0], c->name))
            return c;
    if (p->fallback && (strchr(argv[0], '/') || access(argv[0], F_OK) == 0))
        return p->fallback;
    return NULL;
}

int client_program_main(const client_program *p, int argc, char **argv)
{
    enum {
        OPT_TCTI = 0x100,
        OPT_TIMEOUT,
        OPT_CONFIG,
        OPT_SET,
        OPT_VERIFY,
        OPT_VERSION,
        OPT_INITRD,
        OPT_TIMING
    };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"verbose", no_argument, NULL, 'v'},
        {"verify-only", no_argument, NULL, OPT_VERIFY},
        {"tcti", required_argument, NULL, OPT_TCTI},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"set", required_argument, NULL, OPT_SET},
        {"initrd", no_argument, NULL, OPT_INITRD},
        {"timing", no_argument, NULL, OPT_TIMING},
        {},
    };
    /* Command-line settings are applied after the file: remember them. */
    const char *config_path = CONFIG_DEFAULT_PATH, *tcti = NULL, *timeout = NULL;
    const char *sets[32];
    size_t n_sets = 0;
    const client_command *cmd;
    client_opts o = {0};
    bg_err err = {{0}};
    bool config_given = false, initrd = false;
    int c, r;

    timing_start(false);
    /* Secrets pass through this process: no core dumps, no ptrace. */
    (void)secmem_harden_process();
    /* tss2 logs failed commands (e.g. probing an absent EK handle) to stderr
     * unless told otherwise; errors are reported once, by this program. */
    (void)setenv("TSS2_LOG", "all+NONE", 0);

    while ((c = getopt_long(argc, argv, "+hv", opts, NULL)) >= 0) {
        switch (c) {
        case 'h':
            p->usage(stdout);
            return CLIENT_EXIT_OK;
        case OPT_VERSION:
            printf("%s %s\n", p->name, BOOTGATE_VERSION);
            return CLIENT_EXIT_OK;
        case 'v':
            o.verbose = true;
            break;
        case OPT_VERIFY:
            o.verify_only = true;
            break;
        case OPT_INITRD:
            initrd = true;
            break;
        case OPT_TIMING:
            timing_start(true);
            break;
        case OPT_TCTI:
            tcti = optarg;
            break;
        case OPT_TIMEOUT:
            timeout = optarg;
            break;
        case OPT_CONFIG:
            config_path = optarg;
            config_given = true;
            break;
        case OPT_SET:
            if (n_sets >= ELEMENTSOF(sets)) {
                client_msg(NULL, "too many --set options");
                return CLIENT_EXIT_USAGE;
            }
            sets[n_sets++] = optarg;
            break;
        default:
            p->usage(stderr);
            return CLIENT_EXIT_USAGE;
        }
    }

    config_defaults(&o.cfg);
    r = config_load(&o.cfg, config_path, config_given, &err);
    if (r >= 0)
        r = config_load_cmdline(
            &o.cfg, getenv("BOOTGATE_CMDLINE") ? getenv("BOOTGATE_CMDLINE") : "/proc/cmdline",
            &err);
    if (r >= 0 && tcti)
        r = config_set(&o.cfg, "tcti", tcti, &err);
    if (r >= 0 && timeout)
        r = config_set(&o.cfg, "timeout", timeout, &err);
    for (size_t i = 0; r >= 0 && i < n_sets; i++) {
        char key[64];
        const char *eq = strchr(sets[i], '=');
        if (!eq || (size_t)(eq - sets[i]) >= sizeof(key)) {
            r = bg_err_set(&err, -EINVAL, "--set %s: expected KEY=VALUE", sets[i]);
            break;
        }
        memcpy(key, sets[i], (size_t)(eq - sets[i]));
        key[eq - sets[i]] = 0;
        r = config_set(&o.cfg, key, eq + 1, &err);
    }
    if (r < 0) {
        client_msg(NULL, "configuration: %s", bg_err_msg(&err));
        return CLIENT_EXIT_USAGE;
    }
    /* In the initramfs the console is where the operator looks. */
    o.console = initrd || access("/etc/initrd-release", F_OK) == 0;

    argc -= optind;
    argv += optind;
    cmd = find_command(p, argc, argv);
    if (!cmd) {
        if (argc == 0)
            client_msg(NULL, "missing command");
        else
            client_msg(NULL, "unknown command '%s'", argv[0]);
        p->usage(stderr);
        return CLIENT_EXIT_USAGE;
    }
    if (https_global_init() < 0) {
        client_msg(NULL, "curl_global_init failed");
        return CLIENT_EXIT_UNREACHABLE;
    }
    /* enroll and unlock hold volume keys and seeds, also in libcurl, OpenSSL
     * and json-c buffers that secmem cannot own: keep every page out of swap.
     * Best effort; skipped when no swap is active (the initramfs usually has
     * none), since then it only costs time. */
    if (cmd->secrets && secmem_swap_active()) {
        r = secmem_lock_all();
        if (r < 0)
            client_log(&o, LOG_WARNING, "warning: cannot lock memory (%s): secrets may reach swap",
                       strerror(-r));
    }
    r = cmd->main(&o, argc, argv);
    https_global_done();
    timing_print(r);
    return r;
}
