/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Error detail for the caller that decides what to print.
 *
 * Library functions return >= 0 on success and -errno on failure. When the
 * caller passes a bg_err, the function also leaves one human sentence there
 * (for parsers: the byte offset and the reason). Messages never contain
 * secrets. The library itself prints nothing. */

#include <stdarg.h>
#include <stddef.h>

#include "cleanup.h"

typedef struct bg_err {
    char msg[256];
} bg_err;

/* Stores the message (if err is not NULL) and returns code, which must be a
 * negative errno: `return bg_err_set(err, -EBADMSG, "offset %zu: ...", off);` */
int bg_err_set(bg_err *err, int code, const char *fmt, ...) _printf_(3, 4);

/* Prefixes an existing message: "while reading AK: <old message>". */
int bg_err_prefix(bg_err *err, int code, const char *fmt, ...) _printf_(3, 4);

static inline const char *bg_err_msg(const bg_err *err)
{
    return err && err->msg[0] ? err->msg : "unknown error";
}
