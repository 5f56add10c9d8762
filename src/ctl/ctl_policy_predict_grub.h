/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* policy predict for the Secure Boot chain shim -> GRUB -> kernel. */

#include <stdbool.h>
#include <stddef.h>

#include "eventlog.h"

typedef struct grub_predict_opts {
    const char *kernel, *initrd, *cmdline, *grub_cfg; /* NULL: as in the reference */
    const char *shim, *grub;                          /* boot loader update */
} grub_predict_opts;

/* Strings the rewritten log's events point to; free after the log is used. */
typedef struct grub_strings {
    size_t n;
    char *s[];
} grub_strings;
void grub_strings_free(grub_strings *g);
static inline void grub_strings_freep(grub_strings **g)
{
    grub_strings_free(*g);
}

/* A reference log of a GRUB boot: GRUB measured its commands into PCR 8. */
bool grub_log_is_grub(const eventlog *log);

/* Rewrites log (its events array) for the components of o: PCRs 4, 8, 9 as GRUB
 * and shim measure them. CTL_EXIT_* (the error names the PCR and the event). */
int grub_predict(eventlog *log, const grub_predict_opts *o, grub_strings **ret_strings);
