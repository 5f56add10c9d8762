/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The volumes one unlock run works on, opened on a thread of their own while
 * the main thread sets up the TPM.
 *
 * Reading a LUKS2 header is libcryptsetup's crypt_init + crypt_load: its crypto
 * backend's own OpenSSL context, O_DIRECT reads of both header copies, JSON
 * validation, about 1.5 ms per volume, and in the initramfs the search also
 * waits for udev to show the disks. None of it needs the TPM, and the TPM's
 * EK/AK setup is the slowest step of an unlock (a CreatePrimary, milliseconds
 * on swtpm, tens to hundreds on a TPM chip). So the two run side by side and
 * the unlock starts when both are done. The search thread only uses
 * libcryptsetup and its own memory: it prints nothing and touches no timing
 * counters; the main thread reports what it found. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bgerr.h"
#include "luks.h"

typedef struct volume {
    char *dev;               /* "/dev/sda2" or the path given */
    struct crypt_device *cd; /* loaded header, NULL when r < 0 */
    luks_token tok;
    int r; /* < 0: this volume cannot be unlocked, err says why */
    bg_err err;
} volume;

typedef struct volume_search {
    /* in */
    char **devs;     /* given on the command line (not owned), or NULL: search */
    size_t n_devs;   /* number of devs */
    unsigned wait_s; /* search: how long to wait for a disk with a token */
    /* out, valid after volume_search_join() */
    volume *v;
    size_t n;
    int r; /* < 0: the search itself failed (err) */
    bg_err err;
    uint64_t busy_us; /* how long the thread worked (overlapping the TPM setup) */
    uint64_t cpu_us;  /* of which on a CPU (CLOCK_THREAD_CPUTIME_ID) */
    /* private */
    pthread_t thread;
    bool started;
} volume_search;

/* Starts the search (or the opening of s->devs). Falls back to doing it on
 * the caller's thread when no thread can be created. */
void volume_search_start(volume_search *s);
/* Waits for it; afterwards s->v[0..n) and s->r are set. Idempotent. */
void volume_search_join(volume_search *s);
void volume_search_done(volume_search *s);
