/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* In-process benchmark of event-log parse + replay (one bank, sha256 by
 * default): bench_eventlog FILE [ITERATIONS] [ALG]. Prints µs per log and
 * events per second; the median of 5 rounds damps noise on a shared machine. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eventlog.h"
#include "util.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    _cleanup_(freep) uint8_t *buf = NULL;
    size_t size = 0, n_events = 0;
    unsigned iterations = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 20000;
    const tpmalg *alg = tpmalg_by_name(argc > 3 ? argv[3] : "sha256");
    double rounds[5];
    bg_err err = {0};

    if (argc < 2 || !alg || iterations == 0) {
        fprintf(stderr, "usage: bench_eventlog FILE [ITERATIONS] [ALG]\n");
        return 2;
    }
    if (read_file(argv[1], EVENTLOG_MAX_SIZE, &buf, &size, &err) < 0) {
        fprintf(stderr, "%s\n", bg_err_msg(&err));
        return 1;
    }
    for (unsigned round = 0; round < 5; round++) {
        double t0 = now_us();
        for (unsigned i = 0; i < iterations; i++) {
            eventlog *log = NULL;
            pcr_bank bank;
            if (eventlog_parse(buf, size, &log, &err) < 0 ||
                eventlog_replay(log, alg->id, &bank, &err) < 0) {
                fprintf(stderr, "%s\n", bg_err_msg(&err));
                eventlog_free(log);
                return 1;
            }
            n_events = log->n_events;
            eventlog_free(log);
        }
        rounds[round] = (now_us() - t0) / iterations;
    }
    qsort(rounds, 5, sizeof(rounds[0]), cmp_double);
    printf("bootgate: %s: %zu bytes, %zu events, parse+replay %s: %.2f us/log (min %.2f), "
           "%.0f events/s\n",
           argv[1], size, n_events, alg->name, rounds[2], rounds[0],
           (double)n_events / rounds[2] * 1e6);
    return 0;
}
