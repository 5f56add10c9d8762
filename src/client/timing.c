/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "timing.h"

#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "cleanup.h"
#include "osslctx.h"

static const char *const phase_names[TIMING_N_PHASES] = {
    [TIMING_TPM_SETUP] = "tpm_setup",
    [TIMING_TPM_QUOTE] = "tpm_quote",
    [TIMING_TPM_PCR_READ] = "tpm_pcr_read",
    [TIMING_TPM_ACTIVATE] = "tpm_activate",
    [TIMING_TPM_CLOSE] = "tpm_close",
    [TIMING_HTTP] = "http",
    [TIMING_HTTP_CONNECT] = "http_connect",
    [TIMING_UNWRAP] = "unwrap",
    [TIMING_LUKS_LOAD] = "luks_load",
    [TIMING_LUKS_SEARCH] = "luks_search",
    [TIMING_LUKS_SEARCH_CPU] = "luks_search_cpu",
    [TIMING_LUKS_VERIFY] = "luks_verify",
};

/* Only the main thread records: plain counters. */
static uint64_t t_start;
static bool t_print;
static uint64_t phase_us[TIMING_N_PHASES];
static unsigned n_http;

uint64_t timing_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void timing_start(bool print)
{
    if (!t_start)
        t_start = timing_now_us();
    t_print = t_print || print;
}

void timing_add_us(timing_phase p, uint64_t us)
{
    if ((unsigned)p < TIMING_N_PHASES)
        phase_us[p] += us;
    if (p == TIMING_HTTP)
        n_http++;
}

void timing_add(timing_phase p, uint64_t start_us)
{
    uint64_t now = timing_now_us();
    timing_add_us(p, now > start_us ? now - start_us : 0);
}

void timing_print(int exit_code)
{
    uint64_t total = timing_now_us() - t_start, in_phases = 0, cpu = 0;
    struct rusage ru;

    if (!t_print)
        return;
    /* CPU time of the whole process (user + system), load-independent. */
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
              (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    fprintf(stderr, "{\"bootgate_timing\":1,\"exit\":%d,\"total_us\":%llu", exit_code,
            (unsigned long long)total);
    for (size_t i = 0; i < ELEMENTSOF(phase_names); i++) {
        fprintf(stderr, ",\"%s_us\":%llu", phase_names[i], (unsigned long long)phase_us[i]);
        /* http_connect is part of http, the volume search thread's time
         * overlaps the TPM setup: neither is a phase of its own */
        if (i != TIMING_HTTP_CONNECT && i != TIMING_LUKS_SEARCH && i != TIMING_LUKS_SEARCH_CPU)
            in_phases += phase_us[i];
    }
    fprintf(
        stderr,
        ",\"http_requests\":%u,\"other_us\":%llu,\"cpu_us\":%llu,\"esys_ossl_ctx_shared\":%u}\n",
        n_http, (unsigned long long)(total > in_phases ? total - in_phases : 0),
        (unsigned long long)cpu, osslctx_shared_uses());
}
