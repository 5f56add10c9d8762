/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer harness for the UEFI event log: parse, replay every bank the log
 * declares, describe every event. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "eventlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eventlog *log = NULL;
    bg_err err = {0};
    char desc[512];

    if (eventlog_parse(data, size, &log, &err) < 0)
        return 0;
    for (unsigned k = 0; k < log->n_banks; k++) {
        pcr_bank bank;
        (void)eventlog_replay(log, log->bank_algs[k], &bank, &err);
    }
    for (size_t i = 0; i < log->n_events; i++) {
        const eventlog_event *ev = &log->events[i];
        eventlog_event_describe(ev, desc, sizeof(desc));
        /* The description is always terminated within the buffer. */
        if (strnlen(desc, sizeof(desc)) >= sizeof(desc))
            __builtin_trap();
        (void)eventlog_type_name(ev->type);
        (void)eventlog_event_digest(ev, TPMALG_SHA256);
    }
    eventlog_free(log);
    return 0;
}
