/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Per-phase wall time of one bootgate-unlock run (CLOCK_MONOTONIC, µs), for
 * bench/client. The hooks only add durations to process-wide counters; with
 * --timing, timing_print() writes one JSON line of durations to stderr at the
 * end. Nothing but durations and counts is ever recorded (no keys, no nonces). */

#include <stdbool.h>
#include <stdint.h>

typedef enum timing_phase {
    TIMING_TPM_SETUP,       /* TCTI connect, GetCapability, EK + AK CreatePrimary, AK ReadPublic */
    TIMING_TPM_QUOTE,       /* TPM2_Quote (every try) */
    TIMING_TPM_PCR_READ,    /* TPM2_PCR_Read after each quote */
    TIMING_TPM_ACTIVATE,    /* StartAuthSession + PolicySecret + ActivateCredential + flush */
    TIMING_TPM_CLOSE,       /* FlushContext of AK/EK, TCTI close */
    TIMING_HTTP,            /* POSTs to bootgated, client side: TLS, transfer, server time */
    TIMING_HTTP_CONNECT,    /* of which TCP connect + TLS handshake (libcurl appconnect) */
    TIMING_UNWRAP,          /* HKDF + AES-256-GCM unwrap of the released key */
    TIMING_LUKS_LOAD,       /* waiting for the volume search (crypt_init + crypt_load + token
                             * read on its own thread, side by side with TPM setup) */
    TIMING_LUKS_SEARCH,     /* how long that thread worked: not a phase of the main thread */
    TIMING_LUKS_SEARCH_CPU, /* of which on a CPU */
    TIMING_LUKS_VERIFY,     /* crypt_volume_key_verify (or activation) */
    TIMING_N_PHASES,
} timing_phase;

/* Starts the run's clock (first thing in main); --timing sets print. */
void timing_start(bool print);
uint64_t timing_now_us(void);
/* Adds timing_now_us() - start_us to the phase. */
void timing_add(timing_phase p, uint64_t start_us);
/* Adds a duration measured elsewhere (e.g. libcurl's own clock). */
void timing_add_us(timing_phase p, uint64_t us);
/* With --timing: {"bootgate_timing":1,"exit":N,"total_us":...,"<phase>_us":...,
 * "http_requests":N,"other_us":...,"cpu_us":...} on stderr; other_us is the time in
 * no phase, cpu_us the process's user + system CPU time so far. http_connect_us,
 * luks_search_us and luks_search_cpu_us are parts of, or overlap, other
 * phases: not in the sum. */
void timing_print(int exit_code);
