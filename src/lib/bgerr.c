/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bgerr.h"

#include <stdio.h>
#include <string.h>

int bg_err_set(bg_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

int bg_err_prefix(bg_err *err, int code, const char *fmt, ...)
{
    if (err) {
        char prefix[128], old[sizeof(err->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof(prefix), fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof(old));
        /* Truncation is acceptable: the message is for humans. */
        int n = snprintf(err->msg, sizeof(err->msg), "%s: ", prefix);
        if (n > 0 && (size_t)n < sizeof(err->msg)) {
            /* memcpy, not snprintf: GCC's -Wformat-truncation rejects the
             * (intended) truncation at -O0. */
            const char *tail = old[0] ? old : "unknown error";
            size_t room = sizeof(err->msg) - (size_t)n - 1, len = strlen(tail);
            if (len > room)
                len = room;
            memcpy(err->msg + n, tail, len);
            err->msg[(size_t)n + len] = '\0';
        }
    }
    return code;
}
