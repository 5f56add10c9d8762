/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client's messages: stderr, and in the initramfs also the console and
 * plymouth, where the operator looks. */
#include "client.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* stderr is the journal's stream for this unit (systemd.exec(5),
 * $JOURNAL_STREAM = device:inode of it): then each line carries its priority
 * as a "<N>" prefix, which journald turns into PRIORITY= and strips, so that
 * `journalctl -p warning -u bootgate-unlock.service` shows the denials. */
static bool stderr_is_journal(void)
{
    static int cached = -1;
    if (cached < 0) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        cached = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
                 (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
    }
    return cached;
}

static void vmsg(const client_opts *o, int priority, const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "bootgate-unlock: ");
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (stderr_is_journal())
        fprintf(stderr, "<%d>%s\n", priority, line);
    else
        fprintf(stderr, "%s\n", line);
    if (o && o->console) {
        strncat(line, "\n", sizeof(line) - strlen(line) - 1);
        console_write(line);
    }
}

void client_msg(const client_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(o, LOG_ERR, fmt, ap);
    va_end(ap);
}

void client_log(const client_opts *o, int priority, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(o, priority, fmt, ap);
    va_end(ap);
}

void client_debug(const client_opts *o, const char *fmt, ...)
{
    va_list ap;
    if (!o || !o->verbose)
        return;
    fputs(stderr_is_journal() ? "<7>bootgate-unlock: debug: " : "bootgate-unlock: debug: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
