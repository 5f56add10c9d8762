/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "secmem.h"
#include "timing.h"

static void console_write(const char *line)
{
    int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, line, strlen(line));
        close(fd);
    }
    /* plymouth hides the console behind its splash; give it the message too. */
    if (access("/usr/bin/plymouth", X_OK) == 0 || access("/bin/plymouth", X_OK) == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            char text[600];
            snprintf(text, sizeof(text), "--text=%s", line);
            size_t n = strlen(text);
            if (n && text[n - 1] == '\n')
                text[n - 1] = 0;
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null >= 0) {
                dup2(null, 1);
                dup2(null, 2);
            }
            execlp("plymouth", "plymouth", "display-message", text, (char *)NULL);
            _exit(127);
        }
        if (pid > 0)
            (void)waitpid(pid, NULL, 0);
    }
}

void client_msg(const client_opts *o, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n = snprintf(line, sizeof(line), "bootgate-unlock: ");
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
    if (o && o->console) {
        strncat(line, "\n", sizeof(line) - strlen(line) - 1);
        console_write(line);
    }
}

void client_debug(const client_opts *o, const char *fmt, ...)
{
    va_list ap;
    if (!o || !o->verbose)
        return;
    fputs("bootgate-unlock: debug: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void usage(FILE *f)
{
    fprintf(
        f, "Usage: bootgate-unlock [OPTIONS] [DEVICE...]      unlock (default)\n"
           "       bootgate-unlock [OPTIONS] enroll --server URL --ca FILE [--group G]\n"
           "                                  [--key-file F] DEVICE...\n"
           "       bootgate-unlock [OPTIONS] status [DEVICE...]\n"
           "       bootgate-unlock [OPTIONS] debug COMMAND ...   (testing, see 'debug --help')\n"
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

int main(int argc, char **argv)
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
            usage(stdout);
            return CLIENT_EXIT_OK;
        case OPT_VERSION:
            puts("bootgate-unlock " BOOTGATE_VERSION);
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
            usage(stderr);
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

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        client_msg(NULL, "curl_global_init failed");
        return CLIENT_EXIT_UNREACHABLE;
    }
    argc -= optind;
    argv += optind;
    /* enroll and unlock hold volume keys and seeds, also in libcurl, OpenSSL
     * and json-c buffers that secmem cannot own: keep every page out of swap.
     * Best effort; skipped when no swap is active (the initramfs usually has
     * none), since then it only costs time. */
    if ((argc == 0 || (strcmp(argv[0], "status") != 0 && strcmp(argv[0], "debug") != 0)) &&
        secmem_swap_active()) {
        r = secmem_lock_all();
        if (r < 0)
            client_msg(&o, "warning: cannot lock memory (%s): secrets may reach swap",
                       strerror(-r));
    }
    if (argc > 0 && !strcmp(argv[0], "enroll"))
        r = client_enroll_main(&o, argc, argv);
    else if (argc > 0 && !strcmp(argv[0], "status"))
        r = client_status_main(&o, argc, argv);
    else if (argc > 0 && !strcmp(argv[0], "debug"))
        r = client_debug_main(&o, argc, argv);
    else
        r = client_unlock_main(&o, argc, argv);
    curl_global_cleanup();
    timing_print(r);
    return r;
}
