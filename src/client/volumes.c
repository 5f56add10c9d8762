/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "volumes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

static int volumes_open(volume_search *s, char **devs, size_t n)
{
    s->v = calloc(n ? n : 1, sizeof(volume));
    if (!s->v)
        return bg_err_set(&s->err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        volume *v = &s->v[i];
        v->dev = strdup(devs[i]);
        if (!v->dev)
            return bg_err_set(&s->err, -ENOMEM, "out of memory");
        s->n++;
        v->r = luks_open(v->dev, &v->cd, &v->err);
        if (v->r >= 0)
            v->r = luks_token_read(v->cd, &v->tok, NULL, &v->err);
    }
    return 0;
}

/* No devices given: the block devices with a bootgate token. Disks may still
 * be appearing (udev) when the initrd unit starts, so look again for a while
 * before concluding there is none. */
static int volumes_search(volume_search *s)
{
    uint64_t until = timing_now_us() + (uint64_t)s->wait_s * 1000000u;
    char **found = NULL;
    size_t n = 0;
    int r;

    for (;;) {
        r = luks_find_devices(&found, &s->err);
        if (r < 0)
            return r;
        if (found[0] || timing_now_us() + 500000u > until)
            break;
        luks_strv_free(TAKE_PTR(found));
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!found[0]) {
        luks_strv_free(found);
        return bg_err_set(&s->err, -ENOENT, "no LUKS2 volume with a bootgate token");
    }
    while (found[n])
        n++;
    r = volumes_open(s, found, n);
    luks_strv_free(found);
    return r;
}

static uint64_t thread_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void *volume_search_run(void *arg)
{
    volume_search *s = arg;
    uint64_t t0 = timing_now_us(), c0 = thread_cpu_us();

    s->r = s->devs ? volumes_open(s, s->devs, s->n_devs) : volumes_search(s);
    s->busy_us = timing_now_us() - t0;
    s->cpu_us = thread_cpu_us() - c0;
    return NULL;
}

void volume_search_start(volume_search *s)
{
    if (pthread_create(&s->thread, NULL, volume_search_run, s) == 0)
        s->started = true;
    else
        volume_search_run(s);
}

void volume_search_join(volume_search *s)
{
    if (s->started) {
        pthread_join(s->thread, NULL);
        s->started = false;
    }
}

void volume_search_done(volume_search *s)
{
    volume_search_join(s);
    for (size_t i = 0; i < s->n; i++) {
        crypt_free(s->v[i].cd);
        free(s->v[i].dev);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
