/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Scope-bound cleanup in the manner of systemd: a variable declared with
 * _cleanup_(freep) is released on every path out of its scope, and TAKE_PTR
 * hands ownership on without a double free. All destructors are NULL-safe. */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)         __attribute__((cleanup(f)))
#define _unused_             __attribute__((unused))
#define _printf_(a, b)       __attribute__((format(printf, a, b)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define TAKE_PTR(p)                                                                                \
    ({                                                                                             \
        __typeof__(p) *_pp = &(p);                                                                 \
        __typeof__(p) _p = *_pp;                                                                   \
        *_pp = NULL;                                                                               \
        _p;                                                                                        \
    })

#define TAKE_FD(fd)                                                                                \
    ({                                                                                             \
        int *_pfd = &(fd);                                                                         \
        int _fd = *_pfd;                                                                           \
        *_pfd = -1;                                                                                \
        _fd;                                                                                       \
    })

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Defines void name(type **p) that calls func(*p) when *p is not NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
    static inline void func##p(type *p)                                                            \
    {                                                                                              \
        if (*p)                                                                                    \
            func(*p);                                                                              \
    }

static inline void freep(void *p)
{
    free(*(void **)p);
}

static inline void fclosep(FILE **f)
{
    if (*f)
        fclose(*f);
}

static inline void closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}
