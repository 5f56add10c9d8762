/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The client's messages: stderr, and in the initramfs also the console and
 * plymouth, where the operator looks. */
#include "client.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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
