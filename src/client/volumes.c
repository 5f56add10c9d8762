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

static int volume_found(const char *path, struct crypt_device **cd, const luks_token *tok,
                        void *userdata, bg_err *err)
{
    volume_search *s = userdata;
    volume *v;

    if (s->n >= LUKS_MAX_DEVICES)
        return 0;
    v = &s->v[s->n];
    if (!(v->dev = strdup(path)))
        return bg_err_set(err, -ENOMEM, "out of memory");
    v->cd = TAKE_PTR(*cd); /* the header read by the scan, not read again */
    v->tok = *tok;
    s->n++;
    return 0;
}

/* No devices given: the block devices with a bootgate token. Disks may still
 * be appearing (udev) when the initrd unit starts, so look again for a while
 * before concluding there is none. */
static int volumes_search(volume_search *s)
{
    uint64_t until = timing_now_us() + (uint64_t)s->wait_s * 1000000u;
    int r;

    s->v = calloc(LUKS_MAX_DEVICES, sizeof(volume));
    if (!s->v)
        return bg_err_set(&s->err, -ENOMEM, "out of memory");
    for (;;) {
        r = luks_scan(volume_found, s, &s->err);
        if (r < 0)
            return r;
        if (s->n > 0 || timing_now_us() + 500000u > until)
            break;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (s->n == 0)
        return bg_err_set(&s->err, -ENOENT, "no LUKS2 volume with a bootgate token");
    return 0;
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
